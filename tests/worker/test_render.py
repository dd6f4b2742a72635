"""Rendering the digest: sections, subject, both parts, size, hostile input, the .ics hold."""

from __future__ import annotations

import email
import email.policy
import re
import unicodedata
from collections import Counter
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest
from peerpulse.rules.recommendations import DepartmentCoverage
from peerpulse.worker.digest.ics_hold import build_hold, hold_uid
from peerpulse.worker.digest.message import build_message, message_bytes, new_message_id
from peerpulse.worker.digest.render import render_digest, subject_line

from tests.worker.digest_builders import empty_digest, full_digest, person
from tests.worker.payloads import PAYLOADS
from tests.worker.sample_digest import NOW as SAMPLE_NOW
from tests.worker.sample_digest import sample_digest

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=ZoneInfo("Europe/Berlin"))
EXPECTED_HEADERS = {
    "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "X-Auto-Response-Suppress",
    "X-Peerpulse-Period", "X-Peerpulse-Account", "MIME-Version", "Content-Type",
}


def _render(digest, hold_attached=False):
    return render_digest(digest, recipient="sam@example.com", sender="sam@example.com", now=NOW,
                         hold_attached=hold_attached)


def _wire(digest) -> bytes:
    rendered = _render(digest, hold_attached=True)
    hold = build_hold(digest, organizer="sam@example.com", now=NOW)
    message = build_message(rendered, account="work",
                            message_id=new_message_id(digest.period, "sam@example.com"),
                            date=NOW, hold=hold)
    return message_bytes(message)


def test_sections_appear_in_the_order_of_the_product_spec_in_both_parts():
    rendered = _render(full_digest())
    text_order = ["PEER OF THE WEEK", "RECONNECT", "RECIPROCITY", "CELEBRATE", "ASK FOR FEEDBACK",
                  "INVITE TO YOUR TEAM MEETING", "COVERAGE BY DEPARTMENT"]
    html_order = ["Peer of the week", "Reconnect", "Reciprocity", "Celebrate", "Ask for feedback",
                  "Invite to your team meeting", "Coverage by department"]
    text_positions = [rendered.text.index(h) for h in text_order]
    html_positions = [rendered.html.index(f">{h}</h2>") for h in html_order]
    assert text_positions == sorted(text_positions)
    assert html_positions == sorted(html_positions)


def test_the_html_and_text_parts_name_the_same_people_with_their_reasons():
    digest = sample_digest()
    rendered = render_digest(digest, recipient="sam@example.com", sender="sam@example.com",
                             now=SAMPLE_NOW)
    assert len(rendered.people) == 8
    in_text = re.findall(r"<([^<>\s]+@example\.com)>", rendered.text)
    in_html = re.findall(r'href="mailto:([^"]+)"', rendered.html)
    assert in_text == in_html == list(rendered.people)
    names = re.findall(r'href="mailto:[^"]+" style="[^"]*">([^<]+)</a>', rendered.html)
    for entry in [digest.peer_of_the_week.person, *digest.reconnect, *digest.feedback]:
        assert entry.name in rendered.text and entry.name in names
        assert entry.reasons[0] in rendered.text
        assert entry.reasons[0].replace("'", "&#39;") in rendered.html


def test_a_title_that_names_the_department_is_not_repeated():
    digest = full_digest()
    pick = replace(digest.peer_of_the_week.person, title="Manager, Finance")
    rendered = _render(replace(digest, peer_of_the_week=replace(digest.peer_of_the_week,
                                                                 person=pick)))
    assert "Dana Okafor (Manager, Finance) <dana@example.com>" in rendered.text


def test_each_person_shows_department_reason_and_why():
    rendered = _render(full_digest())
    assert "Dana Okafor (Director, Finance) <dana@example.com>" in rendered.text
    assert "Key function you have not met in 10 weeks." in rendered.text
    assert ("Why: last together 14 Sep (70 days ago); usual cadence every ~30 days; "
            "40 days overdue") in rendered.text
    assert "Recent: meal or coffee 14 Sep" in rendered.text


def test_a_person_in_two_sections_shows_the_evidence_once_and_each_reason():
    digest = full_digest()
    yuki = digest.feedback[0]
    invited = replace(digest.invitations[0], person=replace(
        yuki, reasons=("No one from Design attended; invite Yuki Tanaka",)))
    rendered = _render(replace(digest, invitations=(invited,)))
    for part in (rendered.text, rendered.html):
        assert part.count("Recent: meal or coffee 14 Sep") == 6  # six people, Yuki once
        assert "No one from Design attended; invite Yuki Tanaka" in part
        assert "Why: see ask for feedback above" in part
    text = rendered.text
    invite = text[text.index("INVITE TO YOUR TEAM MEETING"):]
    assert "Yuki Tanaka" in invite and "Recent:" not in invite.split("COVERAGE")[0]
    assert rendered.people.count("yuki@example.com") == 2  # both sections still name her


def test_recent_is_deduplicated_with_counts_newest_first():
    from peerpulse.rules.recommendations import Evidence

    digest = full_digest()
    evidence = (Evidence("2026-07-18", "one_on_one", 2.0, "files:ev-2", True),
                Evidence("2026-07-20", "mail_sent", 1.0, "files:m-1", True),
                Evidence("2026-07-20", "mail_sent", 1.0, "files:m-2", True))
    pick = replace(digest.peer_of_the_week.person, evidence=evidence)
    rendered = _render(replace(digest, peer_of_the_week=replace(digest.peer_of_the_week,
                                                                 person=pick)))
    assert "Recent: mail sent 20 Jul \u00d72, 1:1 18 Jul" in rendered.text
    assert "mail sent 20 Jul, mail sent 20 Jul" not in rendered.html


@pytest.mark.parametrize(
    ("digest", "subject"),
    [
        (full_digest(), "Week 48: lunch with Dana, 2 peers to reconnect"),
        (replace(full_digest(), peer_of_the_week=None),
         "Week 48: 2 peers to reconnect, 1 favour to return"),
        (replace(full_digest(), peer_of_the_week=None, reconnect=(person("a@x.org", "A"),)),
         "Week 48: 1 peer to reconnect, 1 favour to return"),
        (replace(empty_digest(), feedback=(person("a@x.org", "A"),)), "Week 48: 1 feedback ask"),
        (empty_digest(), "Week 48: nothing to do this week"),
        (empty_digest("2027-W01"), "Week 1: nothing to do this week"),
    ],
    ids=["pick-and-reconnect", "no-pick", "singular", "feedback-only", "empty", "week-1"],
)
def test_the_subject_says_the_period_and_the_headline(digest, subject):
    assert subject_line(digest) == subject


def test_an_empty_digest_says_there_is_nothing_to_do():
    rendered = _render(empty_digest())
    assert rendered.is_empty
    assert "Nothing to do this week" in rendered.text
    assert "Nothing to do this week" in rendered.html


def test_the_html_is_mail_client_safe_and_dark_mode_aware():
    html = _render(full_digest()).html
    assert "<script" not in html.lower()
    assert "<img" not in html.lower() and "<svg" not in html.lower()
    assert "<canvas" not in html.lower() and "<link" not in html.lower()
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", html)  # nothing external to load
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "@media (prefers-color-scheme: dark)" in html
    assert "max-width:640px" in html


def test_coverage_bars_are_table_cells_with_widths_and_colours():
    html = _render(full_digest()).html
    fills = re.findall(r'<td width="(\d+)%" class="pp-fill[^"]*" bgcolor="(#[0-9a-f]{6})"', html)
    # Engineering is the busiest department: its 4-week rate sets the scale.
    assert ("100", "#2f6fdf") in fills
    assert len(fills) == 5  # Finance's 4-week window is empty: no fill cell at all
    text = _render(full_digest()).text
    assert "4 wk   ████████████ 3.5/wk" in text
    assert "all bars on one scale" in text
    assert "all on one scale" in _render(full_digest()).html


def test_a_department_never_contacted_is_not_yet_met_not_gone_dark():
    digest = full_digest()
    never = DepartmentCoverage("Legal", False, 0.0, 0.0, 0.0, "dark", None, 3)
    rendered = _render(replace(digest, coverage=(*digest.coverage, never)))
    for body in (rendered.text, rendered.html):
        assert "not yet met" in body
        assert "last never" not in body
    legal = next(line for line in rendered.text.splitlines() if line.strip().startswith("Legal"))
    assert "not yet met" in legal and "last" not in legal
    assert "gone dark, last 14 Sep" in rendered.text  # a real silence keeps its wording


def test_a_rate_printed_as_zero_has_an_empty_bar():
    digest = full_digest()
    trickle = DepartmentCoverage("Legal", False, 0.1, 0.2, 0.3, "flat", "2026-11-02", 1)
    text = _render(replace(digest, coverage=(*digest.coverage, trickle))).text
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Legal"))
    bars = [line for line in lines[start + 1:start + 4] if "/wk" in line]
    assert bars and all("0.0/wk" in line and "\u2588" not in line for line in bars)


def test_each_department_has_its_own_line_and_three_aligned_bars():
    """Seen on Enron digests: the 4-week bar ran on at the end of the department's
    line (a block tag ate its newline), so the three windows did not line up."""
    text = _render(full_digest()).text
    lines = text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("COVERAGE BY")))
    section = lines[start + 1:lines.index("--", start)]
    heads = [i for i, line in enumerate(section) if line.startswith("  ") and
             not line.startswith("    ") and line.strip()]
    assert heads
    for i in heads:
        assert "/wk" not in section[i]
        assert [section[i + k].split()[:2] for k in (1, 2, 3)] == [
            ["4", "wk"], ["13", "wk"], ["26", "wk"]]


def test_without_a_calendar_the_digest_says_why_there_are_no_times():
    digest = full_digest()
    bare = replace(digest, stats={**digest.stats, "calendar": False},
                   peer_of_the_week=replace(digest.peer_of_the_week, slots=()))
    rendered = _render(bare)
    for body in (rendered.text, rendered.html):
        assert "Free in your calendar" not in body
        assert "no calendar is configured" in body


def test_the_sample_digest_message_stays_well_under_100_kb():
    digest = sample_digest()
    raw = _wire(digest)
    assert len(raw) < 100_000
    assert len(_render(digest).html.encode()) < 60_000


# -- hostile input -------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "Eve\r\nBcc: victim@evil.example",
    "=?utf-8?q?E=0ABcc:_x@evil.example?=",  # short enough to survive as a first name
    "Eve\u202eevil\u2028Bcc: x",
    "<img src=x onerror=alert(1)>" + "A" * 10_000,
]


@pytest.mark.parametrize("hostile", HOSTILE, ids=["markup", "crlf", "encoded-word", "bidi", "10kb"])
def test_hostile_names_titles_and_subjects_never_reach_the_output_unescaped(hostile):
    digest = full_digest(name=hostile, department=hostile, title=hostile, reason=hostile,
                         meeting_title=hostile, celebrate=hostile)
    raw = _wire(digest)
    assert len(raw) < 100_000
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert set(parsed.keys()) == EXPECTED_HEADERS
    assert len(parsed.keys()) == len(EXPECTED_HEADERS)
    assert "\n" not in str(parsed["Subject"]) and "\r" not in str(parsed["Subject"])
    assert not re.search(rb"(?mi)^bcc:", raw)
    html = parsed.get_body(("html",)).get_content()
    text = parsed.get_body(("plain",)).get_content()
    assert "<script" not in html and "<img" not in html
    assert "\u202e" not in html and "\u2028" not in text
    assert not re.search(r"(?m)^Bcc:", text)
    hold = next(p for p in parsed.walk() if p.get_content_type() == "text/calendar")
    calendar = icalendar.Calendar.from_ical(hold.get_content())
    event = calendar.walk("VEVENT")[0]
    assert "\n" not in str(event["SUMMARY"]) and len(str(event["SUMMARY"])) < 120


def _tags(html: str) -> Counter[str]:
    return Counter(t.lower() for t in re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9]*)", html))


@pytest.mark.parametrize("hostile", PAYLOADS, ids=[f"payload{n}" for n in range(len(PAYLOADS))])
def test_no_payload_adds_a_tag_a_header_or_an_invisible_character(hostile):
    """Every hostile string (tests/worker/payloads.py, 50+) in every text field: the
    page has exactly the tags of a harmless digest, the message exactly its headers,
    and no person-facing part carries an invisible, bidi or control character."""
    fields = dict(name=hostile, department=hostile, title=hostile, reason=hostile,
                  meeting_title=hostile, celebrate=hostile)
    benign = email.message_from_bytes(_wire(full_digest()), policy=email.policy.default)
    parsed = email.message_from_bytes(_wire(full_digest(**fields)), policy=email.policy.default)
    assert set(parsed.keys()) == EXPECTED_HEADERS
    assert str(parsed["X-Peerpulse-Period"]) == str(benign["X-Peerpulse-Period"])
    html = parsed.get_body(("html",)).get_content()
    # No tag added (an all-invisible name renders empty, so some may be left out).
    assert not _tags(html) - _tags(benign.get_body(("html",)).get_content())
    parts = {"subject": str(parsed["Subject"]), "html": html,
             "text": parsed.get_body(("plain",)).get_content()}
    for where, content in parts.items():
        bad = sorted({f"U+{ord(c):04X}" for c in content
                      if c in INVISIBLE or (unicodedata.category(c) == "Cc" and c not in "\r\n\t")})
        assert not bad, f"{where} carries {bad}"
    assert "\n" not in parts["subject"]


def test_the_payload_list_is_long_enough_for_the_reliability_report():
    assert len(PAYLOADS) >= 50


def test_a_long_name_is_cut_short_in_the_subject_and_the_page():
    digest = full_digest(name="Bartholomew" * 1000)
    rendered = _render(digest)
    assert len(rendered.subject) <= 140
    assert "Bartholomew" * 10 not in rendered.html


# -- the .ics hold -------------------------------------------------------------------


def test_the_hold_is_a_published_event_in_the_managers_zone_inviting_nobody():
    data = build_hold(full_digest(), organizer="sam@example.com", now=NOW)
    calendar = icalendar.Calendar.from_ical(data)
    assert str(calendar["METHOD"]) == "PUBLISH"
    event = calendar.walk("VEVENT")[0]
    assert "ATTENDEE" not in event
    assert str(event["ORGANIZER"]) == "mailto:sam@example.com"
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event.decoded("DTSTART") == datetime(2026, 11, 24, 12, 0,
                                                tzinfo=ZoneInfo("Europe/Berlin"))
    assert calendar.walk("VTIMEZONE")
    assert str(event["UID"]) == hold_uid("work", "2026-W48", "example.com")


def test_the_hold_uid_is_stable_per_account_and_period():
    uid = hold_uid("work", "2026-W48", "example.com")
    assert uid == hold_uid("work", "2026-W48", "example.com")
    assert uid != hold_uid("work", "2026-W49", "example.com")
    assert uid != hold_uid("home", "2026-W48", "example.com")


def test_no_hold_without_a_pick_or_a_slot():
    assert build_hold(empty_digest(), organizer="sam@example.com", now=NOW) is None
    digest = full_digest()
    no_slots = replace(digest, peer_of_the_week=replace(digest.peer_of_the_week, slots=()))
    assert build_hold(no_slots, organizer="sam@example.com", now=NOW) is None


def test_a_peer_not_yet_due_shows_no_negative_overdue():
    digest = full_digest()
    early = replace(digest.reconnect[0], days_overdue=-53)
    rendered = _render(replace(digest, reconnect=(early,)))
    assert "-53" not in rendered.text and "-53" not in rendered.html


INVISIBLE = (
    "\u200b\u200c\u200d\u2060\u061c\u180e\ufeff"
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def test_invisible_characters_never_reach_the_page_the_text_or_the_subject():
    hostile = "Al" + INVISIBLE + "ice"
    digest = full_digest(name=hostile, department=hostile, title=hostile, reason=hostile,
                         meeting_title=hostile, celebrate=hostile)
    parsed = email.message_from_bytes(_wire(digest), policy=email.policy.default)
    parts = {
        "subject": str(parsed["Subject"]),
        "html": parsed.get_body(("html",)).get_content(),
        "text": parsed.get_body(("plain",)).get_content(),
    }
    for where, content in parts.items():
        found = sorted({f"U+{ord(c):04X}" for c in content if c in INVISIBLE})
        assert not found, f"{where} carries {found}"
    assert "Alice" in parts["subject"] and "Alice" in parts["text"]


def test_footer_says_when_the_directory_has_no_manager_column() -> None:
    digest = full_digest()
    known = _render(digest)
    assert "no manager column" not in known.text and "no manager column" not in known.html
    digest = replace(digest, stats={**digest.stats, "management_chain_known": False})
    unknown = _render(digest)
    assert "Your directory has no manager column" in unknown.text
    assert "Your directory has no manager column" in unknown.html


def test_leaders_have_their_own_clearly_named_section() -> None:
    """Issue 9, item 2: leaders by title are shown apart from peers, under their own name."""
    boss = replace(person("vp@corp.example", "Val Vp", "Sales",
                          reason="A leader by title (VP Sales): last 1:1 90 days ago"),
                   title="VP Sales")
    digest = replace(full_digest(), leaders=(boss,))
    rendered = _render(digest)
    text = rendered.text
    assert "LEADERS TO KEEP INFORMED (not peers: above your level by title)" in text
    assert text.index("Val Vp") > text.index("LEADERS TO KEEP INFORMED")
    assert "Leaders to keep informed" in rendered.html and "Val Vp" in rendered.html
    assert "LEADERS TO KEEP INFORMED" not in _render(full_digest()).text


def test_no_fact_is_said_twice_in_one_entry() -> None:
    """Seen on Enron: "Last mail from them was 194 days ago; your cadence with EWS is 45
    days" and then "Why: last together 21 May (194 days ago); usual cadence every ~45
    days". The Why line adds only what the reason does not say."""
    from tests.rules.builders import ME, days_ago, mail, meeting, run

    FIN, HR = "fin@corp.example", "hr@corp.example"

    events = [meeting(days_ago(60 + 7 * w), FIN) for w in range(52)]
    messages = [mail(days_ago(370), ME, (HR,)), mail(days_ago(365), HR, (ME,))]
    digest = run(events, messages, period="2026-W47",
                 now=datetime(2026, 11, 19, 9, tzinfo=ZoneInfo("UTC"))).digest
    text = _render(digest).text
    blocks = [b for b in text.split("\n\n") if "fin@corp.example" in b]
    assert blocks
    for block in blocks:
        assert block.count("days ago") <= 1, block
        assert block.lower().count("cadence") <= 1, block
