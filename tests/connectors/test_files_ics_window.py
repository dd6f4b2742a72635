"""An unchanged ICS under a window that moves day by day (issue 14, item 3).

The next day's sync must not re-read the whole file, yet leave the store exactly
as a whole re-read would: occurrences entering at the future edge added, those
leaving at the past edge deleted, across a DST change, for series with
overrides and exceptions, all-day and multi-day events, and events without UID.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from peerpulse.connectors.base import SourceContext
from peerpulse.connectors.files import connector as connector_module
from peerpulse.connectors.files.connector import FilesConnector, FilesSource
from peerpulse.connectors.files.ics_window import CalendarScan, shifted_calendar
from peerpulse.connectors.files.settings import FilesSettings
from peerpulse.worker.store import open_store
from peerpulse.worker.sync import store_state

ACCOUNT = "me"
START = datetime(2024, 10, 14, 6, tzinfo=UTC)  # DST ends 2024-10-27 in Berlin

CALENDAR = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:weekly-1on1
DTSTART;TZID=Europe/Berlin:20240902T090000
DTEND;TZID=Europe/Berlin:20240902T093000
RRULE:FREQ=WEEKLY;BYDAY=MO,TH
EXDATE;TZID=Europe/Berlin:20241031T090000
SUMMARY:1:1
ORGANIZER:mailto:owner@example.com
ATTENDEE;PARTSTAT=ACCEPTED:mailto:peer@example.com
END:VEVENT
BEGIN:VEVENT
UID:weekly-1on1
RECURRENCE-ID;TZID=Europe/Berlin:20241028T090000
DTSTART;TZID=Europe/Berlin:20241028T140000
DTEND;TZID=Europe/Berlin:20241028T143000
SUMMARY:1:1 (moved)
END:VEVENT
BEGIN:VEVENT
UID:daily-standup
DTSTART:20241001T070000Z
DURATION:PT15M
RRULE:FREQ=DAILY;COUNT=40
SUMMARY:standup
END:VEVENT
BEGIN:VEVENT
DTSTART:20241103T120000Z
DTEND:20241103T130000Z
SUMMARY:no uid lunch
END:VEVENT
{singles}END:VCALENDAR
"""


def single(n: int, day: datetime, hours: int = 1, all_day: bool = False) -> str:
    if all_day:
        span = (f"DTSTART;VALUE=DATE:{day:%Y%m%d}\n"
                f"DTEND;VALUE=DATE:{day + timedelta(days=hours):%Y%m%d}\n")
    else:
        span = (f"DTSTART:{day:%Y%m%dT%H%M%SZ}\n"
                f"DTEND:{day + timedelta(hours=hours):%Y%m%dT%H%M%SZ}\n")
    return (f"BEGIN:VEVENT\nUID:single-{n}@example.com\n{span}SUMMARY:meeting {n}\n"
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:peer@example.com\nEND:VEVENT\n")


def write_calendar(path: Path) -> None:
    base = datetime(2024, 9, 25, 23, 30, tzinfo=UTC)  # late UTC: another local date
    singles = [single(n, base + timedelta(hours=19 * n)) for n in range(80)]
    singles.append(single(900, datetime(2024, 10, 1, tzinfo=UTC), hours=24 * 9))  # long
    singles.append(single(901, datetime(2024, 10, 29, tzinfo=UTC), hours=2, all_day=True))
    singles.append(single(902, datetime(2024, 10, 8, 22, tzinfo=UTC), hours=0))  # no length
    path.write_text(CALENDAR.replace("{singles}", "".join(singles)).replace("\n", "\r\n"),
                    newline="")


def source(base: Path, store, now: datetime) -> FilesSource:  # type: ignore[no-untyped-def]
    context = SourceContext(
        account=ACCOUNT, owner_addresses=frozenset({"owner@example.com"}),
        timezone="Europe/Berlin", base_dir=str(base), now=now,
        committed_state=store_state(store, ACCOUNT),
    )
    settings = FilesSettings(calendar=["cal.ics"], window_past_days=10, window_future_days=12)
    (found,) = FilesConnector(context, settings).sources()
    return found


def sync(store, src: FilesSource) -> None:  # type: ignore[no-untyped-def]
    for batch in src.sync(store.cursor(ACCOUNT, src.name)):
        store.apply_batch(ACCOUNT, src.name, batch)


def events(store) -> list[tuple]:  # type: ignore[no-untyped-def]
    return sorted((e.source_id, e.start, e.end, e.title, e.series_id, e.attendees)
                  for e in store.iter_events(ACCOUNT))


def test_a_moving_window_over_an_unchanged_file_matches_a_whole_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_calendar(tmp_path / "cal.ics")
    whole_reads: list[str] = []
    real = connector_module.ics_items

    def counting(path, label, options):  # type: ignore[no-untyped-def]
        whole_reads.append(label)
        return real(path, label, options)

    monkeypatch.setattr(connector_module, "ics_items", counting)
    with open_store(tmp_path / "moving.db") as moving:
        sync(moving, source(tmp_path, moving, START))
        assert len(whole_reads) == 1
        for day in range(1, 26):
            now = START + timedelta(days=day)
            sync(moving, source(tmp_path, moving, now))
            with open_store(tmp_path / f"whole{day}.db") as whole:
                sync(whole, source(tmp_path, whole, now))
                assert events(moving) == events(whole), f"day {day}"
                assert events(whole), "the window must hold occurrences"
        # One whole read for the moving store, one per fresh store: none for the shifts.
        assert len(whole_reads) == 1 + 25


def test_a_changed_file_or_a_window_gone_back_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    write_calendar(path)
    with open_store(tmp_path / "s.db") as store:
        sync(store, source(tmp_path, store, START))
        later = START + timedelta(days=3)
        path.write_text(path.read_text().replace("SUMMARY:meeting 25\n", "SUMMARY:renamed 25\n"))
        sync(store, source(tmp_path, store, later))
        assert any(e[3] == "renamed 25" for e in events(store))
        sync(store, source(tmp_path, store, START))  # the clock went back: whole read
        with open_store(tmp_path / "w.db") as whole:
            sync(whole, source(tmp_path, whole, START))
            assert events(store) == events(whole)


def test_the_cut_keeps_series_and_near_events_only() -> None:
    data = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
        b"BEGIN:VEVENT\r\nUID:far\r\nDTSTART:20200101T100000Z\r\nEND:VEVENT\r\n"
        b"BEGIN:VEVENT\r\nUID:near\r\nDTSTART:20241010T100000Z\r\nEND:VEVENT\r\n"
        b"BEGIN:VEVENT\r\nUID:ser\r\n ies\r\nDTSTART:20200101T100000Z\r\nRRULE:FREQ=DAILY\r\n"
        b"END:VEVENT\r\n"
        b"BEGIN:VEVENT\r\nUID:series\r\nRECURRENCE-ID:20200102T100000Z\r\n"
        b"DTSTART:20200102T120000Z\r\nEND:VEVENT\r\n"
        b"END:VCALENDAR\r\n"
    )
    window = [(datetime(2024, 10, 10, tzinfo=UTC), datetime(2024, 10, 11, tzinfo=UTC))]
    cut = shifted_calendar(data, window)
    assert cut is not None
    assert b"UID:far" not in cut
    assert b"UID:near" in cut and b"RRULE" in cut and b"RECURRENCE-ID" in cut
    assert shifted_calendar(data + data, window) is None  # two VCALENDARs: read whole


def test_a_scan_it_cannot_trust_sends_the_file_to_the_whole_reader() -> None:
    unbalanced = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nEND:VCALENDAR\r\n"
    assert CalendarScan.of(unbalanced) is None
    assert CalendarScan.of(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\n") is None
    missing_end = (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nBEGIN:VEVENT\r\nUID:b\r\n"
                   b"END:VEVENT\r\nEND:VCALENDAR\r\n")
    assert CalendarScan.of(missing_end) is None


def test_a_shift_killed_before_its_last_batch_is_done_again_to_the_same_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_calendar(tmp_path / "cal.ics")
    monkeypatch.setattr(connector_module, "BATCH_SIZE", 2)
    later = START + timedelta(days=4)
    with open_store(tmp_path / "killed.db") as killed:
        sync(killed, source(tmp_path, killed, START))
        src = source(tmp_path, killed, later)
        batches = list(src.sync(killed.cursor(ACCOUNT, src.name)))
        assert len(batches) > 1, "the shift must span several batches for this test"
        killed.apply_batch(ACCOUNT, src.name, batches[0])  # killed after the first
        sync(killed, source(tmp_path, killed, later))
        with open_store(tmp_path / "whole.db") as whole:
            sync(whole, source(tmp_path, whole, later))
            assert events(killed) == events(whole)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_bytes().decode()
    assert old in text, old
    path.write_bytes(text.replace(old, new, 1).encode())


def test_a_changed_file_reads_only_its_changed_events_and_matches_a_whole_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cal.ics"
    write_calendar(path)
    whole_reads: list[str] = []
    real = connector_module.ics_items

    def counting(path, label, options):  # type: ignore[no-untyped-def]
        whole_reads.append(label)
        return real(path, label, options)

    monkeypatch.setattr(connector_module, "ics_items", counting)
    later = START + timedelta(days=2)
    steps = [
        ("SUMMARY:meeting 25\r\n", "SUMMARY:renamed 25\r\n"),  # a single changed
        ("SUMMARY:1:1 (moved)\r\n", "SUMMARY:1:1 (moved again)\r\n"),  # an override
        ("DTSTART;TZID=Europe/Berlin:20241028T140000\r\n",
         "DTSTART;TZID=Europe/Berlin:20241028T160000\r\n"),  # the override moved
        ("EXDATE;TZID=Europe/Berlin:20241031T090000\r\n", ""),  # an exception lifted
        ("BEGIN:VEVENT\r\nUID:single-24@example.com\r\n",
         "BEGIN:VEVENT\r\nUID:single-24-new@example.com\r\n"),  # one went, one came
        ("RRULE:FREQ=DAILY;COUNT=40\r\n", "RRULE:FREQ=DAILY;COUNT=20\r\n"),  # series shrank
    ]
    with open_store(tmp_path / "moving.db") as moving:
        sync(moving, source(tmp_path, moving, START))
        for n, (old, new) in enumerate(steps):
            edit(path, old, new)
            now = START if n < 3 else later  # step 3 also moves the window
            sync(moving, source(tmp_path, moving, now))
            with open_store(tmp_path / f"whole{n}.db") as whole:
                sync(whole, source(tmp_path, whole, now))
                assert events(moving) == events(whole), f"step {n}: {new!r}"
    # The first read, one per fresh store, and step 3 (a change and a moved window
    # together are read whole): no other.
    assert len(whole_reads) == 1 + len(steps) + 1


def test_a_changed_time_zone_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cal.ics"
    write_calendar(path)
    with open_store(tmp_path / "s.db") as store:
        sync(store, source(tmp_path, store, START))
        edit(path, "TZOFFSETTO:+0200", "TZOFFSETTO:+0300")
        calls: list[str] = []
        real = connector_module.ics_items
        monkeypatch.setattr(connector_module, "ics_items",
                            lambda p, label, o: calls.append(label) or real(p, label, o))
        sync(store, source(tmp_path, store, START))
        assert calls == ["cal.ics"]


def test_a_changed_read_killed_before_its_last_batch_is_done_again_to_the_same_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cal.ics"
    write_calendar(path)
    monkeypatch.setattr(connector_module, "BATCH_SIZE", 2)
    with open_store(tmp_path / "killed.db") as killed:
        sync(killed, source(tmp_path, killed, START))
        edit(path, "SUMMARY:standup\r\n", "SUMMARY:daily standup\r\n")
        edit(path, "COUNT=40", "COUNT=30")
        src = source(tmp_path, killed, START)
        batches = list(src.sync(killed.cursor(ACCOUNT, src.name)))
        assert len(batches) > 1, "the read must span several batches for this test"
        killed.apply_batch(ACCOUNT, src.name, batches[0])  # killed after the first
        sync(killed, source(tmp_path, killed, START))
        with open_store(tmp_path / "whole.db") as whole:
            sync(whole, source(tmp_path, whole, START))
            assert events(killed) == events(whole)


def test_every_corpus_calendar_shifts_like_a_whole_read(corpora: Path, tmp_path: Path) -> None:
    """Real exports (ical4j, icalendar, khal, Radicale, Nylas, ...): a window moved
    by 401 days (both edges cross years of dates) leaves the store as a whole read
    would. (One-day moves are covered above; this sweep keeps to one move so the
    corpus run stays near three minutes on 2 cores.)"""
    from tests.connectors.test_corpora import ics_files

    files = ics_files(corpora)
    assert len(files) > 50
    start = datetime(2019, 6, 1, 6, tzinfo=UTC)
    compared = 0
    for n, original in enumerate(files):
        base = tmp_path / f"f{n}"
        base.mkdir()
        (base / "cal.ics").write_bytes(original.read_bytes())

        def src(store, now: datetime, base: Path = base) -> FilesSource:  # type: ignore[no-untyped-def]
            context = SourceContext(
                account=ACCOUNT, owner_addresses=frozenset({"owner@example.com"}),
                timezone="Europe/Berlin", base_dir=str(base), now=now,
                committed_state=store_state(store, ACCOUNT),
            )
            settings = FilesSettings(calendar=["cal.ics"], window_past_days=3650,
                                     window_future_days=60)
            (found,) = FilesConnector(context, settings).sources()
            return found

        with open_store(base / "moving.db") as moving:
            sync(moving, src(moving, start))
            for days in (401,):
                now = start + timedelta(days=days)
                sync(moving, src(moving, now))
                with open_store(base / f"whole{days}.db") as whole:
                    sync(whole, src(whole, now))
                    assert events(moving) == events(whole), f"{original} +{days} days"
                    compared += bool(events(whole))
    assert compared > 20


def test_overrides_after_another_series_shift_like_a_whole_read_and_like_the_library(
    tmp_path: Path,
) -> None:
    """issue_28-shaped (Exchange all-day series, its overrides after another
    series, RECURRENCE-ID a date-time): day by day over the overrides, the moved
    store, a whole read and plain icalendar + recurring-ical-events agree."""
    from tests.connectors.test_ics_streaming import bin_calendar, plain_occurrences

    data = bin_calendar()
    (tmp_path / "cal.ics").write_bytes(data)
    start = datetime(2024, 9, 1, 6, tzinfo=UTC)
    with open_store(tmp_path / "moving.db") as moving:
        sync(moving, source(tmp_path, moving, start))
        for day in range(1, 50, 3):
            now = start + timedelta(days=day)
            sync(moving, source(tmp_path, moving, now))
            with open_store(tmp_path / f"whole{day}.db") as whole:
                sync(whole, source(tmp_path, whole, now))
                assert events(moving) == events(whole), f"day {day}"
                midnight = datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC)
                expected = plain_occurrences(data, midnight - timedelta(days=10),
                                             midnight + timedelta(days=13))
                got = sorted((e.series_id, e.start.astimezone(ZoneInfo("Europe/Berlin"))
                              .date().isoformat()) for e in whole.iter_events(ACCOUNT))
                assert got == expected and expected, f"day {day}"
