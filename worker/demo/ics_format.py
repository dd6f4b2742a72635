"""RFC 5545 text: content lines, escaping, folding, time zones, one VEVENT.

Written by hand rather than through icalendar so that output is byte-stable
across library versions and cheap enough for a hundred thousand events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from peerpulse.worker.demo.model import EventSpec, Guest

CRLF = "\r\n"

# Hand-written VTIMEZONE blocks with the rules in force today (Google's export
# writes the same shape). Consumers resolve the TZID through the tz database.
VTIMEZONES = {
    "Europe/Berlin": ("CET", "CEST", "+0100", "+0200", "19700329T020000", "BYMONTH=3;BYDAY=-1SU",
                      "19701025T030000", "BYMONTH=10;BYDAY=-1SU"),
    "Europe/London": ("GMT", "BST", "+0000", "+0100", "19700329T010000", "BYMONTH=3;BYDAY=-1SU",
                      "19701025T020000", "BYMONTH=10;BYDAY=-1SU"),
    "America/New_York": ("EST", "EDT", "-0500", "-0400", "19700308T020000",
                         "BYMONTH=3;BYDAY=2SU", "19701101T020000", "BYMONTH=11;BYDAY=1SU"),
    "Asia/Tokyo": ("JST", None, "+0900", None, None, None, None, None),
}


def fold(line: str) -> str:
    """Fold one content line at 75 octets, never inside a UTF-8 sequence (RFC 5545 3.1)."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line + CRLF
    parts: list[str] = []
    start, limit = 0, 75
    while start < len(data):
        stop = min(start + limit, len(data))
        while stop < len(data) and (data[stop] & 0xC0) == 0x80:
            stop -= 1  # back off to the first byte of a multi-byte character
        parts.append(data[start:stop].decode("utf-8"))
        start, limit = stop, 74  # continuation lines lose one octet to the leading space
    return (CRLF + " ").join(parts) + CRLF


def text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 3.3.11)."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def param(value: str) -> str:
    """Quote a parameter value when it holds a separator (RFC 5545 3.2)."""
    return f'"{value}"' if any(c in value for c in ':;,') else value


def vtimezone(tzid: str) -> list[str]:
    std, dst, std_off, dst_off, dst_start, dst_rule, std_start, std_rule = VTIMEZONES[tzid]
    lines = ["BEGIN:VTIMEZONE", f"TZID:{tzid}", f"X-LIC-LOCATION:{tzid}"]
    if dst is None:
        lines += ["BEGIN:STANDARD", f"TZOFFSETFROM:{std_off}", f"TZOFFSETTO:{std_off}",
                  f"TZNAME:{std}", "DTSTART:19700101T000000", "END:STANDARD"]
    else:
        lines += ["BEGIN:DAYLIGHT", f"TZOFFSETFROM:{std_off}", f"TZOFFSETTO:{dst_off}",
                  f"TZNAME:{dst}", f"DTSTART:{dst_start}", f"RRULE:FREQ=YEARLY;{dst_rule}",
                  "END:DAYLIGHT", "BEGIN:STANDARD", f"TZOFFSETFROM:{dst_off}",
                  f"TZOFFSETTO:{std_off}", f"TZNAME:{std}", f"DTSTART:{std_start}",
                  f"RRULE:FREQ=YEARLY;{std_rule}", "END:STANDARD"]
    return lines + ["END:VTIMEZONE"]


def _when(name: str, moment: datetime, tzid: str | None, all_day: bool = False) -> str:
    if all_day:
        return f"{name};VALUE=DATE:{moment:%Y%m%d}"
    if tzid is None:
        return f"{name}:{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"{name};TZID={tzid}:{moment:%Y%m%dT%H%M%S}"


def _attendee(guest: Guest) -> str:
    role = "NON-PARTICIPANT" if guest.is_resource else "REQ-PARTICIPANT"
    return (f"ATTENDEE;CUTYPE={guest.cutype};ROLE={role};PARTSTAT={guest.partstat};"
            f"CN={param(guest.name or guest.email)};X-NUM-GUESTS=0:mailto:{guest.email}")


def vevent(spec: EventSpec, stamp: datetime) -> list[str]:
    """The content lines (unfolded) of one VEVENT, Google Calendar export style."""
    lines = ["BEGIN:VEVENT", _when("DTSTART", spec.start, spec.tzid, spec.all_day),
             _when("DTEND", spec.end, spec.tzid, spec.all_day)]
    if spec.recurrence is not None:
        lines.append(f"RRULE:{spec.recurrence.rule}")
        for ex in spec.recurrence.exdates:
            lines.append(_when("EXDATE", ex, spec.tzid))
    if spec.recurrence_id is not None:
        lines.append(_when("RECURRENCE-ID", spec.recurrence_id, spec.tzid))
    lines.append(f"DTSTAMP:{stamp:%Y%m%dT%H%M%SZ}")
    lines.append(f"ORGANIZER;CN={param(spec.organizer.name or spec.organizer.email)}:"
                 f"mailto:{spec.organizer.email}")
    lines.append(f"UID:{spec.uid}")
    lines.extend(_attendee(g) for g in spec.guests)
    if spec.busystatus:
        lines.append(f"X-MICROSOFT-CDO-BUSYSTATUS:{spec.busystatus}")
        lines.append(f"X-MICROSOFT-CDO-INTENDEDSTATUS:{spec.busystatus}")
    created = (spec.recurrence_id or spec.start).astimezone(UTC) - timedelta(days=12)
    lines.append(f"CREATED:{created:%Y%m%dT%H%M%SZ}")
    if spec.description:
        lines.append(f"DESCRIPTION:{text(spec.description)}")
    lines.append(f"LAST-MODIFIED:{stamp:%Y%m%dT%H%M%SZ}")
    if spec.location:
        lines.append(f"LOCATION:{text(spec.location)}")
    lines += [f"SEQUENCE:{spec.sequence}", f"STATUS:{spec.status}",
              f"SUMMARY:{text(spec.summary)}", f"TRANSP:{spec.transp}", "END:VEVENT"]
    return lines
