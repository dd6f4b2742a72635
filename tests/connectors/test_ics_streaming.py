"""The ICS reader streams VEVENT blocks (issue 10, item 8): the same records as a
whole-file read, whatever the order of a series' parts in the file."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from peerpulse.connectors.files import ics as ics_module
from peerpulse.connectors.files.ics import ics_items_from_bytes
from peerpulse.connectors.files.ics_blocks import blocks, quick_uid
from peerpulse.connectors.records import EventInstance

from tests.connectors.test_ics import OPTIONS, WEEKLY_WITH_EXCEPTIONS, calendar, read

MASTER, MOVED, CANCELLED = (
    b"BEGIN:VEVENT" + part for part in WEEKLY_WITH_EXCEPTIONS.split(b"BEGIN:VEVENT")[1:]
)
SINGLE = b"BEGIN:VEVENT\nUID:single\nDTSTART:20240305T090000Z\nEND:VEVENT\n"


def _wrap(*parts: bytes, header: bytes = b"") -> bytes:
    body = b"".join(p if p.endswith(b"\n") else p + b"\n" for p in parts)
    body = body.replace(b"END:VCALENDAR\n", b"")
    return b"BEGIN:VCALENDAR\nVERSION:2.0\n" + header + body + b"END:VCALENDAR\n"


def _summary(data: bytes) -> list[tuple[str, str, str]]:
    """What the store ends with: records upserted in order, the last per id wins."""
    last = {}
    for item in ics_items_from_bytes(data, "cal.ics", OPTIONS):
        if isinstance(item, EventInstance):
            last[item.source_id] = item
    return sorted((e.source_id, e.start.isoformat(), e.status.value) for e in last.values())


@pytest.mark.parametrize("order", [
    (MASTER, MOVED, CANCELLED, SINGLE),
    (MOVED, SINGLE, MASTER, CANCELLED),
    (MASTER, SINGLE, CANCELLED, SINGLE.replace(b"single", b"other"), MOVED),
], ids=["adjacent", "override-first", "override-last"])
def test_a_series_scattered_over_the_file_reads_as_if_adjacent(order):
    expected = _summary(_wrap(MASTER, MOVED, CANCELLED, SINGLE))
    got = {s for s in _summary(_wrap(*order)) if not s[0].startswith("other")}
    assert got == set(expected)
    assert ("weekly-1@2024-03-20T09:00:00Z", "2024-03-20T14:00:00+00:00", "confirmed") in got


def test_a_time_zone_defined_after_the_events_is_used():
    zone = (b"BEGIN:VTIMEZONE\nTZID:Custom/Zone\nBEGIN:STANDARD\nDTSTART:19700101T000000\n"
            b"TZOFFSETFROM:+0300\nTZOFFSETTO:+0300\nEND:STANDARD\nEND:VTIMEZONE\n")
    series = (b"BEGIN:VEVENT\nUID:z\nDTSTART;TZID=Custom/Zone:20240306T100000\n"
              b"RRULE:FREQ=DAILY;COUNT=2\nEND:VEVENT\n")
    events, skipped = read(_wrap(series, zone))
    assert skipped == []
    assert [e.start.hour for e in events] == [7, 7]


def test_each_calendar_of_a_file_keeps_its_own_x_wr_timezone():
    floating = (b"BEGIN:VEVENT\nUID:%s\nDTSTART:20240306T100000\nRRULE:FREQ=DAILY;COUNT=1\n"
                b"END:VEVENT\n")
    data = (_wrap(floating % b"ny", header=b"X-WR-TIMEZONE:America/New_York\n")
            + _wrap(floating % b"tokyo", header=b"X-WR-TIMEZONE:Asia/Tokyo\n"))
    events, _ = read(data)
    assert {e.series_id: e.start.hour for e in events} == {"ny": 15, "tokyo": 1}


def test_a_block_cut_short_is_one_skip_and_the_rest_is_read():
    cut = b"BEGIN:VEVENT\nUID:cut\nDTSTART:20240301T100000Z\n"
    events, skipped = read(_wrap(SINGLE, cut, SINGLE.replace(b"single", b"after")))
    assert [e.source_id for e in events] == ["single", "after"]
    assert [s.location for s in skipped] == ["cal.ics:VEVENT #2 (UID cut)"]
    assert "END:VEVENT" in skipped[0].reason


def test_blocks_keep_nested_components_inside_their_event():
    data = _wrap(SINGLE.replace(b"END:VEVENT", b"BEGIN:VALARM\nACTION:DISPLAY\nEND:VALARM\n"
                                               b"END:VEVENT"))
    import io

    found = [b for b in blocks(io.BytesIO(data)) if b.kind == "VEVENT"]
    assert len(found) == 1 and found[0].complete and b"END:VALARM" in found[0].data


def test_the_quick_uid_reads_folded_lines_and_defers_escapes_to_the_parser():
    assert quick_uid(b"BEGIN:VEVENT\nUID:abc\n def\nEND:VEVENT\n") == "abcdef"
    assert quick_uid(b"BEGIN:VEVENT\nUID;X-P=1:abc\r\nEND:VEVENT\r\n") == "abc"
    assert quick_uid(b"BEGIN:VEVENT\nUID:a\\,b\nEND:VEVENT\n") is None
    assert quick_uid(b"BEGIN:VEVENT\nEND:VEVENT\n") is None


def test_the_whole_file_is_never_parsed_at_once(monkeypatch):
    def whole_file(*args, **kwargs):
        raise AssertionError("Calendar.from_ical on the whole file")

    monkeypatch.setattr(ics_module.Calendar, "from_ical", whole_file)
    events, _ = read(calendar("UID:a\nDTSTART:20240301T100000Z"))
    assert [e.source_id for e in events] == ["a"]


# Shaped like recurring-ical-events' issue_28 (Exchange 2010): all-day fortnightly
# series ending in a UTC UNTIL, another series between the master and its
# overrides, and overrides whose RECURRENCE-ID is a date-time in a Windows zone
# while the master's DTSTART is a date, so an override's source id is not the
# one the master's own occurrence on that day gets.
GMT_STANDARD_TIME = """BEGIN:VTIMEZONE
TZID:GMT Standard Time
BEGIN:STANDARD
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T010000
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
"""
BIN_MASTER = """BEGIN:VEVENT
RRULE:FREQ=WEEKLY;UNTIL={until}T230000Z;INTERVAL=2;BYDAY=TH;WKST=MO
UID:black-bin
SUMMARY:Refuse black bin
DTSTART;VALUE=DATE:{start}
DTEND;VALUE=DATE:{end}
TRANSP:TRANSPARENT
END:VEVENT
"""
BIN_MOVED = """BEGIN:VEVENT
UID:black-bin
RECURRENCE-ID;TZID=GMT Standard Time:{original}T000000
SUMMARY:Refuse black bin
DTSTART;VALUE=DATE:{start}
DTEND;VALUE=DATE:{end}
TRANSP:TRANSPARENT
END:VEVENT
"""
RECYCLE = """BEGIN:VEVENT
RRULE:FREQ=WEEKLY;UNTIL=20241016T230000Z;INTERVAL=2;BYDAY=TH;WKST=MO
UID:recycle-bin
SUMMARY:Blue recycle bin
DTSTART;VALUE=DATE:20240912
DTEND;VALUE=DATE:20240913
END:VEVENT
"""


def bin_calendar() -> bytes:
    """The master, the other series, then two overrides each moved a day later."""
    parts = [
        BIN_MASTER.format(until="20241120", start="20240905", end="20240906"),
        RECYCLE,
        BIN_MOVED.format(original="20240919", start="20240920", end="20240921"),
        BIN_MOVED.format(original="20241017", start="20241018", end="20241019"),
    ]
    text = ("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:Microsoft Exchange Server 2010\n"
            + GMT_STANDARD_TIME + "".join(parts) + "END:VCALENDAR\n")
    return text.replace("\n", "\r\n").encode()


def plain_occurrences(data: bytes, start, end) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(UID, start date) of every occurrence icalendar + recurring-ical-events give."""
    import icalendar
    import recurring_ical_events

    found = recurring_ical_events.of(icalendar.Calendar.from_ical(data)).between(start, end)
    return sorted((str(e["UID"]), e["DTSTART"].dt.isoformat()) for e in found)


def test_overrides_after_another_series_leave_no_stale_occurrence_of_their_master():
    data = bin_calendar()
    records = [i for i in ics_items_from_bytes(data, "cal.ics", OPTIONS)
               if isinstance(i, EventInstance)]
    ids = [r.source_id for r in records]
    assert len(ids) == len(set(ids)), "each occurrence is yielded once"
    starts = sorted((r.series_id, r.start.astimezone(ZoneInfo("Europe/Berlin")).date().isoformat())
                    for r in records)
    assert starts == plain_occurrences(data, OPTIONS.window_start, OPTIONS.window_end)
    black = [s for u, s in starts if u == "black-bin"]
    assert "2024-09-19" not in black and "2024-09-20" in black
