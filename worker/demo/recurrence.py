"""Recurrence rules and the occurrences they produce, computed side by side.

The generator needs both: the RRULE text to write, and the exact list of
instances for the ground truth. Occurrences keep their wall-clock time in the
event's zone, so a 10:00 Berlin meeting is 09:00 UTC in winter and 08:00 UTC in
summer, as RFC 5545 prescribes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from peerpulse.worker.demo.model import Recurrence

_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _at(day: date, like: datetime) -> datetime:
    return datetime.combine(day, like.timetz())


def _until(last: datetime) -> str:
    return f"UNTIL={last.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def weekly(first: datetime, *, last_day: date | None = None, count: int | None = None,
           interval: int = 1, skip: tuple[date, ...] = ()) -> Recurrence:
    """Every ``interval`` weeks from ``first``, until ``last_day`` or ``count`` times.

    Occurrences on a ``skip`` day become EXDATEs (a holiday, a day with no data).
    """
    occurrences: list[datetime] = []
    day = first.date()
    while (count is None or len(occurrences) < count) and (last_day is None or day <= last_day):
        occurrences.append(_at(day, first))
        day += timedelta(weeks=interval)
    parts = ["FREQ=WEEKLY"]
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    parts.append(f"BYDAY={_BYDAY[first.weekday()]}")
    parts.append(f"COUNT={count}" if count is not None else _until(occurrences[-1]))
    exdates = tuple(o for o in occurrences if o.date() in skip)
    return Recurrence(";".join(parts), tuple(occurrences), exdates)


def first_weekday_of(year: int, month: int, weekday: int) -> date:
    day = date(year, month, 1)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def monthly_first(first: datetime, *, last_day: date, skip: tuple[date, ...] = ()) -> Recurrence:
    """The first <weekday> of every month; ``first`` must itself be one."""
    weekday = first.weekday()
    if first_weekday_of(first.year, first.month, weekday) != first.date():
        raise ValueError("monthly_first needs a first-weekday-of-month start")
    occurrences: list[datetime] = []
    year, month = first.year, first.month
    while True:
        day = first_weekday_of(year, month, weekday)
        if day > last_day:
            break
        occurrences.append(_at(day, first))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    rule = f"FREQ=MONTHLY;BYDAY=1{_BYDAY[weekday]};{_until(occurrences[-1])}"
    exdates = tuple(o for o in occurrences if o.date() in skip)
    return Recurrence(rule, tuple(occurrences), exdates)


def next_weekday(day: date, weekday: int) -> date:
    """``day`` itself if it is ``weekday``, else the next one."""
    return day + timedelta(days=(weekday - day.weekday()) % 7)
