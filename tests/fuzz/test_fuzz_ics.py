"""A mutated ICS export yields only events with aware UTC times, or counted skips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st
from peerpulse.connectors.files.ics import IcsOptions, ics_items_from_bytes
from peerpulse.connectors.records import EventInstance, SkippedInput

from tests.fuzz.budget import budget

OPTIONS = IcsOptions(
    window_start=datetime(2024, 1, 1, tzinfo=UTC),
    window_end=datetime(2024, 4, 1, tzinfo=UTC),
    timezone="Europe/Berlin",
    owner=frozenset({"me@corp.example"}),
    subjects="kept",
)

VALID = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//peerpulse//fuzz//EN
X-WR-TIMEZONE:Europe/Berlin
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:STANDARD
DTSTART:19701025T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700329T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:weekly@corp.example
DTSTART;TZID=Europe/Berlin:20240108T100000
DTEND;TZID=Europe/Berlin:20240108T103000
RRULE:FREQ=WEEKLY;COUNT=10
EXDATE;TZID=Europe/Berlin:20240115T100000
SUMMARY:Lee / me
ORGANIZER;CN=Me:mailto:me@corp.example
ATTENDEE;PARTSTAT=ACCEPTED;CN=Lee:mailto:lee@corp.example
END:VEVENT
BEGIN:VEVENT
UID:weekly@corp.example
RECURRENCE-ID;TZID=Europe/Berlin:20240122T100000
DTSTART;TZID=Europe/Berlin:20240122T140000
DTEND;TZID=Europe/Berlin:20240122T143000
SUMMARY:Lee / me (moved)
END:VEVENT
BEGIN:VEVENT
UID:lunch@corp.example
DTSTART:20240301T113000Z
DURATION:PT1H
SUMMARY:Lunch
ATTENDEE;PARTSTAT=TENTATIVE:mailto:ana@corp.example
STATUS:CONFIRMED
END:VEVENT
BEGIN:VEVENT
UID:offsite@corp.example
DTSTART;VALUE=DATE:20240214
DTEND;VALUE=DATE:20240216
SUMMARY:Offsite
TRANSP:TRANSPARENT
END:VEVENT
BEGIN:VEVENT
UID:floating@corp.example
DTSTART:20240305T090000
SUMMARY:Floating
END:VEVENT
END:VCALENDAR
""".splitlines()

GARBAGE = (
    "DTSTART:0000-01-01", "DTSTART;VALUE=DATE:20260920T080000", "DTSTART:20241301T250000Z",
    "DTSTART;TZID=Mars/Olympus:20240108T100000", "DTSTART;TZID=:20240108T100000",
    "DTEND:19000101T000000Z", "DTEND;VALUE=DATE:20240101", "DURATION:P99999999W", "DURATION:-PT1H",
    "DURATION:garbage", "RRULE:FREQ=DAILY;UNTIL=20240105",
    "RRULE:FREQ=DAILY;UNTIL=20240105T000000Z",
    "RRULE:FREQ=HOURLY", "RRULE:FREQ=MONTHLY;BYDAY=5FR", "RRULE:FREQ=YEARLY;BYMONTH=13",
    "RRULE:FREQ=NEVER", "RRULE:COUNT=-1", "RRULE:FREQ=WEEKLY;INTERVAL=0", "RRULE:",
    "RRULE:FREQ=MINUTELY;INTERVAL=30", "RDATE:20240110T100000Z", "RDATE:bogus",
    "RDATE;VALUE=PERIOD:20240110T100000Z/PT1H", "EXDATE:notadate", "EXDATE;VALUE=DATE:20240108",
    "RECURRENCE-ID:20240108T090000Z", "RECURRENCE-ID;VALUE=DATE:20240108", "RECURRENCE-ID:x",
    "SEQUENCE:bogus", "DTSTAMP:yesterday", "STATUS:CANCELLED", "STATUS:???", "METHOD:CANCEL",
    "ATTENDEE:mailto:", "ATTENDEE;PARTSTAT=DECLINED:mailto:lee@corp.example",
    "ATTENDEE;CN=\"Eve\\nBcc: x\":mailto:EVE@corp.example", "ORGANIZER:not-an-address",
    "X-MICROSOFT-CDO-BUSYSTATUS:OOF", "SUMMARY:Focus time", "SUMMARY:", "UID:",
    "UID:lunch@corp.example",
    "BEGIN:VEVENT", "END:VEVENT", "BEGIN:VCALENDAR", "END:VCALENDAR", "BEGIN:VTIMEZONE",
    "END:VTIMEZONE", "BEGIN:VALARM", "TZID:Europe/Berlin", "X-WR-TIMEZONE:Not/AZone",
    " folded continuation", "\x00", ":", ";;;:", "DTSTART;TZID=\"Europe/Berlin\":20240108T100000",
    "DTSTART:20240108T100000+0100",
)


@st.composite
def mutated_ics(draw: st.DrawFn) -> bytes:
    lines = list(VALID)
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["drop", "duplicate", "inject", "replace", "move"]))
        index = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if op == "drop" and lines:
            del lines[index]
        elif op == "duplicate" and lines:
            lines.insert(index, lines[index])
        elif op == "inject":
            lines.insert(index, draw(st.one_of(st.sampled_from(GARBAGE), st.text(max_size=30))))
        elif op == "replace" and lines:
            lines[index] = draw(st.sampled_from(GARBAGE))
        elif op == "move" and lines:
            lines.insert(draw(st.integers(0, len(lines))), lines.pop(index))
    data = "\r\n".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]  # an export cut short
    return data


def _aware_utc(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


@budget(250)
@given(mutated_ics())
@example("\r\n".join(VALID).encode())
@example("\r\n".join(VALID[:-1]).encode())  # Outlook's missing END:VCALENDAR
@example("\r\n".join(VALID).replace("WEEKLY;COUNT=10", "SECONDLY").encode())  # 7.8M occurrences
@example("\r\n".join(VALID).replace("COUNT=10", "INTERVAL=0").encode())  # dateutil never returns
@example("\r\n".join(VALID).replace("UID:lunch", "UID:other\r\nUID:lunch").encode())
@example(b"")
@example(b"\xff\xfe garbage")
def test_a_mutated_calendar_yields_only_aware_events_or_skips(data: bytes) -> None:
    items = list(ics_items_from_bytes(data, "cal.ics", OPTIONS))
    for item in items:
        assert isinstance(item, EventInstance | SkippedInput), item
        if isinstance(item, EventInstance):
            assert _aware_utc(item.start) and _assert_end(item)
            assert item.source_id and item.series_id
            assert "vText(" not in item.series_id  # a Python repr is not an id
        else:
            assert item.location.startswith("cal.ics") and item.reason


def _assert_end(event: EventInstance) -> bool:
    return _aware_utc(event.end) and event.end >= event.start
