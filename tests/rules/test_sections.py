"""The digest's sections: rotation, slots, celebrate, feedback, invitations, the schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from peerpulse.connectors.records import Person
from peerpulse.rules.loader import load_rules
from peerpulse.rules.slots import free_slots

from tests.rules.builders import ME, NOW, PEERS, PEOPLE, days_ago, mail, meeting, run

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "digest.schema.json").read_text())
FIN, HR, SALES, OPS, MKT = PEERS


def _week(period: str, weeks: int) -> str:
    year, week = period.split("-W")
    monday = datetime.fromisocalendar(int(year), int(week), 1) + timedelta(weeks=weeks)
    y, w, _ = monday.isocalendar()
    return f"{y}-W{w:02d}"


def test_peer_of_the_week_never_repeats_within_the_rotation_window() -> None:
    rules = load_rules([("r.toml", "[recommend]\nrotation_weeks = 3\n")])
    history: list[tuple[str, str]] = []
    picks = []
    for n in range(10):
        period = _week("2026-W40", n)
        now = datetime.fromisocalendar(int(period[:4]), int(period[-2:]), 1).replace(tzinfo=UTC)
        result = run([], [], rules=rules, now=now, period=period,
                     history={"peer_of_the_week": list(history)})
        pick = result.digest.peer_of_the_week
        assert pick is not None
        picks.append(pick.person.email)
        history.append((period, pick.person.email))
    for i, email in enumerate(picks):
        assert email not in picks[max(0, i - 2):i], picks
    assert len(set(picks)) == 5  # every peer gets a turn


def test_same_period_recomputed_keeps_its_pick() -> None:
    first = run().digest.peer_of_the_week
    assert first is not None
    again = run(history={"peer_of_the_week": [("2026-W48", first.person.email)]})
    assert again.digest.peer_of_the_week.person.email == first.person.email  # type: ignore[union-attr]


def test_peer_of_the_week_favours_never_met_and_overdue_over_recent() -> None:
    events = [meeting(days_ago(3), p) for p in (FIN, HR, SALES, MKT)]
    events.append(meeting(days_ago(200), OPS))  # long overdue, but met
    pick = run(events).digest.peer_of_the_week
    assert pick is not None and pick.person.email == OPS
    assert "days ago" in pick.person.reasons[0]
    fresh = run([meeting(days_ago(3), p) for p in (FIN, HR, SALES, OPS)])
    assert fresh.digest.peer_of_the_week.person.email == MKT  # type: ignore[union-attr]


def test_already_scheduled_and_snoozed_peers_stay_out_of_the_picks() -> None:
    rules = load_rules([("r.toml", f"""[recommend]
never = ["{HR}"]
snooze = [{{ email = "{SALES}", until = 2026-12-31 }}]
""")])
    events = [meeting(days_ago(d), p) for p in PEERS for d in (150, 160)]
    events.append(meeting(days_ago(-3), FIN, title="Coffee"))  # already on the calendar
    result = run(events, rules=rules)
    named = {e.email for e in result.digest.reconnect}
    if result.digest.peer_of_the_week:
        named.add(result.digest.peer_of_the_week.person.email)
    assert named == {OPS, MKT}
    assert result.views[FIN].upcoming == "2026-11-29"


def test_reconnect_ranks_overdue_peers_and_spreads_departments() -> None:
    people = PEOPLE + (
        Person("fin2@corp.example", "Fran Fin", department="Finance", title="Controller",
               manager="ceo@corp.example", manages_anyone=True),
    )
    rules = load_rules([("r.toml", "[recommend]\nmax_per_department = 1\n")])
    events = [meeting(days_ago(d), p) for p, d in
              [(FIN, 100), ("fin2@corp.example", 90), (SALES, 70), (OPS, 20), (HR, 5),
               (MKT, 200)]]
    digest = run(events, people=people, rules=rules).digest
    pick = digest.peer_of_the_week.person.email  # type: ignore[union-attr]
    order = [e.email for e in digest.reconnect]
    assert pick == MKT  # the most overdue
    assert order == [FIN, SALES]  # fin2 is left out: one per department
    assert digest.reconnect[0].reasons[0].startswith("Last 1:1 was 100 days ago; "
                                                     "your cadence with Finance is 30 days")
    assert digest.reconnect[0].days_overdue == 70
    assert digest.reconnect[0].evidence[0].kind == "one_on_one"


def test_slots_avoid_busy_events_across_a_dst_week() -> None:
    zone = ZoneInfo("America/New_York")
    # 2026-03-08 (Sunday) clocks go forward; the week holds both offsets
    monday = datetime(2026, 3, 2).date()
    busy = [
        (datetime(2026, 3, 7, 17, 0, tzinfo=UTC).timestamp(),  # Sat 12:00 EST
         datetime(2026, 3, 7, 18, 0, tzinfo=UTC).timestamp()),
        (datetime(2026, 3, 8, 16, 0, tzinfo=UTC).timestamp(),  # Sun 12:00 EDT
         datetime(2026, 3, 8, 17, 0, tzinfo=UTC).timestamp()),
    ]
    slots = free_slots(busy, monday, zone, (time(9), time(17)), (5, 6), 45, time(12), 2)
    # the free 45 minutes closest to noon, local wall-clock, on both sides of the switch
    assert [s.start for s in slots] == ["2026-03-07T11:15-05:00", "2026-03-08T11:15-04:00"]
    assert [s.end for s in slots] == ["2026-03-07T12:00-05:00", "2026-03-08T12:00-04:00"]
    free = free_slots([], monday, zone, (time(9), time(17)), (5, 6), 45, time(12), 2)
    assert [s.start for s in free] == ["2026-03-07T12:00-05:00", "2026-03-08T12:00-04:00"]


def test_peer_of_the_week_slots_come_from_my_busy_events_next_week() -> None:
    # next week is 2026-W49: Monday 2026-11-30, Berlin is UTC+1
    busy = meeting(datetime(2026, 11, 30, 10, 30, tzinfo=UTC), "r1@corp.example",
                   minutes=120, title="Planning")
    pick = run([busy]).digest.peer_of_the_week
    assert pick is not None and len(pick.slots) == 3
    assert pick.slots[0].start == "2026-11-30T10:45+01:00"  # busy 11:30-13:30 local
    assert pick.slots[1].start.startswith("2026-12-02T12:00")


def test_without_a_calendar_no_slots_are_proposed_and_the_digest_says_why() -> None:
    busy = meeting(datetime(2026, 11, 30, 10, 30, tzinfo=UTC), "r1@corp.example",
                   minutes=120, title="Planning")
    result = run([busy], has_calendar=False)
    pick = result.digest.peer_of_the_week
    assert pick is not None and pick.slots == ()
    assert result.digest.stats["calendar"] is False


@pytest.mark.parametrize(
    ("subject", "celebrated"),
    [("We shipped Atlas!", True), (None, False),
     ("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", False),
     ("Weekly numbers", False)],
)
def test_celebrate_uses_subjects_only_when_kept(subject: str | None, celebrated: bool) -> None:
    digest = run([], [mail(days_ago(2), OPS, (ME, *TEAM), subject=subject)]).digest
    assert bool(digest.celebrate) is celebrated
    if celebrated:
        assert digest.celebrate[0].person.email == OPS


TEAM = ("t1@corp.example", "t2@corp.example", "t3@corp.example")


@pytest.mark.parametrize(
    ("why", "message"),
    [
        ("congratulations sent to me are about me",
         mail(days_ago(2), OPS, (ME,), subject="Congrats on the launch!")),
        ("a welcome to my new hire, me in Cc, is about the hire",
         mail(days_ago(2), OPS, ("noah@corp.example",), cc=(ME,),
              subject="Welcome to the team, Noah!")),
        ("a welcome sent to many is still about the newcomer",
         mail(days_ago(2), OPS, (ME, *TEAM), subject="Welcome to the team, Noah!")),
        ("a 1:1 is not an announcement",
         mail(days_ago(2), OPS, (ME,), subject="We shipped Atlas!")),
        ("a reply is not an announcement",
         mail(days_ago(2), OPS, (ME, *TEAM), subject="We shipped Atlas!", reply=True)),
    ],
)
def test_celebrate_never_credits_the_sender_with_someone_elses_news(  # type: ignore[no-untyped-def]
    why: str, message
) -> None:
    assert run([], [message]).digest.celebrate == (), why


def test_celebrate_title_changes_of_peers() -> None:
    changes = [(FIN, "Finance Manager", "VP Finance", days_ago(2)),
               ("r1@corp.example", "Engineer", "Senior Engineer", days_ago(2))]
    digest = run(title_changes=changes).digest
    assert [(c.person.email, c.what) for c in digest.celebrate] == [
        (FIN, "title change: Finance Manager -> VP Finance")]


def _worked_with() -> list:
    return [mail(days_ago(d), ME, (p,)) for p in (FIN, HR, SALES) for d in (5, 9, 20, 40)]


def test_feedback_asks_the_peers_worked_with_most_once_per_quarter() -> None:
    digest = run([], _worked_with()).digest
    assert {e.email for e in digest.feedback} == {FIN, HR, SALES}
    asked = run([], _worked_with(), history={"feedback": [("2026-W41", FIN)]}).digest
    assert asked.feedback == ()  # already asked this quarter (W41 is in Q4)
    rerun = run([], _worked_with(), history={"feedback": [("2026-W48", FIN)]}).digest
    assert FIN in {e.email for e in rerun.feedback}  # the same digest, recomputed
    last_quarter = run([], _worked_with(), history={"feedback": [("2026-W30", FIN)]}).digest
    assert {e.email for e in last_quarter.feedback} == {HR, SALES}  # asked lately


def test_a_peer_to_reconnect_with_is_not_also_asked_for_feedback() -> None:
    """Seen on Enron: Richard Sanders was in reconnect ("12 days overdue") and in
    feedback of the same digest; one name, one ask, and the feedback slot goes on."""
    weekly_then_quiet = [mail(days_ago(d), ME, (OPS,)) for d in range(30, 91, 7)]
    result = run([], _worked_with() + weekly_then_quiet)
    digest = result.digest
    named = {e.email for e in digest.reconnect}
    if digest.peer_of_the_week:
        named.add(digest.peer_of_the_week.person.email)
    assert OPS in named
    assert OPS not in {e.email for e in digest.feedback}
    assert digest.feedback  # the ask still goes to the others worked with most


def test_invitations_name_a_peer_from_a_department_that_never_attends() -> None:
    team = [meeting(days_ago(7 * w), "r1@corp.example", "r2@corp.example", SALES,
                    title="Platform weekly", series="weekly-1", uid=f"weekly-1@{w}",
                    recurring=True) for w in range(1, 6)]
    strong = [mail(days_ago(d), ME, (OPS,)) for d in (2, 4, 6)]
    result = run(team, strong)
    assert result.team_meeting is not None and result.team_meeting.series_id == "weekly-1"
    invitation = result.digest.invitations[0]
    assert invitation.person.email == OPS  # strongest tie outside attending departments
    assert "Sales" in invitation.attendee_departments
    assert invitation.meeting_title == "Platform weekly"
    assert result.views[SALES].attendance == 5
    assert result.explain(SALES).team_meeting_attendance == 5


def test_a_weekly_one_on_one_is_never_the_team_meeting() -> None:
    # The 1:1 with a report is more frequent than the team meeting and all-report;
    # a monthly all-hands with four reports is not weekly-ish.
    one_on_one = [meeting(days_ago(3 + 7 * w), "r1@corp.example", title="Riley / Morgan 1:1",
                          series="one-on-one", uid=f"one-on-one@{w}", recurring=True)
                  for w in range(0, 12)]
    monthly = [meeting(days_ago(10 + 30 * m), "r1@corp.example", "r2@corp.example",
                       "r3@corp.example", title="Monthly review", series="monthly",
                       uid=f"monthly@{m}", recurring=True) for m in range(3)]
    team = [meeting(days_ago(7 * w), "r1@corp.example", "r2@corp.example", "r3@corp.example",
                    SALES, title="Platform weekly", series="weekly-1", uid=f"weekly-1@{w}",
                    recurring=True) for w in range(1, 5)]
    strong = [mail(days_ago(d), ME, (OPS,)) for d in (2, 4, 6)]
    result = run(one_on_one + monthly + team, strong)
    assert result.team_meeting is not None and result.team_meeting.series_id == "weekly-1"
    assert "Platform weekly" in result.digest.invitations[0].person.reasons[0]
    alone = run(one_on_one + monthly, strong)
    assert alone.team_meeting is None and alone.digest.invitations == ()


def test_no_team_meeting_no_invitation() -> None:
    one_off = [meeting(days_ago(7), "r1@corp.example", "r2@corp.example")]
    assert run(one_off).digest.invitations == ()


def test_computed_digest_matches_the_json_schema() -> None:
    team = [meeting(days_ago(7 * w), "r1@corp.example", "r2@corp.example", SALES,
                    title="Platform weekly", series="weekly-1", uid=f"weekly-1@{w}",
                    recurring=True) for w in range(1, 6)]
    events = team + [meeting(days_ago(d), FIN, organizer=FIN) for d in (40, 50, 60, 70)]
    events += [meeting(days_ago(150), MKT)]
    messages = _worked_with() + [mail(days_ago(1), OPS, (ME,), subject="Congrats on the launch")]
    # threads HR started and nobody answered: a "you owe" entry, whatever else HR is asked
    messages += [mail(days_ago(d), HR, (ME,), subject=f"Question {d}")
                 for d in (2, 3, 4, 6, 7, 8, 10, 12)]
    digest = run(events, messages,
                 title_changes=[(HR, "HR Manager", "HR Director", days_ago(1))],
                 history={"peer_of_the_week": [("2026-W47", MKT)]}).digest
    data = json.loads(json.dumps(digest.to_json()))
    jsonschema.validate(data, SCHEMA, format_checker=jsonschema.FormatChecker())
    for section in ("reconnect", "reciprocity", "celebrate", "coverage", "feedback",
                    "invitations"):
        assert data[section], f"{section} should not be empty in this fixture"
    assert data["peer_of_the_week"] is not None


def test_schema_rejects_a_digest_missing_a_section() -> None:
    data = json.loads(json.dumps(run().digest.to_json()))
    del data["reconnect"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)


def _strong_tie_and_acquaintance() -> tuple[list, list]:
    """FIN: a weekly 1:1 for a year, quiet for 2x its cadence; HR: two mails a year ago."""
    events = [meeting(days_ago(60 + 7 * w), FIN) for w in range(52)]
    messages = [mail(days_ago(370), ME, (HR,)), mail(days_ago(365), HR, (ME,))]
    events += [meeting(days_ago(2), p) for p in (SALES, OPS, MKT)]
    return events, messages


def test_reconnect_ranks_a_strong_quiet_tie_above_a_long_silent_acquaintance() -> None:
    events, messages = _strong_tie_and_acquaintance()
    digest = run(events, messages).digest
    order = [e.email for e in digest.reconnect]
    assert order and order[0] == FIN
    assert HR not in order  # two messages are not a tie to reconnect


def test_an_acquaintance_with_two_messages_is_never_a_reconnect_pick() -> None:
    messages = [mail(days_ago(400), ME, (HR,)), mail(days_ago(399), HR, (ME,))]
    for period, now in (("2026-W47", NOW - timedelta(weeks=1)), ("2026-W48", NOW)):
        digest = run([], messages, now=now, period=period).digest
        assert HR not in [e.email for e in digest.reconnect]
    # one real meeting is history enough (reconnect_min_meetings = 1)
    digest = run([meeting(days_ago(200), HR)]).digest
    assert [e.email for e in digest.reconnect] == [HR]


def test_mail_that_only_ever_came_in_is_no_tie_to_reconnect() -> None:
    """Enron: 21 of 116 reconnect picks were people whose mail the owner never
    answered and never met ("Elizabeth Sager: last mail from them 676 days ago"): no
    "you used to be in touch". One reply of the owner's makes it a two-way tie; the
    unanswered threads stay reciprocity's ("you owe")."""
    theirs = [mail(days_ago(d), HR, (ME,), subject=f"Question {d}") for d in (200, 190, 180)]
    digest = run([], theirs).digest
    assert HR not in [e.email for e in digest.reconnect]
    assert digest.peer_of_the_week is None or digest.peer_of_the_week.person.email != HR \
        or digest.peer_of_the_week.first_coffee
    answered = theirs + [mail(days_ago(179), ME, (HR,), subject="Re: Question 180")]
    assert [e.email for e in run([], answered).digest.reconnect] == [HR]


def test_one_afternoons_thread_is_one_exchange_not_a_tie_to_reconnect() -> None:
    """Three mails on one day 200 days ago ("646 days overdue" on the Enron mail) are
    one exchange; the same three on three days are a history."""
    day = days_ago(200)
    thread = [mail(day, ME, (HR,)), mail(day + timedelta(hours=1), HR, (ME,)),
              mail(day + timedelta(hours=2), ME, (HR,))]
    assert HR not in [e.email for e in run([], thread).digest.reconnect]
    spread = [mail(days_ago(200 + n), ME if n % 2 == 0 else HR, (HR if n % 2 == 0 else ME,))
              for n in range(3)]
    assert [e.email for e in run([], spread).digest.reconnect] == [HR]


def test_reconnect_minimum_history_is_configurable() -> None:
    rules = load_rules([("r.toml", "[recommend]\nreconnect_min_interactions = 2\n")])
    messages = [mail(days_ago(400), ME, (HR,)), mail(days_ago(399), HR, (ME,))]
    assert [e.email for e in run([], messages, rules=rules).digest.reconnect] == [HR]
    with pytest.raises(Exception, match="reconnect_min_interactions"):
        load_rules([("r.toml", "[recommend]\nreconnect_min_interactions = 0\n")])


def test_peer_of_the_week_prefers_a_tie_worth_keeping_and_offers_a_first_coffee_every_4th_week(
) -> None:
    from peerpulse.rules.sections import is_first_coffee_week

    # the test owner's phase (a digest of the address) makes W48 a first-coffee week
    assert is_first_coffee_week(ME, "2026-W48", 4)
    assert not is_first_coffee_week(ME, "2026-W47", 4)
    events, messages = _strong_tie_and_acquaintance()
    week47 = run(events, messages, now=NOW - timedelta(weeks=1), period="2026-W47").digest
    assert week47.peer_of_the_week is not None
    assert week47.peer_of_the_week.person.email == FIN
    assert not week47.peer_of_the_week.first_coffee
    week48 = run(events, messages).digest  # the owner's first-coffee week
    pick = week48.peer_of_the_week
    assert pick is not None and pick.first_coffee and pick.person.email == HR
    assert any(r.startswith("A first coffee with") for r in pick.person.reasons)
    assert not any("reconnect" in r.lower() for r in pick.person.reasons)


# A directory with no manager column, shaped like the Enron one (issue 9, item 2).
FLAT = (
    Person(ME, "Morgan Me", department="ENA Gas West", title="Dir Trading", manages_anyone=True),
    Person("vp@corp.example", "Val Vp", department="ENA Gas West", title="VP Trading",
           manages_anyone=True),
    Person("ceo@corp.example", "Casey Ceo", department="Enron", title="President & CEO",
           manages_anyone=True),
    Person("svp@corp.example", "Sky Svp", department="ETS", title="SVP Operations",
           manages_anyone=True),
    Person("vp2@corp.example", "Vic Vp", department="ETS", title="Vice President",
           manages_anyone=True),
    Person("dir@corp.example", "Dee Dir", department="ENA Legal", title="Director",
           manages_anyone=True),
    Person("mgr@corp.example", "Max Mgr", department="ENA Gas West", title="Mgr Trading",
           manages_anyone=True),
)


def test_without_a_manager_column_leaders_by_title_are_not_peers() -> None:
    events = [meeting(days_ago(200 + d), p.email) for p in FLAT[1:] for d in (0, 7, 14)]
    messages = [mail(days_ago(d), p.email, (ME,)) for p in FLAT[1:] for d in range(10, 60, 2)]
    result = run(events, messages, people=FLAT)
    peers = set(result.views)
    # the VP of my own department (my likely boss), the CEO, the SVP: leaders, not peers;
    # the Mgr Trading of my own department: probably my team, not a peer
    assert peers == {"vp2@corp.example", "dir@corp.example"}
    assert result.digest.stats["management_chain_known"] is False
    named = {e.email for e in result.digest.reconnect} | {e.person.email for e in
                                                          result.digest.reciprocity}
    assert not named & {"vp@corp.example", "ceo@corp.example", "svp@corp.example"}
    assert run([], [], people=PEOPLE).digest.stats["management_chain_known"] is True


def test_a_managing_director_is_above_vps_and_below_the_c_suite() -> None:
    """Enron, Phillip Allen ("Mng Dir Trading"): his title matched no level, so every
    titled person, a Mgr Trading included, was a leader and his digest had nothing to
    do. Read as an SVP-level title, the VPs elsewhere are his peers and a president
    & CEO of another division is still a leader, not a lunch to propose."""
    people = (
        Person(ME, "Phil Md", department="ENA Gas West", title="Mng Dir Trading",
               manages_anyone=True),
        Person("ceo@corp.example", "Casey Ceo", department="EWS", title="ENA President & CEO",
               manages_anyone=True),
        Person("vp@corp.example", "Vic Vp", department="ENA Gas Central", title="VP Trading",
               manages_anyone=True),
        Person("md@corp.example", "Mark Md", department="ENA Legal",
               title="Mng Director & Gen Cnsl", manages_anyone=True),
        Person("mgr@corp.example", "Max Mgr", department="ENA West Power", title="Mgr Trading",
               manages_anyone=True),
    )
    messages = [mail(days_ago(d), p.email, (ME,)) for p in people[1:] for d in range(60, 200, 7)]
    result = run([], messages, people=people)
    # the Mgr Trading, three levels below, is no peer of a Managing Director either
    assert set(result.views) == {"vp@corp.example", "md@corp.example"}
    assert [e.email for e in result.digest.leaders] == ["ceo@corp.example"]
    pick = result.digest.peer_of_the_week
    assert pick is not None and pick.person.email != "ceo@corp.example"


@pytest.mark.parametrize(("owner_title", "peers"), [
    # a division's CEO: the other presidents are peers; VPs and Directors elsewhere not
    ("President & CEO", {"ceo2@corp.example"}),
    # a VP: Directors elsewhere (one level down) are peers, a Manager two down is not
    ("VP Trading", {"dir@corp.example", "vp@corp.example"}),
    # a Director: the Manager one level down is a peer
    ("Director", {"dir@corp.example", "vp@corp.example", "mgr@corp.example"}),
])
def test_two_or_more_levels_below_you_is_not_a_peer(owner_title: str, peers: set[str]) -> None:
    """Enron, Greg Whalley (President & CEO, EWS): "reconnect with Jeff Dasovich
    (Director)" and "you owe Richard one" (a VP of another division). Without a
    manager column, a peer is about your level, sideways; ``explain`` says why the
    others are not, and the rule can be switched off."""
    people = (
        Person(ME, "Owen Owner", department="EWS", title=owner_title, manages_anyone=True),
        Person("ceo2@corp.example", "Stan Ceo", department="ETS", title="President & CEO",
               manages_anyone=True),
        Person("vp@corp.example", "Rick Vp", department="Risk", title="VP & Chief Risk Manager",
               manages_anyone=True),
        Person("dir@corp.example", "Jeff Dir", department="Regulatory", title="Director",
               manages_anyone=True),
        Person("mgr@corp.example", "Max Mgr", department="Legal", title="Manager",
               manages_anyone=True),
        # no title, or one no level names: nothing known of their rank, still a peer
        Person("none@corp.example", "Nat None", department="Sales", manages_anyone=True),
        Person("odd@corp.example", "Otto Odd", department="Sales", title="Principal",
               manages_anyone=True),
    )
    peers = peers | {"none@corp.example", "odd@corp.example"}
    messages = [mail(days_ago(d), p.email, (ME,)) for p in people[1:] for d in range(10, 200, 9)]
    result = run([], messages, people=people)
    assert set(result.views) == peers
    far = {p.email for p in people[1:]} - peers
    below = [e for e in far if "below yours" in str(result.explain(e))]
    assert all("two or more levels below yours" in str(result.explain(e)) for e in below)
    off = load_rules([("r.toml", "[peers]\nfar_below_by_title_when_chain_unknown = false\n")])
    assert set(run([], messages, people=people, rules=off).views) >= peers | set(below)


def test_an_owner_title_no_level_names_makes_no_one_a_leader_or_a_report() -> None:
    """Phillip Allen's "Mng Dir Trading" matched no level, so he was read as level 0:
    every titled person was his leader, even a Mgr Trading, and his digest had
    nothing to do. A title no level names says nothing of rank: only the top level
    leads such an owner."""
    people = (
        Person(ME, "Pat Principal", department="ENA Gas West", title="Principal",
               manages_anyone=True),
        Person("vp@corp.example", "Vic Vp", department="ENA Gas Central", title="VP Trading",
               manages_anyone=True),
        Person("mgr@corp.example", "Max Mgr", department="ENA Gas West", title="Mgr Trading",
               manages_anyone=True),
        Person("ceo@corp.example", "Casey Ceo", department="Enron", title="President & CEO",
               manages_anyone=True),
    )
    messages = [mail(days_ago(d), p.email, (ME,)) for p in people[1:] for d in range(10, 200, 9)]
    result = run([], messages, people=people)
    assert set(result.views) == {"vp@corp.example", "mgr@corp.example"}
    # the top level (the C-suite) still leads anyone: it is above whatever "Principal" is
    assert "the top level; yours names no level" in str(result.explain("ceo@corp.example"))


def test_a_coo_is_led_by_the_chief_executive_of_their_own_division() -> None:
    """Enron, Louise Kitchen (COO, EWS): "Greg owes you one ... let Greg make the next
    move" named Greg Whalley, President & CEO of EWS, her boss. The chief executive
    leads the other officers; a CFO of another division stays her peer."""
    people = (
        Person(ME, "Lou Coo", department="EWS", title="COO", manages_anyone=True),
        Person("ceo@corp.example", "Greg Ceo", department="EWS", title="President & CEO",
               manages_anyone=True),
        Person("cfo@corp.example", "Cleo Cfo", department="ETS", title="VP & CFO",
               manages_anyone=True),
    )
    messages = [mail(days_ago(d), p.email, (ME,)) for p in people[1:] for d in range(10, 200, 9)]
    result = run([], messages, people=people)
    assert set(result.views) == {"cfo@corp.example"}
    assert "peers.leader_in_my_department" in str(result.explain("ceo@corp.example"))


def test_leaders_have_their_own_place_and_are_never_counted_as_peers() -> None:
    """Issue 9, item 2: a leader the owner worked with and has not met for the default
    cadence is under "leaders to keep informed", never in a peer section; one met
    lately, or barely met, is not listed."""
    events = [meeting(days_ago(100 + d), "ceo@corp.example") for d in (0, 7, 14)]
    events += [meeting(days_ago(d), "svp@corp.example") for d in (5, 12, 19)]
    events += [meeting(days_ago(120), "vp@corp.example")]
    events += [meeting(days_ago(90 + d), "dir@corp.example") for d in (0, 7, 14)]
    result = run(events, [], people=FLAT)
    digest = result.digest
    assert [e.email for e in digest.leaders] == ["ceo@corp.example"]
    (ceo,) = digest.leaders
    assert ceo.days_since == 100 and "leader by title (President & CEO)" in ceo.reasons[0]
    assert "ceo@corp.example" not in result.views
    assert digest.stats["peers"] == 2  # vp2, dir (mgr: probably my team)
    in_peer_sections = {e.email for e in digest.reconnect} | {e.person.email for e in
                                                              digest.reciprocity}
    if digest.peer_of_the_week:
        in_peer_sections.add(digest.peer_of_the_week.person.email)
    assert "ceo@corp.example" not in in_peer_sections
    assert "dir@corp.example" in {e.email for e in digest.reconnect}
    jsonschema.validate(json.loads(json.dumps(digest.to_json())), SCHEMA)
    assert run(events, [], people=PEOPLE).digest.leaders == ()  # chain known: no leaders


def test_without_a_manager_column_my_departments_lower_titles_are_my_team_not_peers() -> None:
    """Enron, Richard Shapiro (VP of Regulatory Affairs): "You owe Jeff Dasovich one"
    and "ask Mary Hain for feedback" named the Directors of his own department, his
    team in all likelihood. Lower titles elsewhere and equal titles in the department
    stay peers; explain says why the others are not."""
    people = (
        Person(ME, "Rich Vp", department="Regulatory Affairs", title="VP of Regulatory Affairs",
               manages_anyone=True),
        Person("dir@corp.example", "Jeff Dir", department="Regulatory Affairs",
               title="Director", manages_anyone=True),
        Person("odd@corp.example", "Otto Odd", department="Regulatory Affairs",
               title="Senior Counsel", manages_anyone=True),
        Person("vp@corp.example", "Jim Vp", department="Regulatory Affairs",
               title="VP of Government Affairs", manages_anyone=True),
        Person("dir2@corp.example", "Dana Dir", department="ETS", title="Director",
               manages_anyone=True),
    )
    messages = [mail(days_ago(d), p.email, (ME,), subject=f"Topic {d}")
                for p in people[1:] for d in range(10, 200, 9)]
    result = run([], messages, people=people)
    assert set(result.views) == {"vp@corp.example", "dir2@corp.example"}
    named = {e.email for e in result.digest.reconnect} | {
        e.person.email for e in result.digest.reciprocity} | {
        e.email for e in result.digest.feedback}
    assert not named & {"dir@corp.example", "odd@corp.example"}
    assert "dir@corp.example" not in {e.email for e in result.digest.leaders}
    why = result.explain("dir@corp.example")
    assert not why.is_peer and why.verdict.startswith("not a peer: peers.report_in_my_department")
    assert "probably on your team" in why.verdict


def test_title_levels_are_configurable_and_can_be_switched_off() -> None:
    off = load_rules([("r.toml", "[peers]\nleaders_by_title_when_chain_unknown = false\n")])
    assert "vp@corp.example" in run([], [], people=FLAT, rules=off).views
    assert "mgr@corp.example" not in run([], [], people=FLAT, rules=off).views
    neither = load_rules([("r.toml", "[peers]\nleaders_by_title_when_chain_unknown = false\n"
                                     "reports_by_title_when_chain_unknown = false\n")])
    assert {"vp@corp.example", "mgr@corp.example"} <= set(
        run([], [], people=FLAT, rules=neither).views)
    flat = load_rules([("r.toml", '[peers]\ntitle_levels = [{ name = "Boss", level = 9, '
                                  'titles = ["*ceo*"] }]\n')])
    assert set(run([], [], people=FLAT, rules=flat).views) == {
        "vp@corp.example", "svp@corp.example", "vp2@corp.example", "dir@corp.example",
        "mgr@corp.example"}


def test_a_first_coffee_goes_to_the_department_the_owner_reaches_least() -> None:
    """Coverage, not alphabet or hash luck: a stranger in Finance (where the owner
    has a weekly 1:1) loses to a stranger in Legal (never reached)."""
    people = (*PEOPLE,
              Person("fin2@corp.example", "Fay Fin", department="Finance",
                     title="Finance Manager", manages_anyone=True),
              Person("legal@corp.example", "Lee Legal", department="Legal",
                     title="Legal Manager", manages_anyone=True))
    events, messages = _strong_tie_and_acquaintance()
    pick = run(events, messages, people=people).digest.peer_of_the_week  # W48: ME's coffee week
    assert pick is not None and pick.first_coffee
    assert pick.person.email == "legal@corp.example"


def test_the_weekly_draw_depends_on_the_owner_so_managers_are_not_all_sent_to_one_person(
) -> None:
    from peerpulse.rules.sections import _lottery

    emails = [f"p{i}@corp.example" for i in range(20)]
    first = min(emails, key=lambda e: _lottery("2026-W48", e, "a@corp.example"))
    others = {min(emails, key=lambda e: _lottery("2026-W48", e, f"m{i}@corp.example"))
              for i in range(10)}
    assert others - {first}


def test_no_one_is_both_someone_to_contact_and_someone_to_wait_for() -> None:
    """Seen on Enron: "reconnect with Kay" and "Kay owes you one: let Kay make the next
    move" in one digest. The digest asks for one action per person."""
    events = [meeting(days_ago(120 + 7 * w), FIN) for w in range(30)]
    messages = [mail(days_ago(100 + d), ME, (FIN,)) for d in range(0, 20, 2)]
    events += [meeting(days_ago(2), p) for p in (SALES, OPS, MKT)]
    digest = run(events, messages).digest
    contact = ({e.email for e in digest.reconnect} | {e.email for e in digest.feedback}
               | {i.person.email for i in digest.invitations})
    if digest.peer_of_the_week:
        contact.add(digest.peer_of_the_week.person.email)
    assert FIN in contact
    waits = {r.person.email for r in digest.reciprocity if r.direction == "owes_you"}
    assert not waits & contact


def test_a_weekly_one_on_one_that_stopped_8_weeks_ago_is_flagged_by_its_own_rhythm() -> None:
    """Issue 9, item 7: the flat 60-day default would wait until week 9; the tie's own
    rhythm (every 7 days, x3 = 21 days) flags it now and says so."""
    events = [meeting(days_ago(56 + 7 * w), SALES) for w in range(20)]
    events += [meeting(days_ago(2), p) for p in (HR, OPS, MKT)]
    result = run(events, [])
    fin = result.views[SALES]
    assert fin.cadence.source == "rhythm" and fin.cadence.usual_gap == 7
    assert fin.cadence.days == 21 and fin.overdue == 35
    assert SALES in {e.email for e in result.digest.reconnect}
    reconnect = next(e for e in result.digest.reconnect if e.email == SALES)
    assert "every ~7 days" in reconnect.reasons[0]
    off = load_rules([("r.toml", "[cadence]\nrhythm_factor = 0\n")])
    assert run(events, [], rules=off).views[SALES].cadence.days == 60


def test_a_slow_rhythm_never_loosens_the_group_cadence() -> None:
    """Quarterly contacts keep the 60-day default: the rhythm only tightens."""
    events = [meeting(days_ago(10 + 90 * q), SALES) for q in range(5)]
    fin = run(events, []).views[SALES]
    assert fin.cadence.days == 60 and fin.cadence.source != "rhythm"


def test_a_digest_mostly_excluded_by_rules_says_by_which_and_points_at_rules_check() -> None:
    """Issue 9, item 10: every mail came through a list; the digest must not look
    merely quiet, it says how many records rules left out and by which rule."""
    from peerpulse.worker.digest.render import excluded_line, render_digest

    messages = [mail(days_ago(d), FIN, (ME,), list_id="<team.lists.corp.example>")
                for d in range(1, 41)]
    messages += [mail(days_ago(3), ME, (HR,))]
    digest = run([], messages).digest
    excluded = digest.stats["excluded"]
    assert excluded["records"] == 40 and excluded["read"] == 41
    assert excluded["rules"][0] == ["noise.mail.exclude_list_id", 40]
    line = excluded_line(excluded)
    assert "40 of 41 records" in line and "noise.mail.exclude_list_id (40)" in line
    assert "peerpulse rules check" in line
    rendered = render_digest(digest, recipient=ME, sender=ME, now=NOW)
    assert "Rules left out 40 of 41 records" in rendered.text
    assert "Rules left out 40 of 41 records" in rendered.html
    assert run([], messages[-1:]).digest.stats["excluded"] is None


def test_a_thread_over_a_few_days_is_one_contact_not_a_daily_rhythm() -> None:
    from peerpulse.rules.cadence import usual_gap

    day = 86400.0
    bursts = [start + offset for start in (0, 35 * day, 70 * day, 105 * day)
              for offset in (0, 0.5 * day, day, 2 * day)]
    gap, gaps = usual_gap(bursts)
    assert gaps == 3 and 28 <= gap <= 42


@pytest.mark.parametrize(("title", "level"), [
    ("VP & CRO", 7), ("SVP, CFO", 7), ("EVP/CHRO", 7), ("Chief Risk Officer", 7),
    ("VP Trading", 4), ("Director, Regulatory Affairs", 3), ("Sr Specialist", 0),
    ("Procurement Manager", 2), ("VP & Chief of Staff", 4), ("Chief Architect", 0),
    ("Chief Executive", 8), ("Chief People Officer", 7), ("President & CEO", 8),
    ("ENA President & CEO", 8), ("COO", 7), ("Vice President, Sales", 4),
    ("Mng Director & Gen Cnsl", 5), ("Mng Dir Trading", 5), ("Managing Director, EMEA", 5),
    ("MD, Investment Banking", 5), ("Director & Gen Cnsl Asst", 3), ("Dir Trading", 3),
])
def test_a_title_takes_its_highest_level(title: str, level: int) -> None:
    """Seen on Enron: "VP & CRO" was read as a VP, so the Chief Risk Officer was a peer
    to ask for feedback for a VP owner; the C-suite abbreviation must win. And
    "VP & Chief of Staff" (Steven Kean) is a VP: read as C-level, it made the CEO
    his peer to ask for feedback. "Mng Director & Gen Cnsl" (Mark Haedicke) read as a
    Director, below the VPs who were told to reconnect with him as a peer."""
    rules = load_rules([])
    assert rules.title_level(title)[0] == level
