"""What the generator writes, before it is text: events, mail, and the time window.

The same spec objects feed the file writers and the ground-truth classifier, so
the ground truth is computed from exactly what lands on disk, never from a
parallel hand-kept list.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

FUTURE_DAYS = 14


@dataclass(frozen=True, slots=True)
class DemoWindow:
    """History runs from ``start`` up to ``end`` (exclusive); the future ``FUTURE_DAYS`` after.

    ``now`` is midnight UTC at the start of ``end``; nothing is written on the
    ``end`` day itself, so any moment of that day is an equally valid "now".
    """

    start: date
    end: date

    @property
    def now(self) -> datetime:
        return datetime.combine(self.end, time(), UTC)

    @property
    def future_end(self) -> date:
        return self.end + timedelta(days=FUTURE_DAYS + 1)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days)]

    def future_days(self) -> list[date]:
        return [self.end + timedelta(days=i) for i in range(1, FUTURE_DAYS + 1)]


def months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def zoned(day: date, hour: int, minute: int, zone: str) -> datetime:
    return datetime.combine(day, time(hour, minute), ZoneInfo(zone))


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Guest:
    """An ATTENDEE line: ``email`` as written (an alias or odd casing is deliberate)."""

    email: str
    name: str
    partstat: str = "ACCEPTED"  # ACCEPTED, TENTATIVE, DECLINED, NEEDS-ACTION
    cutype: str = "INDIVIDUAL"  # ROOM and RESOURCE are never people

    @property
    def is_resource(self) -> bool:
        return self.cutype in ("ROOM", "RESOURCE")


@dataclass(frozen=True, slots=True)
class Recurrence:
    """An RRULE plus the occurrences it produces (computed here, checked by the tests)."""

    rule: str  # the RRULE value, e.g. "FREQ=WEEKLY;BYDAY=MO;UNTIL=20260601T080000Z"
    occurrences: tuple[datetime, ...]
    exdates: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One VEVENT: a single event, a series master, or an override of one occurrence.

    ``start``/``end`` are aware datetimes in ``tzid`` (or UTC when ``tzid`` is
    None); for all-day events they are midnights and ``all_day`` is set.
    ``marker`` names what the event is meant to show (``focus_time``,
    ``out_of_office``) when no standard ICS property says it.
    """

    uid: str
    summary: str
    start: datetime
    end: datetime
    tzid: str | None
    organizer: Guest
    guests: tuple[Guest, ...] = ()
    status: str = "CONFIRMED"
    transp: str = "OPAQUE"
    busystatus: str | None = None  # X-MICROSOFT-CDO-BUSYSTATUS (OOF for out of office)
    all_day: bool = False
    recurrence: Recurrence | None = None
    recurrence_id: datetime | None = None
    overrides: tuple[EventSpec, ...] = ()
    location: str = ""
    description: str = ""
    sequence: int = 0
    marker: str = ""


@dataclass(frozen=True, slots=True)
class Address:
    email: str  # as written
    name: str = ""


@dataclass(slots=True)
class MailSpec:
    """One message as it will be written to the mbox (headers plus a short body)."""

    message_id: str  # without angle brackets
    thread_id: int
    date: datetime  # aware, in the sender's zone
    sender: Address
    subject: str
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    labels: str = "Inbox"
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""
    calendar_part: str | None = None  # an invitation's text/calendar payload
    calendar_method: str = "REQUEST"

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.extra_headers:
            if key.lower() == lowered:
                return value
        return None
