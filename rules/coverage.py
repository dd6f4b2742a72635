"""Coverage: how much the owner works with each department, and the trend.

Per department of their peers: weighted interactions over the last 4, 13 and
26 weeks, and a trend comparing the last 4 weeks with the 22 before them, per
week. "dark" means nothing at all in 13 weeks: the department has gone quiet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from peerpulse.rules.ruleset import RuleSet
from peerpulse.rules.tally import InteractionRow

if TYPE_CHECKING:
    from peerpulse.rules.history import PeerHistory

DAY = 86400.0
WEEK = 7 * DAY


@dataclass(slots=True)
class DepartmentTally:
    department: str
    key_function: str | None
    weeks_4: float = 0.0
    weeks_13: float = 0.0
    weeks_26: float = 0.0
    last_at: float | None = None
    peers: int = 0
    scheduled: bool = False  # a 1:1, lunch or small meeting with someone here is on the calendar

    def add(self, rows: Iterable[InteractionRow], now_ts: float, upcoming: bool = False) -> None:
        self.peers += 1
        self.scheduled = self.scheduled or upcoming
        for at, _kind, weight, *_ in rows:
            age = now_ts - at
            if age < 0:
                continue
            if age <= 26 * WEEK:
                self.weeks_26 += weight
                if age <= 13 * WEEK:
                    self.weeks_13 += weight
                    if age <= 4 * WEEK:
                        self.weeks_4 += weight
            if self.last_at is None or at > self.last_at:
                self.last_at = at


    def add_history(self, history: PeerHistory, now_ts: float, last_at: float | None,
                    upcoming: bool = False) -> None:
        """:meth:`add` from a peer's per-day history (rules.history): the same windows."""
        self.peers += 1
        self.scheduled = self.scheduled or upcoming
        self.weeks_26 += history.window(now_ts - 26 * WEEK)[1]
        self.weeks_13 += history.window(now_ts - 13 * WEEK)[1]
        self.weeks_4 += history.window(now_ts - 4 * WEEK)[1]
        if last_at is not None and last_at <= now_ts and (
                self.last_at is None or last_at > self.last_at):
            self.last_at = last_at


class Trend(StrEnum):
    """Where a department's coverage is heading.

    String-valued, so stored digests and their JSON keep the words they always had
    (``"up"``...), and a value read back as a plain string still compares equal.
    """

    UP = "up"
    FLAT = "flat"
    DOWN = "down"
    DARK = "dark"  # nothing at all in 13 weeks


def trend(weeks_4: float, weeks_13: float, weeks_26: float, rules: RuleSet) -> Trend:
    """The last 4 weeks' weekly rate against the 22 weeks before them."""
    if weeks_13 <= 0:
        return Trend.DARK
    recent = weeks_4 / 4
    before = (weeks_26 - weeks_4) / 22
    if before <= 0:
        return Trend.UP if recent > 0 else Trend.FLAT
    ratio = recent / before
    if ratio >= rules.model.coverage.up_ratio:
        return Trend.UP
    if ratio <= rules.model.coverage.down_ratio:
        return Trend.DOWN
    return Trend.FLAT
