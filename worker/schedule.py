"""When a digest is due: pure functions of an explicit ``now``.

A digest belongs to a *period*, the ISO week of its due moment in the account's
time zone ("2026-W48"). The due moment is the configured weekday and local wall
time of that week (default Monday 07:00). ``peerpulse run`` can be called every
hour: it asks :func:`due_period` and sends only if the ledger has nothing for
that period yet, so a machine that was off for three weeks sends once, for the
current period, never once per missed week.

DST: the due moment is built from the local date and wall time with zoneinfo,
so a 07:00 digest stays at 07:00 local on either side of a change. A wall time
that does not exist (02:30 on a spring-forward night) or exists twice (02:30 on
a fall-back night) follows PEP 495 with ``fold=0``: the gap time maps to the
instant the clock would show had it not jumped (03:30 summer time, so the digest
goes out as soon as 02:30 has passed); the repeated time maps to its first
occurrence. All comparisons are made in UTC, because Python compares two
datetimes that share a tzinfo as naive wall times and ignores ``fold``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def zone(tz: str | tzinfo) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (a naive time has no place on the schedule)")


def _weekday_number(day: str) -> int:
    try:
        return WEEKDAYS.index(day.lower()) + 1  # ISO: Monday is 1
    except ValueError:
        raise ValueError(f"unknown weekday {day!r}; use one of {', '.join(WEEKDAYS)}") from None


def period_of(moment: datetime, tz: str | tzinfo) -> str:
    """The ISO week containing ``moment`` in ``tz``, e.g. ``2026-W48``."""
    _require_aware(moment)
    year, week, _ = moment.astimezone(zone(tz)).isocalendar()
    return f"{year}-W{week:02d}"


def parse_period(period: str) -> tuple[int, int]:
    """``"2026-W48"`` -> ``(2026, 48)``; ValueError for anything else."""
    year_text, sep, week_text = period.partition("-W")
    if not sep or not year_text.isdigit() or not week_text.isdigit() or len(week_text) != 2:
        raise ValueError(f"not an ISO week period: {period!r}")
    year, week = int(year_text), int(week_text)
    date.fromisocalendar(year, week, 1)  # raises ValueError for week 53 of a 52-week year
    return year, week


def period_dates(period: str) -> tuple[date, date]:
    """The Monday and Sunday of a period."""
    year, week = parse_period(period)
    monday = date.fromisocalendar(year, week, 1)
    return monday, monday + timedelta(days=6)


def due_moment(period: str, tz: str | tzinfo, day: str, at: time) -> datetime:
    """When ``period``'s digest is due, as an aware datetime in ``tz``."""
    year, week = parse_period(period)
    local_date = date.fromisocalendar(year, week, _weekday_number(day))
    wall = time(at.hour, at.minute, at.second)  # the config's time is naive wall time
    return datetime.combine(local_date, wall, tzinfo=zone(tz)).replace(fold=0)


def due_period(now: datetime, tz: str | tzinfo, day: str, at: time) -> str | None:
    """The current period if its due moment has passed at ``now``, else None.

    "Current" is the ISO week of ``now`` in the account's zone. Weeks missed while
    the machine was off are not returned: only the current one can be due.
    """
    period = period_of(now, tz)
    if now.astimezone(UTC) >= due_moment(period, tz, day, at).astimezone(UTC):
        return period
    return None


def next_due(now: datetime, tz: str | tzinfo, day: str, at: time) -> datetime:
    """The first due moment strictly after ``now``, in ``tz`` (for ``status``)."""
    local = zone(tz)
    period = period_of(now, local)
    moment = due_moment(period, local, day, at)
    if moment.astimezone(UTC) <= now.astimezone(UTC):
        next_week = datetime.combine(period_dates(period)[0] + timedelta(days=7), time(12), local)
        moment = due_moment(period_of(next_week, local), local, day, at)
    # Normalize the offset (a gap time keeps its pre-transition offset otherwise).
    return moment.astimezone(UTC).astimezone(local)
