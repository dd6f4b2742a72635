"""Tie strength, cadence, reciprocity and coverage: the arithmetic behind the advice."""

from __future__ import annotations

import dataclasses

import pytest
from peerpulse.connectors.records import Person
from peerpulse.rules.cadence import cadence_for, days_overdue
from peerpulse.rules.coverage import trend
from peerpulse.rules.loader import load_rules
from peerpulse.rules.reciprocity import balance
from peerpulse.rules.scoring import decay, tie_strength

from tests.rules.builders import ME, NOW, days_ago, mail, meeting, run

RULES = load_rules([])
FIN = "fin@corp.example"
HR = "hr@corp.example"
NOW_TS = NOW.timestamp()
DAY = 86400.0


@pytest.mark.parametrize(
    ("age", "half_life", "expected"),
    [(0, 90, 1.0), (90, 90, 0.5), (180, 90, 0.25), (45, 90, 0.5 ** 0.5), (-3, 90, 1.0),
     (30, 30, 0.5)],
)
def test_decay_halves_every_half_life(age: float, half_life: float, expected: float) -> None:
    assert decay(age, half_life) == pytest.approx(expected)


def test_tie_strength_is_the_interactions_rank() -> None:
    rows = [
        (NOW_TS - 90 * DAY, "one_on_one", 3.0, "a", True, False, False),  # mine: x1.5, half
        (NOW_TS, "mail_received", 0.5, "b", False, True, False),
    ]
    assert tie_strength(rows, NOW_TS, RULES) == pytest.approx(3.0 * 1.5 * 0.5 + 0.5)


def test_shorter_half_life_forgets_faster() -> None:
    rows = [(NOW_TS - 60 * DAY, "lunch", 4.0, "a", False, False, False)]
    fast = load_rules([("r.toml", "[tie_strength]\nhalf_life_days = 30\n")])
    assert tie_strength(rows, NOW_TS, fast) == pytest.approx(1.0)
    assert tie_strength(rows, NOW_TS, RULES) > 1.0


@pytest.mark.parametrize(
    ("person", "team_size", "days", "source"),
    [
        (Person("a@x.example", department="Sales", title="Manager"), None, 60, "default"),
        (Person("a@x.example", department="Finance", title="Manager"), None, 30,
         "key function Finance"),
        (Person("a@x.example", department="HR", title="Manager"), None, 30, "key function HR"),
        (Person("a@x.example", department="Sales", title="VP Sales"), None, 45, "default"),
        (Person("a@x.example", department="Sales", title="Manager"), 40, 45, "default"),
        (Person("a@x.example", department="Finance", title="Director"), None, 22,
         "key function Finance"),
        # Enron: a division's "President & CEO" and a "Mng Dir Trading" matched no
        # influential title, so their cadence was a Manager's
        (Person("a@x.example", department="EWS", title="ENA President & CEO"), None, 45,
         "default"),
        (Person("a@x.example", department="ENA Gas West", title="Mng Dir Trading"), None, 45,
         "default"),
        (Person("a@x.example", department="Ops", title="Coordinator"), None, 60, "default"),
    ],
)
def test_cadence_per_group_key_function_and_influence(
    person: Person, team_size: int | None, days: int, source: str
) -> None:
    cadence = cadence_for(person, team_size, RULES)
    assert (cadence.days, cadence.source) == (days, source)


def test_cadence_group_from_user_rules_wins_when_tighter() -> None:
    rules = load_rules([("r.toml", '[cadence]\ngroups = [{ name = "Sales", '
                                   'departments = ["sales*"], days = 21 }]\n')])
    cadence = cadence_for(Person("a@x.example", department="Sales EMEA"), None, rules)
    assert (cadence.days, cadence.source) == (21, "group Sales")


@pytest.mark.parametrize(("since", "cadence", "overdue"),
                         [(74, 30, 44), (10, 30, -20), (None, 30, None), (30, 30, 0)])
def test_days_overdue(since: int | None, cadence: int, overdue: int | None) -> None:
    assert days_overdue(since, cadence) == overdue


@pytest.mark.parametrize(
    ("mine", "theirs", "expected"),
    [(0, 3, "you_owe"), (1, 6, "you_owe"), (2, 4, None), (5, 0, "owes_you"), (4, 4, None),
     (0, 2, None), (3, 6, "you_owe"), (4, 6, None)],
)
def test_reciprocity_balance(mine: int, theirs: int, expected: str | None) -> None:
    assert balance(mine, theirs, RULES) == expected


def test_reciprocity_counts_organizing_and_first_messages() -> None:
    events = [meeting(days_ago(d), FIN, organizer=FIN) for d in (5, 12, 19, 26)]
    messages = [mail(days_ago(3), FIN, (ME,)), mail(days_ago(4), FIN, (ME,), reply=True),
                mail(days_ago(6), ME, (FIN,))]
    result = run(events, messages)
    view = result.views[FIN]
    assert (view.score.initiated_by_me, view.score.initiated_by_them) == (1, 5)
    entry = result.digest.reciprocity[0]
    assert (entry.person.email, entry.direction) == (FIN, "you_owe")
    assert (entry.initiated_by_me, entry.initiated_by_them) == (1, 5)
    assert entry.person.reasons[0] == (
        "In 180 days Finley Fin started 1 thread and 4 meetings, you 1 thread")


def test_a_standing_weekly_one_on_one_is_initiated_once_by_its_organizer() -> None:
    # 27 weekly occurrences of Fin's 1:1, listed newest first: one initiative, not 27.
    series = [meeting(days_ago(3 + 7 * w), FIN, organizer=FIN, series="fin-1on1",
                      uid=f"fin-1on1@{w}", recurring=True) for w in range(25)]
    messages = [mail(days_ago(10), ME, (FIN,))]
    result = run(series, messages)
    view = result.views[FIN]
    assert (view.score.initiated_by_me, view.score.initiated_by_them) == (1, 1)
    # every occurrence is still a meeting (view.rows holds only the newest rows)
    assert view.score.interactions == 26 and view.score.kinds["one_on_one"] == 25
    assert len(result.counted(FIN)) == 26
    assert result.digest.reciprocity == ()


def test_you_owe_names_the_threads_still_unanswered() -> None:
    """Issue 9, item 3: "reply to her 5 unanswered threads". A thread is answered by the
    owner's reply naming it (In-Reply-To/References) or, in exports without those
    headers, by a 'Re:' of its subject to the same peer."""
    threads = [mail(days_ago(d), FIN, (ME,), subject=f"Question {d}", mid=f"q{d}@corp.example")
               for d in (3, 9, 15, 21, 27)]
    own = [mail(days_ago(30), ME, (FIN,))]
    by_header = mail(days_ago(20), ME, (FIN,), subject=None,  # subjects off: headers only
                     references=("q21@corp.example",))
    by_subject = mail(days_ago(8), ME, (FIN,), subject="RE: question 9")
    to_someone_else = mail(days_ago(2), ME, (HR,), subject="Re: Question 3")
    result = run([], threads + own + [by_header, by_subject, to_someone_else])
    (fin,) = [r for r in result.digest.reciprocity if r.person.email == FIN]
    assert (fin.initiated_by_me, fin.initiated_by_them) == (1, 5)
    assert fin.action == "reply to Finley's two latest threads, of 23 Nov and 11 Nov (3 unanswered)"
    answers = [mail(days_ago(d - 1), ME, (FIN,), subject=f"Re: Question {d}")
               for d in (3, 15, 27)]
    result = run([], threads + own + [by_header, by_subject] + answers)
    (fin,) = [r for r in result.digest.reciprocity if r.person.email == FIN]
    assert fin.action == "start the next thread with Finley"


def test_a_re_without_headers_answers_one_thread_not_every_one_with_that_subject() -> None:
    same = [mail(days_ago(d), FIN, (ME,), subject="Budget") for d in (30, 20, 10, 5)]
    result = run([], same + [mail(days_ago(4), ME, (FIN,), subject="Re: Budget")])
    (fin,) = result.digest.reciprocity
    assert fin.action == "reply to Finley's two latest threads, of 16 Nov and 6 Nov (3 unanswered)"


def test_reciprocity_shows_both_directions_and_a_concrete_action() -> None:
    threads = [mail(days_ago(d), FIN, (ME,), subject=f"Question {d}") for d in (3, 9, 15, 21, 27)]
    proposals = [meeting(days_ago(d), HR, organizer=HR) for d in (5, 12, 19, 26)]
    result = run(proposals, threads + [mail(days_ago(30), ME, (FIN,))])
    by_email = {r.person.email: r for r in result.digest.reciprocity}
    fin, hr = by_email[FIN], by_email[HR]
    assert fin.person.reasons[0].endswith("started 5 threads, you 1 thread")
    assert fin.action == "reply to Finley's two latest threads, of 23 Nov and 17 Nov (5 unanswered)"
    assert hr.action == "invite Harper next"
    assert hr.person.reasons[0].endswith("started 4 meetings, you none")
    # relative to volume: 4 of 4 ranks above 5 of 6
    assert [r.person.email for r in result.digest.reciprocity][:2] == [HR, FIN]


@pytest.mark.parametrize(
    ("w4", "w13", "w26", "expected"),
    [(0, 0, 5, "dark"), (0, 0, 0, "dark"), (8, 12, 30, "up"), (1, 6, 23, "down"),
     (4, 10, 26, "flat"), (2, 2, 2, "up"), (0, 3, 10, "down")],
)
def test_coverage_trend(w4: float, w13: float, w26: float, expected: str) -> None:
    assert trend(w4, w13, w26, RULES) == expected


def test_coverage_reports_departments_gone_quiet_with_key_functions_first() -> None:
    events = [meeting(days_ago(d), "sales@corp.example") for d in (60, 70, 80, 100)]
    events += [meeting(days_ago(d), FIN) for d in (100, 120)]
    events += [meeting(days_ago(d), "ops@corp.example") for d in (3, 10, 50, 60)]
    result = run(events)
    quiet = [(c.department, c.trend, c.key_function) for c in result.digest.coverage]
    assert quiet[0] == ("Finance", "dark", True)
    assert ("Sales", "down", False) in quiet  # quiet for 8 weeks, not yet dark
    assert all(c.department != "Operations" for c in result.digest.coverage)
    table = {c.department: c for c in result.coverage}
    assert table["Operations"].weeks_4 == pytest.approx(6.0)
    assert table["Operations"].weeks_26 == pytest.approx(12.0)


def test_a_department_with_a_meeting_already_on_the_calendar_is_covered() -> None:
    """Issue 9, item 8: Finance went dark, but a 1:1 with Finley is booked for next
    week; the digest must not ask for what is already scheduled."""
    events = [meeting(days_ago(d), "sales@corp.example") for d in (60, 70, 80, 100)]
    events += [meeting(days_ago(d), FIN) for d in (100, 120)]
    quiet = {c.department for c in run(events).digest.coverage}
    assert "Finance" in quiet
    booked = run([*events, meeting(days_ago(-5), FIN)]).digest.coverage
    assert "Finance" not in {c.department for c in booked}
    assert "Sales" in {c.department for c in booked}


def test_many_open_threads_are_a_bounded_to_do_the_latest_two_by_day() -> None:
    """Seen on Enron: "answer Lynn's latest threads (96 unanswered)" is no step anyone
    takes this week; the two latest open threads, by day, are. Nine open of twelve
    (a quarter answered) is still a debt."""
    threads = [mail(days_ago(d), FIN, (ME,), subject=f"Question {d}") for d in range(2, 38, 3)]
    answers = [mail(days_ago(d - 1), ME, (FIN,), subject=f"Re: Question {d}") for d in (8, 17, 26)]
    result = run([], threads + answers + [mail(days_ago(45), ME, (FIN,))])
    (fin,) = [r for r in result.digest.reciprocity if r.person.email == FIN]
    assert (fin.initiated_by_me, fin.initiated_by_them) == (1, 12)
    assert fin.action == "reply to Finley's two latest threads, of 24 Nov and 21 Nov (9 unanswered)"


@pytest.mark.parametrize(
    ("days", "answered", "action"),
    [
        ((3,), (), "reply to Finley's unanswered thread of 23 Nov"),
        ((3, 9), (), "reply to Finley's 2 unanswered threads, of 23 Nov and 17 Nov"),
        ((3, 9, 15, 21, 27), (), "reply to Finley's two latest threads, of 23 Nov and 17 Nov "
                                 "(5 unanswered)"),
        # eight threads, two answered: a quarter answered is a debt, not a newsletter
        ((3, 9, 15, 21, 27, 33, 39, 45), (3, 15),
         "reply to Finley's two latest threads, of 17 Nov and 5 Nov (6 unanswered)"),
        ((3, 3.2, 9), (), "reply to Finley's two latest threads, both of 23 Nov (3 unanswered)"),
        # Enron, Louise Kitchen in December: "reply to John's threads of 27 Jun" comes
        # too late; past [reciprocity] reply_within_days the step is to write first
        ((40,), (), "write to Finley first: Finley's unanswered thread is from 17 Oct"),
        ((40, 50, 60), (), "write to Finley first: the latest of Finley's 3 unanswered "
                           "threads is from 17 Oct"),
        # only the recent ones are named: a July thread beside a November one is no reply
        ((3, 40, 50), (), "reply to Finley's latest thread, of 23 Nov (3 unanswered)"),
    ],
)
def test_a_peer_waiting_for_answers_is_owed_one(
    days: tuple[int, ...], answered: tuple[int, ...], action: str
) -> None:
    """The basic debt stays: a few threads never (or seldom) answered, "you owe Finley
    one", and the step names the latest one or two open threads by day."""
    threads = [mail(days_ago(d), FIN, (ME,), subject=f"Question {d}") for d in days]
    answers = [mail(days_ago(d - 0.5), ME, (FIN,), subject=f"Re: Question {d}") for d in answered]
    rules = load_rules([("r.toml", "[reciprocity]\nmin_difference = 1\n")])
    result = run([], threads + answers, rules=rules)
    (fin,) = [r for r in result.digest.reciprocity if r.person.email == FIN]
    assert fin.direction == "you_owe"
    assert fin.action == action


def _status_stream() -> list:
    """Shaped like Enron's Jeff Dasovich to Steven Kean: 150 status threads in 180 days
    to the owner and two colleagues ("AB 81 passes fiscal cmte"), two of them
    answered; 16 threads the owner started."""
    stream = [mail(days_ago(1 + 1.19 * i), FIN, (ME, HR, "ops@corp.example"),
                   subject=f"Status {i}") for i in range(150)]
    answers = [mail(days_ago(1.19 * i), ME, (FIN,), subject=f"Re: Status {i}") for i in (4, 90)]
    own = [mail(days_ago(5 + 10 * i), ME, (FIN,), subject=f"Ask {i}") for i in range(16)]
    return stream + answers + own


def test_a_stream_of_status_mail_is_no_debt_either_way() -> None:
    """Enron, Steven Kean: "You owe Jeff one: Jeff started 150, you 16. Answer Jeff's
    latest threads (148 unanswered)". Threads the owner answers 1 in 75 keep them
    informed; they are no favours owed, and the 16 the owner started do not make the
    sender owe them one either. ``explain`` says why."""
    result = run([], _status_stream())
    view = result.views[FIN]
    assert (view.score.initiated_by_me, view.score.initiated_by_them) == (16, 150)
    assert view.unanswered == 148
    assert FIN not in {r.person.email for r in result.digest.reciprocity}
    assert result.informing() == [FIN]  # what `rules check` lists
    why = str(result.explain(FIN))
    assert "reciprocity: they keep you informed, no debt either way" in why
    assert "they initiated 150 (150 threads, 2 answered by you), you 16; 1% answered" in why


def test_how_many_threads_make_a_stream_is_a_rule() -> None:
    """``[reciprocity] informing_min_threads`` / ``informing_max_answered`` decide; set
    out of reach, the stream is counted as a debt again, and explain says so."""
    rules = load_rules([("r.toml", "[reciprocity]\ninforming_min_threads = 200\n")])
    result = run([], _status_stream(), rules=rules)
    (fin,) = [r for r in result.digest.reciprocity if r.person.email == FIN]
    assert fin.direction == "you_owe"
    assert "(148 unanswered)" in fin.action
    assert "reciprocity: you owe them one" in str(result.explain(FIN))
    share = load_rules([("r.toml", "[reciprocity]\ninforming_max_answered = 0.0\n")])
    owed = run([], _status_stream(), rules=share).digest.reciprocity
    assert FIN in {r.person.email for r in owed}  # two answered: above a share of 0


def _owners_stream(answered: tuple[int, ...] = (3, 7)) -> list:
    """Shaped like Enron's Kimberly Watson to Paul: 43 weekly reports in 180 days from
    the owner to one peer, who answers two (one by In-Reply-To, one by a "Re:" alone)
    and starts 7 threads of their own, all answered."""
    own = [mail(days_ago(2 + 4 * i), ME, (FIN,), subject=f"Weekly report {i}",
                mid=f"report-{i}@corp.example") for i in range(43)]
    replies = []
    for k, i in enumerate(answered):
        reply = mail(days_ago(1.5 + 4 * i), FIN, (ME,), subject=f"Re: Weekly report {i}")
        if k % 2 == 0:  # by its header; the other ones by their subject alone
            reply = dataclasses.replace(reply, in_reply_to=f"report-{i}@corp.example")
        replies.append(reply)
    theirs = [mail(days_ago(3 + 20 * i), FIN, (ME,), subject=f"Question {i}") for i in range(7)]
    answers = [mail(days_ago(2.8 + 20 * i), ME, (FIN,), subject=f"Re: Question {i}")
               for i in range(7)]
    return own + replies + theirs + answers


NO_FEEDBACK = "[feedback]\ncount = 0\n"  # Finley not also a feedback ask (no "owes you")


def test_the_owners_stream_is_no_debt_owed_to_the_owner() -> None:
    """Enron, Kimberly Watson: "Paul owes you one: you started 43, Paul 7. Let Paul make
    the next move". Weekly reports expect no answer; the peer answering 2 of 43 owes
    the owner nothing for them. ``explain`` says why, ``rules check`` lists the peer."""
    result = run([], _owners_stream(), rules=load_rules([("r.toml", NO_FEEDBACK)]))
    view = result.views[FIN]
    assert (view.score.initiated_by_me, view.score.initiated_by_them) == (43, 7)
    assert (view.mine_unanswered, view.unanswered) == (41, 0)
    assert FIN not in {r.person.email for r in result.digest.reciprocity}
    assert result.informed() == [FIN]
    assert result.informing() == []
    why = str(result.explain(FIN))
    assert "reciprocity: you keep them informed, they owe you nothing" in why
    assert "you 43 (43 threads, 41 unanswered by them); 5% of yours answered is a stream" in why
    # the same mail with the stream thresholds out of reach: the entry this removes
    rules = load_rules([("r.toml", NO_FEEDBACK + "[reciprocity]\ninforming_min_threads = 100\n")])
    (fin,) = [r for r in run([], _owners_stream(), rules=rules).digest.reciprocity
              if r.person.email == FIN]
    assert fin.direction == "owes_you"


@pytest.mark.parametrize("answered", [(3, 7, 11, 15, 19), tuple(range(0, 43, 3))])
def test_a_peer_who_answers_your_threads_still_owes_you_one(answered: tuple[int, ...]) -> None:
    """Answered more than [reciprocity] informing_max_answered of the time, the owner's
    threads asked, and the debt stays ("not a stream" in ``explain``)."""
    result = run([], _owners_stream(answered), rules=load_rules([("r.toml", NO_FEEDBACK)]))
    (fin,) = [r for r in result.digest.reciprocity if r.person.email == FIN]
    assert fin.direction == "owes_you"
    assert result.informed() == []
    assert f"{43 - len(answered)} unanswered by them" in str(result.explain(FIN))
    assert "of yours answered is not a stream" in str(result.explain(FIN))


@pytest.mark.parametrize("replies", [0, 2])
def test_a_few_threads_never_returned_are_still_owed(replies: int) -> None:
    """The basic case stays: five threads started, none by the peer, answered or not
    (too few to be a stream)."""
    own = [mail(days_ago(3 + 7 * i), ME, (FIN,), subject=f"Lunch {i}") for i in range(5)]
    own += [mail(days_ago(2 + 7 * i), FIN, (ME,), subject=f"Re: Lunch {i}")
            for i in range(replies)]
    result = run([], own, rules=load_rules([("r.toml", NO_FEEDBACK)]))
    (fin,) = [r for r in result.digest.reciprocity if r.person.email == FIN]
    assert fin.direction == "owes_you"
    assert result.views[FIN].mine_unanswered == 5 - replies


def test_threads_without_a_subject_are_no_signal_of_a_stream() -> None:
    """Enron, Jeffrey Shankman to Greg Whalley: 19 threads with no subject in an export
    without reply headers. Nothing could show an answer to them, so they are not a
    stream: "Greg owes you one" stays."""
    own = [mail(days_ago(2 + 4 * i), ME, (FIN,), subject="") for i in range(19)]
    theirs = [mail(days_ago(3 + 20 * i), FIN, (ME,), subject=f"Question {i}") for i in range(3)]
    result = run([], own + theirs, rules=load_rules([("r.toml", NO_FEEDBACK)]))
    (fin,) = [r for r in result.digest.reciprocity if r.person.email == FIN]
    assert fin.direction == "owes_you"
    assert result.views[FIN].mine_unanswered == 0


def test_when_they_owe_you_their_recent_open_thread_still_comes_first() -> None:
    """The demo's Mia Ortiz: "Mia owes you one ... Let Mia make the next move" while a
    thread of hers from ten days ago waited on the owner. The balance stays theirs to
    restore; the step answers the open thread first. An old open thread does not."""
    rules = load_rules([("r.toml", "[feedback]\ncount = 0\n")])  # not also a feedback ask
    own = [mail(days_ago(d), ME, (FIN,), subject=f"Ask {d}") for d in range(5, 60, 6)]
    # Finley answers two of the ten: asks, not the owner's stream (see below)
    own += [mail(days_ago(d - 0.5), FIN, (ME,), subject=f"Re: Ask {d}") for d in (17, 29)]
    theirs = [mail(days_ago(10), FIN, (ME,), subject="Question")]
    result = run([], own + theirs, rules=rules)
    (fin,) = [r for r in result.digest.reciprocity if r.person.email == FIN]
    assert fin.direction == "owes_you"
    assert fin.action == ("reply to Finley's open thread of 16 Nov, "
                          "then let Finley make the next move")
    old = [mail(days_ago(50), FIN, (ME,), subject="Question")]
    result = run([], own + old, rules=rules)
    (fin,) = [r for r in result.digest.reciprocity if r.person.email == FIN]
    assert fin.action == "let Finley make the next move"
