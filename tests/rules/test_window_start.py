"""What the pass over a retention window owes to the records just before it (issue 14,
item 1, retention follow-up).

The digest reads the records from ``now - retention_days`` on. A stored inference
checkpoint made a week earlier started a week earlier: it saw records that have
since left the window. Dropping their rows is not enough to turn it into the pass
a full read makes now, because later records were classified in their light:
these tests pin the two cases found (a thread's "Re:" answered an aged-out mail;
a series' first occurrence aged out, so the next one initiates). Open threads
opened by an aged-out mail, by contrast, are dropped by their time alone. So a
checkpoint is not reused once a record leaves the window (worker/checkpoint.py)
until inference can re-classify the records those aged-out ones touched.
"""

from __future__ import annotations

from tests.rules.builders import ME, days_ago, mail, meeting, run

FIN = "fin@corp.example"


def _flags(result, person: str) -> list[tuple[bool, bool]]:
    counted = sorted(result.explain(person).counted, key=lambda i: i.at)
    return [(i.is_reply, i.initiated_by_me) for i in counted]


def test_a_re_answering_an_aged_out_mail_becomes_an_initiative() -> None:
    aged = mail(days_ago(30), FIN, (ME,), subject="Budget Q3")
    kept = mail(days_ago(20), ME, (FIN,), subject="Re: Budget Q3")
    assert _flags(run([], [aged, kept]), FIN)[-1] == (True, False)  # a reply
    assert _flags(run([], [kept]), FIN) == [(False, True)]  # the window alone: it initiates


def test_the_first_occurrence_left_in_the_window_initiates_the_series() -> None:
    series = [meeting(days_ago(d), FIN, series="weekly", uid=f"w{d}", recurring=True)
              for d in (35, 28, 21)]

    def initiated(result) -> list[bool]:
        return [i.initiated_by_me for i in sorted(result.explain(FIN).counted,
                                                   key=lambda i: i.at)]

    assert initiated(run(series, [])) == [True, False, False]
    assert initiated(run(series[1:], [])) == [True, False]  # was False with the first one
