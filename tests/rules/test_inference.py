"""Records in, interactions out: every noise rule excludes what it should and nothing more."""

from __future__ import annotations

from dataclasses import replace

import pytest
from peerpulse.connectors.records import EventStatus, EventType, ResponseStatus, Transparency
from peerpulse.rules.loader import load_rules

from tests.rules.builders import (
    ME,
    MY_ALIAS,
    attendee,
    days_ago,
    mail,
    meeting,
    run,
)

FIN = "fin@corp.example"
HR = "hr@corp.example"
SALES = "sales@corp.example"
D = ResponseStatus.DECLINED
OTHERS = tuple(f"{p}@corp.example" for p in ("hr", "sales", "ops", "mkt", "r1", "r2", "r3"))
CROWD = tuple(f"x{i}@corp.example" for i in range(30))

# (why, record, (person, kind) expected or None, rule expected in rule_counts)
EVENT_CASES = [
    ("1:1 counts as one_on_one", meeting(days_ago(3), FIN), (FIN, "one_on_one"), None),
    ("lunch title makes a lunch", meeting(days_ago(3), FIN, title="Lunch w/ Fin"),
     (FIN, "lunch"), None),
    ("coffee is a lunch too", meeting(days_ago(3), FIN, title="COFFEE"), (FIN, "lunch"), None),
    ("4 people are a small meeting", meeting(days_ago(3), FIN, HR, SALES),
     (FIN, "small_meeting"), None),
    ("a lunch with 4 people is still a lunch", meeting(days_ago(3), FIN, HR, SALES,
     title="Team lunch"), (FIN, "lunch"), None),
    ("10 people are a large meeting", meeting(days_ago(3), FIN, *OTHERS, "x@corp.example"),
     (FIN, "large_meeting"), None),
    ("a meeting they organize counts", meeting(days_ago(3), FIN, organizer=FIN),
     (FIN, "one_on_one"), None),
    ("tentative counts", meeting(days_ago(3), FIN, my_response=ResponseStatus.TENTATIVE),
     (FIN, "one_on_one"), None),
    ("a room is not a person", replace(meeting(days_ago(3), FIN, count=2), attendees=(
        attendee(ME, organizer=True), attendee(FIN),
        attendee("room@corp.example", resource=True))), (FIN, "one_on_one"), None),
    ("an alias attendee counts once under the canonical person",
     meeting(days_ago(3), FIN, "finley@corp.example", count=2), (FIN, "one_on_one"), None),
    ("an organizer listed under an alias as attendee is still one person (a 1:1)",
     replace(meeting(days_ago(3), "finley@corp.example", organizer=FIN, count=3),
             organizer=FIN, attendees=(attendee(ME), attendee(FIN, organizer=True),
                                       attendee("finley@corp.example"))),
     (FIN, "one_on_one"), None),
    ("a truncated attendee list keeps the reported size", meeting(days_ago(3), FIN, count=40),
     None, "noise.events.max_attendees"),
    ("declined meeting is not an interaction", meeting(days_ago(3), FIN, my_response=D,
     organizer=FIN), None, "noise.events.exclude_declined"),
    ("an attendee who declined is left out", meeting(days_ago(3), FIN, responses={FIN: D}),
     None, "noise.events.exclude_declined"),
    ("an unanswered invitation does not count", meeting(days_ago(3), FIN, organizer=FIN,
     my_response=ResponseStatus.NEEDS_ACTION), None, "noise.events.exclude_not_accepted"),
    ("cancelled meeting does not count", meeting(days_ago(3), FIN,
     status=EventStatus.CANCELLED), None, "noise.events.exclude_cancelled"),
    ("all-day entry does not count", meeting(days_ago(3), FIN, all_day=True), None,
     "noise.events.exclude_all_day"),
    ("free time does not count", meeting(days_ago(3), FIN, transparency=Transparency.FREE),
     None, "noise.events.exclude_free"),
    ("out of office does not count", meeting(days_ago(3), FIN,
     event_type=EventType.OUT_OF_OFFICE), None, "noise.events.exclude_out_of_office"),
    ("focus time does not count", meeting(days_ago(3), FIN, event_type=EventType.FOCUS_TIME),
     None, "noise.events.exclude_focus_time"),
    ("working location does not count", meeting(days_ago(3), FIN,
     event_type=EventType.WORKING_LOCATION), None, "noise.events.exclude_working_location"),
    ("all-hands excluded whatever its size", meeting(days_ago(3), FIN, HR,
     title="Q3 All Hands"), None, "noise.events.all_hands_titles"),
    ("town hall excluded", meeting(days_ago(3), FIN, title="Townhall"), None,
     "noise.events.all_hands_titles"),
    ("more than 25 people is too large", meeting(days_ago(3), FIN, *CROWD), None,
     "noise.events.max_attendees"),
    ("self-only event does not count", meeting(days_ago(3)), None,
     "noise.events.exclude_self_only"),
    ("future meeting never counts", meeting(days_ago(-2), FIN), None, "events.future"),
    ("a meeting with a report is not a peer interaction", meeting(days_ago(3),
     "r1@corp.example"), None, "peers.exclude_my_reports"),
    ("my manager is not a peer", meeting(days_ago(3), "boss@corp.example"), None,
     "peers.exclude_my_management_chain"),
    ("someone who manages no one is not a peer", meeting(days_ago(3), "ic@corp.example"),
     None, "peers.require_manages_anyone"),
    ("an external manager is not a peer", meeting(days_ago(3), "out@partner.example"), None,
     "peers.internal_only"),
    ("an unknown address is not a peer", meeting(days_ago(3), "who@corp.example"), None,
     "peers.not_in_directory"),
]

MESSAGE_CASES = [
    ("mail I send counts as mail_sent", mail(days_ago(2), ME, (FIN,)), (FIN, "mail_sent"), None),
    ("mail from my alias is mine", mail(days_ago(2), MY_ALIAS, (FIN,)), (FIN, "mail_sent"),
     None),
    ("a Cc recipient counts", mail(days_ago(2), ME, (HR,), cc=(FIN,)), (FIN, "mail_sent"), None),
    ("a Bcc recipient does not", mail(days_ago(2), ME, (), bcc=(FIN,)), None,
     "mail.no_one_else"),
    ("mail to me counts as mail_received", mail(days_ago(2), FIN, (ME,)),
     (FIN, "mail_received"), None),
    ("mail with me in Cc counts", mail(days_ago(2), FIN, (HR,), cc=(ME,)),
     (FIN, "mail_received"), None),
    ("mail where I am only Bcc'd does not", mail(days_ago(2), FIN, (HR,), bcc=(ME,)), None,
     "mail.not_addressed_to_me"),
    ("mail from an alias counts under the canonical person",
     mail(days_ago(2), "finley@corp.example", (ME,)), (FIN, "mail_received"), None),
    ("list mail is excluded", mail(days_ago(2), FIN, (ME,), list_id="<eng.corp.example>"), None,
     "noise.mail.exclude_list_id"),
    ("a newsletter is excluded", mail(days_ago(2), FIN, (ME,), list_unsubscribe=True), None,
     "noise.mail.exclude_list_unsubscribe"),
    ("an auto-reply is excluded", mail(days_ago(2), FIN, (ME,), auto_submitted="auto-replied"),
     None, "noise.mail.exclude_auto_submitted"),
    ("Auto-Submitted: no is a person", mail(days_ago(2), FIN, (ME,), auto_submitted="no"),
     (FIN, "mail_received"), None),
    ("bulk precedence is excluded", mail(days_ago(2), FIN, (ME,), precedence="bulk"), None,
     "noise.mail.precedence"),
    ("a no-reply sender is a robot", mail(days_ago(2), "no-reply@corp.example", (ME,)), None,
     "noise.mail.noreply_senders"),
    ("calendar invitation mail is excluded", mail(days_ago(2), FIN, (ME,), is_invitation=True),
     None, "noise.mail.exclude_invitations"),
    ("16 recipients is a broadcast", mail(days_ago(2), ME, (FIN, *CROWD[:15])), None,
     "noise.mail.max_recipients"),
    ("15 recipients still counts", mail(days_ago(2), ME, (FIN, *CROWD[:14])),
     (FIN, "mail_sent"), None),
    ("mail to a report is not a peer interaction", mail(days_ago(2), ME, ("r1@corp.example",)),
     None, "peers.exclude_my_reports"),
    ("mail from an unknown address is not a peer", mail(days_ago(2), "x@else.example", (ME,)),
     None, "peers.not_in_directory"),
]


def _check(result, expected, rule) -> None:  # type: ignore[no-untyped-def]
    fin = [(person, kind) for person, _rid, kind in result.interactions if person == FIN]
    if expected is None:
        assert fin == []
        assert all(p != "r1@corp.example" for p, _r, _k in result.interactions)
    else:
        assert fin == [expected], "one interaction per (person, record)"
    if rule is not None:
        assert result.rule_counts.get(rule, 0) >= 1, result.rule_counts


@pytest.mark.parametrize(("why", "event", "expected", "rule"), EVENT_CASES,
                         ids=[c[0] for c in EVENT_CASES])
def test_event_inference(why, event, expected, rule) -> None:  # type: ignore[no-untyped-def]
    _check(run([event]), expected, rule)


@pytest.mark.parametrize(("why", "message", "expected", "rule"), MESSAGE_CASES,
                         ids=[c[0] for c in MESSAGE_CASES])
def test_message_inference(why, message, expected, rule) -> None:  # type: ignore[no-untyped-def]
    _check(run([], [message]), expected, rule)


def test_large_meeting_weight_falls_with_size() -> None:
    ten = run([meeting(days_ago(3), FIN, *OTHERS, "x@corp.example")]).explain(FIN)
    twenty = run([meeting(days_ago(3), FIN, *CROWD[:19])]).explain(FIN)
    assert ten.counted[0].weight == pytest.approx(0.5 * 9 / 10)
    assert twenty.counted[0].weight == pytest.approx(0.5 * 9 / 21)


def test_reply_earns_the_reply_bonus_and_does_not_initiate() -> None:
    result = run([], [mail(days_ago(2), FIN, (ME,), reply=True), mail(days_ago(1), ME, (FIN,))])
    counted = {i.kind: i for i in result.explain(FIN).counted}
    assert counted["mail_received"].weight == pytest.approx(0.5 + 0.5)
    assert counted["mail_received"].is_reply and not counted["mail_received"].initiated_by_them
    assert counted["mail_sent"].initiated_by_me


@pytest.mark.parametrize("addressed, initiates", [(5, True), (6, False)])
def test_an_announcement_to_many_is_nobodys_initiative(addressed: int, initiates: bool) -> None:
    """A new thread or a meeting addressed to more than `[reciprocity] max_people` (5)
    people is an announcement ("Baby boy!" to a management team, in the Enron
    mail): still an interaction with each, but it makes no one owe an answer."""
    others = (FIN, *OTHERS[: addressed - 1])
    sent = run([], [mail(days_ago(3), ME, others)]).explain(FIN).counted
    assert [i.initiated_by_me for i in sent] == [initiates]
    received = run([], [mail(days_ago(3), FIN, (ME, *OTHERS[: addressed - 1]))])
    (got,) = received.explain(FIN).counted
    assert got.initiated_by_them is initiates
    assert received.views[FIN].unanswered == int(initiates)
    held = run([meeting(days_ago(3), *others)]).explain(FIN).counted
    assert [i.initiated_by_me for i in held] == [initiates]
    proposed = run([meeting(days_ago(3), *others, organizer=FIN)]).explain(FIN).counted
    assert [i.initiated_by_them for i in proposed] == [initiates]


def test_an_announcement_counts_an_aliased_recipient_once() -> None:
    """Five people under six addresses (an alias in Cc) is still a conversation."""
    got = run([], [mail(days_ago(3), FIN, (ME, *OTHERS[:3]), cc=("finley@corp.example",
                                                                  OTHERS[0]))])
    assert [i.initiated_by_them for i in got.explain(FIN).counted] == [True]


def test_excluded_records_are_attributed_to_the_person_with_the_rule() -> None:
    declined = meeting(days_ago(3), FIN, my_response=D, organizer=FIN, uid="declined-1")
    listed = mail(days_ago(2), FIN, (ME,), list_id="x", mid="list-1@corp.example")
    explanation = run([declined], [listed]).explain("finley@corp.example")
    rules_by_record = {e.record_id: e.rule for e in explanation.excluded}
    assert rules_by_record == {
        "declined-1": "noise.events.exclude_declined",
        "list-1@corp.example": "noise.mail.exclude_list_id",
    }
    assert explanation.counted == ()
    assert "alias" in str(explanation)


def test_upcoming_small_meeting_marks_the_peer_already_scheduled() -> None:
    result = run([meeting(days_ago(-5), FIN, HR), meeting(days_ago(-20), SALES)])
    assert result.views[FIN].upcoming is not None
    assert result.views[SALES].upcoming is None  # beyond 14 days
    assert result.interactions == ()


def test_user_rules_change_what_counts() -> None:
    rules = load_rules([("mine.toml", """
[noise.events]
max_attendees = 3
exclude_titles = ["*interview*"]
[noise.mail]
blocked_domains = { extend = ["corp.example"] }
""")])
    small = run([meeting(days_ago(3), FIN, HR, SALES)], rules=rules)
    assert small.rule_counts.get("noise.events.max_attendees") == 1
    interview = run([meeting(days_ago(3), FIN, title="Interview: backend")], rules=rules)
    assert interview.rule_counts.get("noise.events.exclude_titles") == 1
    blocked = run([], [mail(days_ago(2), FIN, (ME,))], rules=rules)
    assert blocked.rule_counts.get("noise.mail.blocked_domains") == 1


def test_inference_is_deterministic() -> None:
    records = [meeting(days_ago(d), FIN, HR) for d in range(1, 40, 3)]
    messages = [mail(days_ago(d), ME, (FIN, SALES)) for d in range(1, 40, 2)]
    first, second = run(records, messages), run(records, messages)
    assert first.interactions == second.interactions
    assert first.digest == second.digest


def test_blocked_list_address_in_to_excludes_received_mail() -> None:
    """Mail from a peer to a blocked list address (me in Cc) is list mail, not a tie."""
    rules = load_rules([("mine.toml", """
[noise.mail]
blocked_addresses = { extend = ["all-staff@lists.example"] }
""")])
    result = run([], [mail(days_ago(2), FIN, ("all-staff@lists.example",), cc=(ME,))],
                 rules=rules)
    assert result.rule_counts.get("noise.mail.blocked_addresses") == 1
    assert result.interactions == ()
    direct = run([], [mail(days_ago(2), FIN, (ME,))], rules=rules)
    assert len(direct.interactions) == 1


def test_subject_prefix_marks_a_reply_when_reply_headers_are_missing() -> None:
    """Exports without In-Reply-To/References (Enron): 'RE: Budget' after 'Budget' is a reply."""
    result = run([], [
        mail(days_ago(5), FIN, (ME,), subject="Budget Q3"),
        mail(days_ago(4), ME, (FIN,), subject="RE : budget q3"),
        mail(days_ago(3), FIN, (ME,), subject="AW: Re: Budget Q3"),
        mail(days_ago(2), ME, (FIN,), subject="Re: something never sent before"),
    ])
    counted = sorted(result.explain(FIN).counted, key=lambda i: i.at)
    assert [i.is_reply for i in counted] == [False, True, True, False]
    assert counted[0].initiated_by_them and not counted[1].initiated_by_me
    assert counted[3].initiated_by_me


def test_subject_prefix_needs_the_same_pair() -> None:
    """A 'Re:' to Fin does not answer a thread the owner had with HR."""
    result = run([], [
        mail(days_ago(5), HR, (ME,), subject="Offsite"),
        mail(days_ago(4), ME, (FIN,), subject="Re: Offsite"),
    ])
    (sent,) = result.explain(FIN).counted
    assert not sent.is_reply and sent.initiated_by_me


def test_subject_prefix_answers_a_thread_a_non_peer_started() -> None:
    """A report writes to the owner with a peer in Cc; the owner's 'Re:' to both answers
    the report's thread, so it is no initiative towards the peer (seen in the demo's
    no_reply_headers variant)."""
    result = run([], [
        mail(days_ago(5), "r1@corp.example", (ME,), cc=(FIN,), subject="Expense report"),
        mail(days_ago(4), ME, ("r1@corp.example",), cc=(FIN,), subject="Re: Expense report"),
    ])
    (sent,) = result.explain(FIN).counted
    assert sent.is_reply and not sent.initiated_by_me


def test_subject_prefix_marks_a_reply_with_hashed_subjects_too() -> None:
    """privacy.subjects = "hashed": the connector hashes the subject without its reply
    prefixes and marks the prefix, so the same match works without readable text."""
    from peerpulse.connectors.addresses import private_text

    def hashed(subject: str) -> str | None:
        return private_text(subject, "hashed")

    assert hashed("RE : budget q3") == hashed("Budget Q3").replace("sha256:", "sha256:re:")
    result = run([], [
        mail(days_ago(5), FIN, (ME,), subject=hashed("Budget Q3")),
        mail(days_ago(4), ME, (FIN,), subject=hashed("RE : budget q3")),
        mail(days_ago(2), ME, (FIN,), subject=hashed("Re: something never sent before")),
    ])
    counted = sorted(result.explain(FIN).counted, key=lambda i: i.at)
    assert [i.is_reply for i in counted] == [False, True, False]
