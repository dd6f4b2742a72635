"""Periods that went without a digest, derived from the ledger and the schedule.

A week whose every run died before rendering leaves no ledger row, so it would
vanish without a trace. Nothing needs recording for it: from the first period
ever sent up to the current due period, every period the schedule made due is
known, and the ledger says which of them went out. The rest are *missed* (no
row), *failed* or *unknown* (a row that did not end in sent). A period whose
digest was "empty" (nothing to do, send_empty off) was handled, not missed.

Pure: the caller passes the ledger rows and ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from peerpulse.worker import schedule
from peerpulse.worker.store.rows import LedgerEntry, LedgerState

_HANDLED = {LedgerState.SENT, LedgerState.EMPTY}


@dataclass(frozen=True, slots=True)
class Gap:
    """A due period with no digest sent, and what the user can do about it."""

    period: str
    state: str  # "missed", "failed", "unknown", "pending"
    action: str


def _next(period: str) -> str:
    monday = schedule.period_dates(period)[0] + timedelta(days=7)
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def _periods(first: str, last: str) -> list[str]:
    """``first`` .. ``last`` inclusive (ISO weeks sort as strings)."""
    out: list[str] = []
    period = first
    while period <= last and len(out) < 10_000:
        out.append(period)
        period = _next(period)
    return out


def _last_due(now: datetime, tz: str | tzinfo, day: str, at: time) -> str:
    current = schedule.period_of(now, tz)
    if schedule.due_period(now, tz, day, at) == current:
        return current
    monday = schedule.period_dates(current)[0] - timedelta(days=7)
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def _states(rows: Iterable[LedgerEntry]) -> dict[str, LedgerState]:
    """Each period's outcome: sent if any row was sent, else its newest row's state."""
    states: dict[str, LedgerState] = {}
    for row in sorted(rows, key=lambda r: (r.period, r.seq)):
        if states.get(row.period) != LedgerState.SENT:
            states[row.period] = row.state
    return states


def _action(state: str, current: bool) -> str:
    if not current:
        return "nothing: a late digest is not sent; the next digest mentions the gap"
    if state == "missed":
        return "`peerpulse run` sends it (it is due)"
    if state == "unknown":
        return "check your inbox; `peerpulse digest --force` resends it"
    if state == "pending":
        return "`peerpulse run` sends it"
    return "fix the delivery error, then `peerpulse digest --force`"


def unsent_periods(
    rows: Iterable[LedgerEntry], now: datetime, tz: str | tzinfo, day: str, at: time
) -> list[Gap]:
    """Every due period since the first sent one that has no digest sent, oldest first."""
    states = _states(rows)
    sent = [p for p, s in states.items() if s == LedgerState.SENT]
    if not sent:
        return []
    last = _last_due(now, tz, day, at)
    gaps: list[Gap] = []
    for period in _periods(min(sent), last):
        state = states.get(period)
        if state in _HANDLED:
            continue
        name = "missed" if state is None else str(state.value)
        gaps.append(Gap(period, name, _action(name, period == last)))
    return gaps


def missed_before(rows: Iterable[LedgerEntry], period: str) -> list[str]:
    """Periods with no row at all between the previous digest's period and ``period``.

    Only the first digest after a gap has its missed weeks in between, so each
    missed period is mentioned once, without remembering that it was.
    """
    earlier = [p for p in _states(rows) if p < period]
    if not earlier:
        return []
    return _periods(max(earlier), period)[1:-1]
