"""What the pass over a retention window owes to the records just before it (issue 14,
item 1, retention follow-up).

The digest reads the records from ``now - retention_days`` on. A stored inference
checkpoint made a week earlier started a week earlier: it saw records that have
since left the window. Dropping their rows is not enough to turn it into the pass
a full read makes now, because later records were classified in their light:
the first two tests pin the two cases (a thread's "Re:" answered an aged-out mail;
a series' first occurrence aged out, so the next one initiates). Open threads
opened by an aged-out mail, by contrast, are dropped by their time alone. Every
such dependency is listed in rules/rebase.py, which re-bases the checkpoint past
the aged-out records; the last two tests resume both pinned cases from a
re-based checkpoint, without a full read, and get the full pass's flags.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import pytest
from peerpulse.rules import rebase as rebase_module
from peerpulse.rules.engine import compute, rebase_checkpoint
from peerpulse.rules.rebase import Refused

from tests.rules.builders import ME, NOW, days_ago, mail, meeting, run
from tests.rules.test_rebase import RULES, Store, inputs

FIN = "fin@corp.example"
HR = "hr@corp.example"


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


def _resumed_after_rebase(events: list, messages: list, before: datetime, since: datetime):
    """A checkpoint at ``NOW - 5 days`` made over the window from ``before``, re-based to
    the window from ``since``, resumed at ``NOW``; and the full pass from ``since``."""
    store = Store(events, messages)
    horizon = (NOW - timedelta(days=5)).timestamp()
    inf = float("inf")
    old = before.timestamp()
    kept = compute(inputs(NOW - timedelta(days=2), store.ev(old, -inf, horizon),
                          store.msg(old, -inf, horizon), checkpoint=True), RULES).checkpoint
    new = since.timestamp()
    end = (new // 86400 + 1) * 86400
    state = rebase_checkpoint(
        inputs(NOW, store.ev(new, -inf, end), store.msg(new, -inf, end), resume=kept),
        RULES, since, store.source(new, horizon))
    resumed = compute(inputs(NOW, store.ev(new, horizon, inf), store.msg(new, horizon, inf),
                             resume=state, collect_interactions=False), RULES)
    full = compute(inputs(NOW, store.ev(new, -inf, inf), store.msg(new, -inf, inf)), RULES)
    return resumed, full


def test_the_re_is_an_initiative_after_a_rebase_too() -> None:
    """The owner's "Re:" now starts a thread, answered by Finley the same day (the
    re-base reads that day again: it knows the thread is closed)."""
    aged = mail(days_ago(30), FIN, (ME,), subject="Budget Q3")
    kept = mail(days_ago(20), ME, (FIN,), subject="Re: Budget Q3")
    answer = mail(days_ago(20, 1), FIN, (ME,), subject="Re: Budget Q3")
    resumed, full = _resumed_after_rebase([], [aged, kept, answer], days_ago(40), days_ago(25))
    assert full.views[FIN].score.initiated_by_me == 1
    assert full.views[FIN].mine_unanswered == 0
    assert resumed.views[FIN].score == full.views[FIN].score
    assert resumed.views[FIN].mine_unanswered == 0
    assert resumed.digest == full.digest


def test_the_re_that_starts_a_thread_left_open_is_refused() -> None:
    """Unanswered that day, the owner's thread the "Re:" now starts is open until a
    reply the re-base does not read (the old pass never opened it): refused, and the
    digest reads everything, rather than guess whether Finley answered it."""
    aged = mail(days_ago(30), FIN, (ME,), subject="Budget Q3")
    kept = mail(days_ago(20), ME, (FIN,), subject="Re: Budget Q3")
    later = mail(days_ago(10), FIN, (ME,), subject="Re: Budget Q3")  # closes it: not read
    with pytest.raises(Refused, match="the owner's"):
        _resumed_after_rebase([], [aged, kept, later], days_ago(40), days_ago(25))


def test_the_next_occurrence_initiates_after_a_rebase_too() -> None:
    series = [meeting(days_ago(d), FIN, series="weekly", uid=f"w{d}", recurring=True)
              for d in (35, 28, 21)]
    resumed, full = _resumed_after_rebase(series, [], days_ago(40), days_ago(30))
    assert full.views[FIN].score.initiated_by_me == 1
    assert resumed.views[FIN].score == full.views[FIN].score
    assert resumed.digest == full.digest


def test_a_reclassified_day_infers_only_the_records_naming_the_changed_peers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The "Re:" that stops being a reply is re-read with the other mail of its peer that
    day (their rows of the day are put back whole); mail of that day with someone else
    is not inferred again, and the digest is the full pass's all the same."""
    aged = mail(days_ago(30), FIN, (ME,), subject="Budget Q3")
    flipped = mail(days_ago(20, 10), ME, (FIN,), subject="Re: Budget Q3")
    answer = mail(days_ago(20, 11), FIN, (ME,), subject="Re: Budget Q3")  # closes it
    same_peer = mail(days_ago(20, 12), FIN, (ME,), subject="Lunch?")
    others = [mail(days_ago(20, h), HR, (ME,), subject=f"Hiring {h}") for h in (9, 11, 13)]
    others.append(mail(days_ago(20, 14), ME, (HR,), subject="Re: Hiring 9"))
    inferred: list[str] = []
    real = rebase_module.infer_messages

    def spy(messages, *args, **kwargs):
        if sys._getframe(1).f_code.co_name == "_reclassify":  # not the head, not the pass
            messages = list(messages)
            inferred.extend(m.source_id for m in messages)
        return real(messages, *args, **kwargs)

    monkeypatch.setattr(rebase_module, "infer_messages", spy)
    messages = sorted([aged, flipped, answer, same_peer, *others], key=lambda m: m.timestamp)
    resumed, full = _resumed_after_rebase([], messages, days_ago(40), days_ago(25))
    assert set(inferred) == {flipped.source_id, answer.source_id, same_peer.source_id}
    fin = full.views[FIN].score
    assert (fin.initiated_by_me, fin.initiated_by_them) == (1, 1)  # the Re:, the lunch
    assert resumed.views[FIN].score == full.views[FIN].score
    assert resumed.views[HR].score == full.views[HR].score
    assert resumed.digest == full.digest


def test_a_thread_the_head_opens_and_a_later_reply_closed_is_re_based() -> None:
    """The window's new start inside the reciprocity window: a peer's mail on the new
    start's day asks, and the owner's later "Re:" closed it, so the checkpoint does not
    hold it. It opened in the old pass too (it was no reply there), so the same reply
    closes it in the new pass: re-based, not refused, and the digest is the full one."""
    older = mail(days_ago(35), FIN, (ME,), subject="Budget")  # leaves the window
    asks = mail(days_ago(25, 12), FIN, (ME,), subject="Offsite plans")
    answer = mail(days_ago(20), ME, (FIN,), subject="Re: Offsite plans")
    resumed, full = _resumed_after_rebase([], [older, asks, answer], days_ago(40),
                                          days_ago(25))
    assert full.views[FIN].unanswered == 0
    assert resumed.views[FIN].unanswered == 0
    assert resumed.views[FIN].score == full.views[FIN].score
    assert resumed.digest == full.digest


def test_a_head_mail_that_stopped_being_a_reply_and_asks_is_still_refused() -> None:
    """The same mail, but a "Re:" that answered an aged-out one: the old pass opened no
    thread for it, so whether the owner's later mail closes it is unknown: refused."""
    older = mail(days_ago(35), FIN, (ME,), subject="Offsite plans")  # leaves the window
    asks = mail(days_ago(25, 12), FIN, (ME,), subject="Re: Offsite plans")
    answer = mail(days_ago(20), ME, (FIN,), subject="Re: Offsite plans")
    with pytest.raises(Refused, match="stopped being a reply"):
        _resumed_after_rebase([], [older, asks, answer], days_ago(40), days_ago(25))
