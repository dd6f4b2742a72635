"""Coverage: how much the owner works with each department, and the trend.

Per department of their peers: weighted interactions over the last 4, 13 and
26 weeks, and a trend comparing the last 4 weeks with the 22 before them, per
week. "dark" means nothing at all in 13 weeks: the department has gone quiet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from peerpulse.rules.ledger import InteractionRow
from peerpulse.rules.ruleset import RuleSet

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

    def add(self, rows: Iterable[InteractionRow], now_ts: float) -> None:
        self.peers += 1
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


def trend(weeks_4: float, weeks_13: float, weeks_26: float, rules: RuleSet) -> str:
    """"up", "flat", "down" or "dark"."""
    if weeks_13 <= 0:
        return "dark"
    recent = weeks_4 / 4
    before = (weeks_26 - weeks_4) / 22
    if before <= 0:
        return "up" if recent > 0 else "flat"
    ratio = recent / before
    if ratio >= rules.model.coverage.up_ratio:
        return "up"
    if ratio <= rules.model.coverage.down_ratio:
        return "down"
    return "flat"
