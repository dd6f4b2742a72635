"""The demo organization: deterministic, internally consistent, and true to its answer key."""

from __future__ import annotations

import csv
import json
import mailbox
from datetime import UTC, date, datetime, time, timedelta
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from peerpulse.worker.demo import DemoSummary, generate
from peerpulse.worker.demo.ground_truth import TRAP_REASONS, event_kind
from peerpulse.worker.demo.ics_format import fold
from peerpulse.worker.demo.invites import safe_to_decline

END = date(2026, 11, 26)
KINDS = {"one_on_one", "lunch", "small_meeting", "large_meeting", "mail_sent", "mail_received"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    return generate(tmp_path_factory.mktemp("demo"), seed=7, end=END)


@pytest.fixture(scope="module")
def truth(demo: DemoSummary) -> list[dict]:
    return [json.loads(line) for line in demo.ground_truth_path.read_text().splitlines()]


@pytest.fixture(scope="module")
def people(demo: DemoSummary) -> list[dict[str, str]]:
    with demo.people_path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def instances(demo: DemoSummary) -> dict[str, icalendar.Event]:
    """Every expanded event instance, keyed like the ground truth's event records."""
    cal = icalendar.Calendar.from_ical(demo.calendar_path.read_bytes())
    out = {}
    span = (datetime.combine(END - timedelta(days=200), time(), UTC),
            datetime.combine(END + timedelta(days=30), time(), UTC))
    for event in recurring_ical_events.of(cal).between(*span):
        start = event.decoded("DTSTART")
        if not isinstance(start, datetime):  # all-day: midnight in the owner's zone
            start = datetime.combine(start, time(), ZoneInfo("Europe/Berlin"))
        out[f"event:{event['UID']}@{start.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"] = event
    return out


@pytest.fixture(scope="module")
def messages(demo: DemoSummary) -> dict[str, mailbox.mboxMessage]:
    box = mailbox.mbox(demo.mail_path, create=False)
    try:
        return {f"mail:{m['Message-ID'].strip('<>').lower()}": m for m in box}
    finally:
        box.close()


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


# -- determinism -----------------------------------------------------------------------


def test_the_same_arguments_write_byte_identical_files(demo: DemoSummary, tmp_path: Path):
    again = generate(tmp_path / "again", seed=7, end=END)
    assert _files(demo.out_dir) == _files(again.out_dir)
    assert set(_files(demo.out_dir)) == {"people.csv", "calendar/dana.ics", "mail/dana.mbox",
                                         "ground_truth.jsonl", "demo.json",
                                         "expectations.json"}


def test_another_seed_writes_a_different_company(demo: DemoSummary, tmp_path: Path):
    other = _files(generate(tmp_path / "other", seed=8, end=END).out_dir)
    mine = _files(demo.out_dir)
    for name in ("people.csv", "calendar/dana.ics", "mail/dana.mbox", "ground_truth.jsonl"):
        assert other[name] != mine[name], name


def test_scale_multiplies_mail_volume_and_keeps_the_calendar_modest(demo: DemoSummary,
                                                                    tmp_path: Path):
    bigger = generate(tmp_path / "x3", seed=7, scale=3.0, end=END)
    assert 2.5 * demo.messages < bigger.messages < 3.5 * demo.messages
    assert demo.events < bigger.events < 2.5 * demo.events


def test_too_few_managers_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="managers"):
        generate(tmp_path, managers=5, end=END)


# -- the org chart ---------------------------------------------------------------------


def _peers_from_csv(rows: list[dict[str, str]], owner: str) -> set[str]:
    manager_of = {r["email"]: r["manager"] for r in rows}
    managing = {r["manager"] for r in rows if r["manager"]}
    chain, boss = set(), manager_of[owner]
    while boss:
        chain.add(boss)
        boss = manager_of[boss]
    below, frontier = set(), {owner}
    while frontier:
        frontier = {r["email"] for r in rows if r["manager"] in frontier}
        below |= frontier
    return {e for e in managing if e != owner and e not in chain and e not in below}


def test_the_org_chart_has_one_head_and_a_consistent_management_chain(people, demo):
    emails = [r["email"] for r in people]
    assert len(emails) == len(set(emails)) == demo.people >= 200
    heads = [r for r in people if not r["manager"]]
    assert [h["title"] for h in heads] == ["Chief Executive Officer"]
    manager_of = {r["email"]: r["manager"] for r in people}
    for email in emails:  # every chain reaches the CEO without a cycle
        seen, boss = {email}, manager_of[email]
        while boss:
            assert boss in manager_of and boss not in seen, email
            seen.add(boss)
            boss = manager_of[boss]
    reports: dict[str, int] = {}
    for email in emails:
        boss = manager_of[email]
        while boss:
            reports[boss] = reports.get(boss, 0) + 1
            boss = manager_of[boss]
    assert all(int(r["team_size"]) == reports.get(r["email"], 0) for r in people)


def test_the_focal_manager_has_a_manager_reports_and_peers_in_hr_and_finance(people, demo):
    rows = {r["email"]: r for r in people}
    owner = rows[demo.owner]
    assert owner["department"] == "Engineering" and owner["manager"]
    assert set(owner["aliases"].split(";")) == set(demo.aliases)
    assert sum(1 for r in people if r["manager"] == demo.owner) >= 5
    peers = _peers_from_csv(people, demo.owner)
    assert len(peers) == demo.peers >= 30
    departments = {rows[p]["department"] for p in peers}
    assert {"HR", "Finance", "Engineering", "Sales", "Legal"} <= departments
    titles = {rows[p]["title"].split(",")[0] for p in peers}
    assert {"VP", "Director", "Manager", "Senior Manager"} <= titles
    meta = json.loads(demo.meta_path.read_text())
    assert set(meta["peers"]) == peers
    assert meta["owner"] == demo.owner and meta["timezone"] == "Europe/Berlin"


def test_aliases_belong_to_exactly_one_person(people):
    owners: dict[str, str] = {}
    for r in people:
        for alias in filter(None, r["aliases"].split(";")):
            assert alias not in owners and alias not in {p["email"] for p in people}
            owners[alias] = r["email"]
    assert owners["lchen@example.com"] == owners["lee.chen@example.co.uk"] == \
        "lee.chen@example.com"


# -- the answer key against the files --------------------------------------------------


def test_every_ground_truth_record_exists_in_the_written_files(truth, instances, messages):
    records = {row["record"] for row in truth}
    written = set(instances) | set(messages)
    assert records - written == set()
    assert written - records == set()  # and nothing written is left unjudged


def test_every_trap_category_is_present(truth):
    reasons = {row["trap"] for row in truth if "trap" in row}
    assert reasons == set(TRAP_REASONS)


def test_interactions_name_peers_by_their_canonical_address(truth, people, demo):
    peers = _peers_from_csv(people, demo.owner)
    interactions = [row for row in truth if "kind" in row]
    assert {row["kind"] for row in interactions} == KINDS
    assert {row["person"] for row in interactions} <= peers
    pairs = [(row["person"], row["record"]) for row in interactions]
    assert len(pairs) == len(set(pairs))
    assert all(row["when"] < "2026-11-26" for row in interactions)


def test_peers_range_from_frequent_to_never_met(truth, demo):
    meta = json.loads(demo.meta_path.read_text())
    counts = {p: 0 for p in meta["peers"]}
    for row in truth:
        if "kind" in row:
            counts[row["person"]] += 1
    assert counts["lee.chen@example.com"] >= 40
    assert sum(1 for c in counts.values() if c == 0) >= 2
    recent = {row["person"] for row in truth if "kind" in row and row["when"] >= "2026-09-01"}
    dormant = [p for p, c in counts.items() if c and p not in recent]
    assert dormant, "some peers should have gone quiet for months"


def test_alias_addresses_are_used_in_the_files(demo):
    ics = demo.calendar_path.read_text(encoding="utf-8")
    mbox = demo.mail_path.read_text(encoding="utf-8")
    assert "mailto:lchen@example.com" in ics
    assert "Oliver.Hughes@Example.co.uk" in ics
    assert "lee.chen@example.co.uk" in mbox and "LChen@Example.com" in mbox
    assert "From: Dana Reyes <dana.reyes@example.co.uk>" in mbox


@pytest.mark.parametrize(("summary", "kind", "person"), [
    ("Lunch with Lee", "lunch", "lee.chen@example.com"),
    ("Managers' dinner", "large_meeting", None),  # 25 people: the largest that counts
    ("Hiring sync", "small_meeting", None),  # 8 people
    ("Ops review", "large_meeting", "hanako.sato@example.com"),  # 9 people
    ("Coffee with Hanako (Tokyo visit)", "lunch", "hanako.sato@example.com"),
    ("Budget review: Platform 2027", "one_on_one", "soren.aberg@example.com"),  # organizer only
    ("Team lunch with Support managers", "lunch", "oliver.hughes@example.com"),
])
def test_scripted_meetings_have_the_expected_kind(truth, instances, summary, kind, person):
    keys = {k for k, e in instances.items() if str(e["SUMMARY"]) == summary}
    rows = [r for r in truth if r["record"] in keys and "kind" in r]
    assert rows and {r["kind"] for r in rows} == {kind}
    if person:
        assert person in {r["person"] for r in rows}


@pytest.mark.parametrize(("summary", "reason"), [
    ("Q4 planning kickoff", "too_big"),  # 26 people
    ("Engineering Town Hall", "all_hands"),
    ("Company All Hands", "all_hands"),
    ("Pricing strategy review", "declined"),
    ("Canceled: Vendor contract sync", "cancelled"),
    ("Leadership offsite", "all_day"),
    ("FYI: Support quarterly demo (optional)", "free"),
    ("Out of office - Lee covers platform questions", "out_of_office"),
    ("Focus time", "focus_time"),
    ("Write performance reviews", "self_only"),
    ("Søren / Dana catch-up", "future_meeting"),
])
def test_scripted_traps_are_judged_for_the_right_reason(truth, instances, summary, reason):
    keys = {k for k, e in instances.items() if str(e["SUMMARY"]) == summary}
    rows = [r for r in truth if r["record"] in keys]
    assert rows and {r.get("trap") for r in rows} == {reason}


def test_the_recipient_limit_counts_fifteen_but_not_sixteen(truth, messages):
    def verdicts(subject: str) -> set[str]:
        keys = {k for k, m in messages.items() if m["Subject"] == subject}
        return {r.get("kind") or r["trap"] for r in truth if r["record"] in keys}

    assert verdicts("Sales kickoff: platform asks") == {"mail_received"}
    assert verdicts("Platform roadmap for partner teams") == {"too_big"}


def test_celebrations_from_peers_are_real_mail(truth, messages):
    subjects = {str(make_header(decode_header(m["Subject"]))): k for k, m in messages.items()}
    for subject in ("Promoted to Director!", "We launched Atlas 🚀", "Shipped v2"):
        rows = [r for r in truth if r["record"] == subjects[subject]]
        assert [r["kind"] for r in rows] == ["mail_received"], subject
    shipped = [r for r in truth if r["record"] == subjects["Shipped v2"]]
    assert shipped[0]["person"] == "lee.chen@example.com"  # written from an alias


# -- the files as files ----------------------------------------------------------------


def test_the_calendar_is_folded_crlf_with_time_zones(demo):
    raw = demo.calendar_path.read_bytes()
    lines = raw.split(b"\r\n")
    assert lines[-1] == b"" and b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in lines) <= 75
    text = raw.decode("utf-8")
    for zone in ("Europe/Berlin", "America/New_York", "Europe/London", "Asia/Tokyo"):
        assert f"TZID:{zone}" in text and f"TZID={zone}:" in text
    for needle in ("X-WR-TIMEZONE:Europe/Berlin", "CUTYPE=ROOM", "PARTSTAT=DECLINED",
                   "STATUS:CANCELLED", "RECURRENCE-ID", "EXDATE", "TRANSP:TRANSPARENT",
                   "X-MICROSOFT-CDO-BUSYSTATUS:OOF", "DTSTART;VALUE=DATE", "COUNT=",
                   "FREQ=MONTHLY;BYDAY=1TH"):
        assert needle in text, needle


def test_the_mailbox_parses_with_headers_the_connector_needs(messages, demo):
    assert len(messages) == demo.messages
    for message in messages.values():
        assert not message.defects
        assert parsedate_to_datetime(message["Date"]).tzinfo is not None
        assert message["X-GM-THRID"] and message["X-Gmail-Labels"]
        getaddresses(message.get_all("To", []) + message.get_all("Cc", []))
    headers = {h for m in messages.values() for h in m}
    assert {"List-Id", "List-Unsubscribe", "Precedence", "Auto-Submitted", "In-Reply-To",
            "References", "Bcc"} <= headers
    invitations = [m for m in messages.values() if m["Subject"].startswith("Invitation: ")]
    assert invitations and all(
        any(p.get_content_type() == "text/calendar" for p in m.walk()) for m in invitations)


def test_mbox_bodies_are_escaped_so_no_message_splits(demo, messages):
    text = demo.mail_path.read_text(encoding="utf-8")
    assert "\n>From my side" in text and "\n>>From the notes" in text
    assert text.count("\nFrom ") + 1 == len(messages)


def test_nothing_is_dated_on_the_end_day_or_after_the_future_fortnight(truth):
    whens = [r["when"] for r in truth]
    assert not [w for w in whens if w.startswith("2026-11-26")]
    assert max(whens) < "2026-12-11"
    future = [r for r in truth if r["when"] >= "2026-11-26"]
    assert future and all("trap" in r for r in future)
    scheduled = {r["person"] for r in future if r["trap"] == "future_meeting"}
    assert {"soren.aberg@example.com", "renee.muller@example.com",
            "lee.chen@example.com"} <= scheduled


# -- pure helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(("title", "people", "kind"), [
    ("Dana / Lee", 2, "one_on_one"),
    ("Lunch with Lee", 2, "lunch"),
    ("Team lunch", 5, "lunch"),
    ("COFFEE chat", 8, "lunch"),
    ("Managers' dinner", 9, "large_meeting"),
    ("Roadmap", 3, "small_meeting"),
    ("Roadmap", 8, "small_meeting"),
    ("Roadmap", 9, "large_meeting"),
    ("Roadmap", 25, "large_meeting"),
])
def test_event_kind_follows_size_and_meal_titles(title, people, kind):
    assert event_kind(title, people) == kind


@pytest.mark.parametrize(("people", "safe"), [(3, False), (4, True), (8, True), (9, False),
                                              (10, True), (25, True), (26, False)])
def test_a_decline_is_only_generated_where_it_cannot_change_the_size_class(people, safe):
    assert safe_to_decline(people) is safe


@pytest.mark.parametrize("line", ["SUMMARY:" + "x" * 200, "SUMMARY:" + "é" * 100,
                                  "SUMMARY:" + "🚀" * 40, "SUMMARY:short"])
def test_folding_keeps_lines_within_75_octets_and_characters_whole(line):
    folded = fold(line)
    parts = folded.split("\r\n")
    assert parts[-1] == ""
    assert all(len(p.encode()) <= 75 for p in parts)
    assert "".join(p[1:] if i else p for i, p in enumerate(parts[:-1])) == line


def test_the_answer_key_initiates_a_series_once_and_never_by_a_reply(truth, messages):
    """Issue 9: a series is one initiative (its first held occurrence); a reply none."""
    by_series: dict[tuple[str, str], list[str | None]] = {}
    for item in truth:
        if "trap" in item:
            continue
        assert item["initiated"] in ("me", "them", None), item
        if item["record"].startswith("event:"):
            uid = item["record"][len("event:"):].rsplit("@", 1)[0]
            by_series.setdefault((item["person"], uid), []).append(item["initiated"])
        else:
            message = messages[item["record"]]
            if message["In-Reply-To"]:
                assert item["initiated"] is None, item
    repeated = {k: v for k, v in by_series.items() if len(v) > 3}
    assert repeated, "the demo has recurring series"
    for key, marks in repeated.items():
        assert sum(m is not None for m in marks) <= 1, key
