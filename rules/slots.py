"""Free slots in the manager's own calendar, for the peer of the week.

Busy blocks are the owner's own events (not cancelled, not declined, not
marked free) as UTC instants; working hours and days are local to the owner's
zone. Every candidate is built as a local wall-clock time and converted with
zoneinfo, so a week that crosses a DST change keeps "12:00" at 12:00 local.
One slot per day, the one closest to the preferred start, on days spread
across the week.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from peerpulse.rules.recommendations import Slot

STEP = timedelta(minutes=15)


class BusyCollector:
    """Collects the owner's busy blocks in one window while events stream by."""

    def __init__(self) -> None:
        self.blocks: list[tuple[float, float]] = []

    def __call__(self, start: float, end: float) -> None:
        self.blocks.append((start, end))


def week_window(monday: date, zone: ZoneInfo) -> tuple[float, float]:
    """UTC epoch range of the local week starting ``monday``."""
    start = datetime.combine(monday, time(0), tzinfo=zone)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone)
    return start.timestamp(), end.timestamp()


def next_monday(period: str) -> date:
    """The Monday of the ISO week after ``period`` ("2026-W48")."""
    year, week = period.split("-W")
    return date.fromisocalendar(int(year), int(week), 1) + timedelta(days=7)


def free_slots(
    busy: Sequence[tuple[float, float]],
    monday: date,
    zone: ZoneInfo,
    working_hours: tuple[time, time],
    working_days: Sequence[int],
    minutes: int,
    preferred: time,
    count: int,
    not_before: datetime | None = None,
) -> tuple[Slot, ...]:
    """Up to ``count`` free slots of ``minutes`` in the week starting ``monday``."""
    if count <= 0:
        return ()
    length = timedelta(minutes=minutes)
    blocks = sorted(busy)
    per_day: list[Slot] = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        if day.weekday() not in working_days:
            continue
        found = _best_on_day(day, zone, working_hours, length, preferred, blocks, not_before)
        if found:
            per_day.append(found)
    return _spread(per_day, count)


def _best_on_day(
    day: date,
    zone: ZoneInfo,
    hours: tuple[time, time],
    length: timedelta,
    preferred: time,
    blocks: list[tuple[float, float]],
    not_before: datetime | None,
) -> Slot | None:
    open_at = datetime.combine(day, hours[0])
    close_at = datetime.combine(day, hours[1])
    target = datetime.combine(day, preferred)
    candidates: list[datetime] = []
    moment = open_at
    while moment + length <= close_at:
        candidates.append(moment)
        moment += STEP
    candidates.sort(key=lambda m: (abs((m - target).total_seconds()), m))
    for naive in candidates:
        start = naive.replace(tzinfo=zone)
        end = (naive + length).replace(tzinfo=zone)
        # a wall-clock time skipped by a DST jump does not exist: never propose it
        if start.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
            continue
        lo, hi = start.timestamp(), end.timestamp()
        if not_before is not None and lo < not_before.timestamp():
            continue
        if any(b_start < hi and b_end > lo for b_start, b_end in blocks):
            continue
        return Slot(start.isoformat(timespec="minutes"), end.isoformat(timespec="minutes"))
    return None


def _spread(slots: list[Slot], count: int) -> tuple[Slot, ...]:
    """``count`` slots on days as far apart as possible (Mon, Wed, Fri for three)."""
    if len(slots) <= count:
        return tuple(slots)
    if count == 1:
        return (slots[0],)
    step = (len(slots) - 1) / (count - 1)
    return tuple(slots[round(i * step)] for i in range(count))

