"""Every public ICS and mail file we have: each one parses or is skipped, nothing raises.

Facts asserted here were checked by hand against the files (grep / reading them).
"""

from __future__ import annotations

import gzip
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from peerpulse.connectors.files.ics import IcsOptions, ics_items
from peerpulse.connectors.files.mail import (
    MailOwner,
    mbox_items,
    message_file_item,
    message_file_parts,
    message_meta,
)
from peerpulse.connectors.files.mbox import MboxScanner
from peerpulse.connectors.records import EventInstance, MailCommand, MessageMeta, SkippedInput

pytestmark = pytest.mark.corpus

OPTIONS = IcsOptions(
    window_start=datetime(2012, 1, 1, tzinfo=UTC),
    window_end=datetime(2026, 1, 1, tzinfo=UTC),
    timezone="Europe/Berlin",
    owner=frozenset({"owner@example.com"}),
)
OWNER = MailOwner(frozenset({"me@u.jaylee.us", "owner@example.com"}))
NOT_MAIL = (".md", ".csv", ".xml", ".sqlite", ".json", "_valid.txt", "_invalid.txt", "-summary.txt")
MBOX = (".mbox", ".mbox.txt", ".mbox.gz")


def ics_files(root: Path) -> list[Path]:
    dirs = [
        *root.glob("ics-*"),
        root / "nylas-sync-engine-fixtures",
        root / "bluemind-imip-and-ics",
    ]
    return sorted(p for d in dirs for p in d.rglob("*.ics") if p.is_file())


def mail_files(root: Path) -> list[Path]:
    return sorted(
        p
        for d in root.glob("email-*")
        for p in d.rglob("*")
        if p.is_file() and not p.name.endswith(NOT_MAIL)
    )


def read_mail(path: Path) -> list[MessageMeta | SkippedInput]:
    if path.name.endswith(MBOX):
        return [item for item, _ in mbox_items(path, path.name, OWNER)]
    return [message_file_item(path, path.name, OWNER)]


def test_every_ics_file_parses_or_is_skipped(corpora: Path) -> None:
    files = ics_files(corpora)
    assert len(files) > 700
    outcome: Counter[str] = Counter()
    for path in files:
        items = list(ics_items(path, str(path), OPTIONS))
        events = [i for i in items if isinstance(i, EventInstance)]
        assert all(isinstance(i, EventInstance | SkippedInput) for i in items)
        assert all(e.start.tzinfo is UTC and e.end >= e.start for e in events), path
        outcome["with events" if events else "no events" if not items else "only skips"] += 1
    # Counted on 2026-08 corpora: 418 files with events in 2012-2025, 191 with none
    # in the window (or only VTODO/VFREEBUSY), 95 only skips (mostly the fuzzing corpus).
    assert outcome["with events"] > 400 and outcome["only skips"] < 120, outcome


def test_known_recurring_calendars_expand_as_written(corpora: Path) -> None:
    folder = corpora / "ics-recurring-ical-events"
    ten = [
        e
        for e in ics_items(folder / "event_10_times.ics", "x", OPTIONS)
        if isinstance(e, EventInstance)
    ]
    assert len(ten) == 10  # RRULE:FREQ=DAILY;COUNT=10
    assert min(e.source_id for e in ten) == (
        "64374d28-089b-4958-8c95-cdd00e6d8ad3@2020-01-13T06:45:00Z"
    )  # 07:45 CET
    weekly = [
        e
        for e in ics_items(folder / "each_week_but_one_deleted.ics", "x", OPTIONS)
        if isinstance(e, EventInstance)
    ]
    assert len(weekly) == 7  # COUNT=8 minus one EXDATE


def test_every_mail_file_parses_or_is_skipped(corpora: Path) -> None:
    files = mail_files(corpora)
    assert len(files) > 300
    parsed = skipped = 0
    for path in files:
        for item in read_mail(path):
            if isinstance(item, MessageMeta):
                parsed += 1
                assert item.timestamp.tzinfo is UTC and item.source_id
            else:
                assert isinstance(item, SkippedInput) and item.reason
                skipped += 1
    assert parsed > 9000 and skipped < parsed / 50, (parsed, skipped)


def test_gmail_takeout_mbox(corpora: Path) -> None:
    items = read_mail(corpora / "email-gyb-samples" / "google-takeout" / "takeout.mbox")
    messages = [m for m in items if isinstance(m, MessageMeta)]
    assert len(messages) == len(items) == 39
    assert messages[0].message_id == "e8936654-4795-3fa7-b107-d08542c8ceb8@mail.com"
    assert messages[1].message_id == "9fb7e243-be78-e852-57ab-7aef95e0b0ea@merit.unu.edu"
    # X-GM-THRID 1628415971694286313 is the Gmail API thread id 1699413a5d8e8ae9.
    assert format(1628415971694286313, "x") in {m.thread_id for m in messages}


def test_google_vault_mbox(corpora: Path) -> None:
    (path,) = (corpora / "email-gyb-samples" / "vault-export-mbox").glob("*.mbox")
    messages = [m for m in read_mail(path) if isinstance(m, MessageMeta)]
    assert len(messages) == 53  # one per "From " envelope line
    assert Counter(m.direction.value for m in messages)["received"] > 0


def test_mailing_list_archive(corpora: Path) -> None:
    path = corpora / "email-mailinglist-uboot-stm32" / "uboot-stm32-all.mbox.gz"
    items = read_mail(path)
    messages = [m for m in items if isinstance(m, MessageMeta)]
    assert len(items) == len(messages) == 8536  # PROVENANCE.md: 8,536 messages
    assert len({m.source_id for m in messages}) == 8516  # ... with 8,516 unique Message-IDs
    assert all(m.list_id and m.precedence == "list" for m in messages)
    assert sum(1 for m in messages if m.in_reply_to) == 7393


def _header_blocks(path: Path) -> list[tuple[bytes, bytes, bool]]:
    if path.name.endswith(MBOX):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            return [(r.envelope, r.header, r.has_calendar_part) for r in MboxScanner(handle)]
    return [message_file_parts(path.read_bytes())]


def _meta(header: bytes, envelope: bytes, calendar: bool, plain: bool) -> object:
    try:
        return message_meta(header, OWNER, envelope=envelope, calendar_part=calendar, plain=plain)
    except Exception as exc:  # the same refusal both ways counts as the same outcome
        return (type(exc), str(exc))


def test_fast_header_decoding_gives_the_plain_records(corpora: Path) -> None:
    """Issue 14, item 2: the fast paths (one decode per block, the canonical-date regex)
    give every messy corpus message exactly the record the plain per-field decoding
    and ``parsedate_tz`` give, so they can never drift apart."""
    compared = records = 0
    for path in mail_files(corpora):
        for envelope, header, calendar in _header_blocks(path):
            fast = _meta(header, envelope, calendar, plain=False)
            assert fast == _meta(header, envelope, calendar, plain=True), (path, header[:300])
            compared += 1
            records += isinstance(fast, MessageMeta | MailCommand)
    assert compared > 9000 and records > 9000, (compared, records)
