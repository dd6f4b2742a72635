"""A moving sync window over an unchanged ICS file: read only the days that moved.

The files connector expands each ICS file between whole-day window edges that
move with the date. When the file itself has not changed since the last read,
the only difference a new day makes is at the edges: occurrences in the days
that entered the window at its future end, and occurrences that left it at its
past end. Re-reading the whole file through icalendar for that (issue 14, item
3: 58% of a full sync on a 10k-event calendar) is wasted work.

:func:`shifted_calendar` cuts the file on VEVENT boundaries with a byte scan
and keeps only what may touch the given days: every series (RRULE, RDATE or
RECURRENCE-ID members, kept together by UID), every event whose DTSTART/DTEND
dates come near those days, and every block the scan cannot date. The result,
with the calendar's own properties and time zones, is a small ICS that the
ordinary reader (``ics.ics_items_from_bytes``) expands over just those days;
icalendar and recurring-ical-events stay the only interpreters of iCalendar.

Pure apart from its bytes argument: no I/O.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

_BLOCK = re.compile(rb"^BEGIN:(VEVENT|VTIMEZONE)\r?$.*?^END:\1\r?\n?", re.M | re.S)
_FOLD = re.compile(rb"\r?\n[ \t]")
_UID = re.compile(rb"^UID([;:][^\r\n]*?)\r?$", re.M)
_DATE_PROP = re.compile(rb"^(DTSTART|DTEND)[;:][^\r\n]*?(\d{8})", re.M)
_RECURRENCE = re.compile(rb"^(RRULE|RDATE|RECURRENCE-ID|DURATION)[;:]", re.M)
_CALENDARS = re.compile(rb"^BEGIN:VCALENDAR\r?$", re.M)
_END_CALENDAR = re.compile(rb"^END:VCALENDAR\r?$", re.M)
# Local dates can differ from the UTC or TZID dates written in the file by a day;
# two days of slack keep every event that might touch the edge days.
SLACK = timedelta(days=2)


def shifted_calendar(data: bytes, ranges: list[tuple[datetime, datetime]]) -> bytes | None:
    """A calendar holding the events of ``data`` that may overlap any of ``ranges``,
    or None when the file's shape is not one this cut handles (several VCALENDARs,
    no END:VCALENDAR): the caller then reads the file whole, as before."""
    if len(_CALENDARS.findall(data)) != 1 or not _END_CALENDAR.search(data):
        return None
    blocks = list(_BLOCK.finditer(data))
    if not blocks:
        return None
    header = data[: blocks[0].start()]
    if b"BEGIN:VEVENT" in header or b"BEGIN:VTIMEZONE" in header:
        return None
    days = [(lo.date() - SLACK, hi.date() + SLACK) for lo, hi in ranges]
    zones: list[bytes] = []
    groups: dict[bytes, list[bytes]] = {}
    series: set[bytes] = set()
    wanted: set[bytes] = set()
    for n, match in enumerate(blocks):
        block = match.group(0)
        if match.group(1) == b"VTIMEZONE":
            zones.append(block)
            continue
        text = _FOLD.sub(b"", block)
        uid_match = _UID.search(text)
        uid = uid_match.group(1).strip() if uid_match else b""
        if uid.endswith(b":"):
            uid = b""  # an empty UID: the reader derives one from the content
        key = uid or b"#%d" % n  # no UID: a group of its own, always kept (below)
        groups.setdefault(key, []).append(block)
        if not uid or _RECURRENCE.search(text):
            series.add(key)
        elif _near(text, days):
            wanted.add(key)
    keep = [b for key, members in groups.items() if key in series or key in wanted
            for b in members]
    if not keep:
        return b""
    if not header.endswith(b"\n"):
        header += b"\r\n"
    return header + b"".join(zones) + b"".join(_ended(b) for b in keep) + b"END:VCALENDAR\r\n"


def _ended(block: bytes) -> bytes:
    return block if block.endswith(b"\n") else block + b"\r\n"


def _near(text: bytes, days: list[tuple[date, date]]) -> bool:
    """Whether a single event's DTSTART..DTEND dates come within the slack of a range;
    an event the scan cannot date is kept (the reader decides)."""
    found: dict[bytes, date] = {}
    for name, digits in _DATE_PROP.findall(text):
        try:
            found.setdefault(name, date(int(digits[:4]), int(digits[4:6]), int(digits[6:8])))
        except ValueError:
            return True
    start = found.get(b"DTSTART")
    if start is None:
        return True
    end = max(found.get(b"DTEND", start), start)
    return any(start <= hi and end >= lo for lo, hi in days)
