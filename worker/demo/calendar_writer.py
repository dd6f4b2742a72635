"""Writes the focal manager's calendar export (``calendar/dana.ics``), streaming.

Google Calendar export shape: VCALENDAR with X-WR-CALNAME/X-WR-TIMEZONE, one
VTIMEZONE per zone used, then VEVENTs; series overrides follow their master.
Every occurrence is handed to the ground truth as it is written.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from peerpulse.worker.demo.calendar_series import recurring_series
from peerpulse.worker.demo.calendar_singles import SingleEvents
from peerpulse.worker.demo.ground_truth import GroundTruth
from peerpulse.worker.demo.ics_format import VTIMEZONES, fold, vevent, vtimezone
from peerpulse.worker.demo.invites import EventFactory
from peerpulse.worker.demo.model import DemoWindow, EventSpec
from peerpulse.worker.demo.org import HOME_ZONE, OrgChart


@dataclass(frozen=True, slots=True)
class CalendarCounts:
    components: int  # VEVENTs written (masters, overrides, singles)
    instances: int  # occurrences after expansion, EXDATEs removed


class _Writer:
    def __init__(self, out: TextIO, truth: GroundTruth, window: DemoWindow) -> None:
        self.out = out
        self.truth = truth
        self.window = window
        self.components = 0
        self.instances = 0

    def lines(self, lines: list[str]) -> None:
        self.out.write("".join(fold(line) for line in lines))

    def event(self, spec: EventSpec) -> None:
        stamp = self.window.now
        self.lines(vevent(spec, stamp))
        self.components += 1
        for changed in spec.overrides:
            self.lines(vevent(changed, stamp))
            self.components += 1
        if spec.recurrence is None:
            self._instance(spec, spec.start)
            return
        excluded = set(spec.recurrence.exdates)
        replaced = {o.recurrence_id: o for o in spec.overrides}
        if len(replaced) != len(spec.overrides):
            raise ValueError(f"{spec.uid}: two overrides of the same occurrence")
        for occurrence in spec.recurrence.occurrences:
            if occurrence in excluded:
                continue
            moved = replaced.get(occurrence)
            if moved is not None:
                self._instance(moved, moved.start)
            else:
                self._instance(spec, occurrence)

    def _instance(self, spec: EventSpec, start: datetime) -> None:
        day = start.astimezone(UTC).date()
        if day == self.window.end or not self.window.start <= day < self.window.future_end:
            raise ValueError(f"{spec.uid}: instance on {day} is outside the demo's days")
        self.truth.event_instance(spec, start)
        self.instances += 1


def write_calendar(path: Path, org: OrgChart, window: DemoWindow, rng: random.Random,
                   calendar_scale: float, profiles: dict[str, str],
                   truth: GroundTruth,
                   extra: Callable[[], list[EventSpec]] = list) -> CalendarCounts:
    """Write the calendar; ``extra`` (a variant's series, built once the standard events are
    written) comes last, so the standard content is unchanged."""
    factory = EventFactory(org, rng)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = _Writer(out, truth, window)
        header = ["BEGIN:VCALENDAR", "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
                  "VERSION:2.0", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
                  f"X-WR-CALNAME:{org.owner}", f"X-WR-TIMEZONE:{HOME_ZONE}"]
        for tzid in VTIMEZONES:
            header += vtimezone(tzid)
        writer.lines(header)
        for master in recurring_series(factory, window, profiles):
            writer.event(master)
        for single in SingleEvents(factory, window, calendar_scale, profiles):
            writer.event(single)
        for master in extra():
            writer.event(master)
        writer.lines(["END:VCALENDAR"])
    return CalendarCounts(writer.components, writer.instances)
