"""Detect a clock that went backwards before acting on it (issue 10, item 1).

A clock (or ``--now``) earlier than what the store already saw means either the
machine's time is wrong or someone is replaying the past. Syncing, purging or
sending on such a clock acts on a false "now"; worst of all, a digest for an
older week could go out after a newer one. The checks are pure over facts the
store reports, so ``run`` can refuse with one clear message per account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from peerpulse.worker.schedule import period_of

#: A run whose start lies this far after "now" proves the clock went back; the
#: slack absorbs ordinary NTP corrections and the length of one run.
TOLERANCE = timedelta(minutes=10)


@dataclass(frozen=True)
class ClockBehind:
    """One account whose stored state is newer than the clock."""

    account: str
    reason: str

    def describe(self) -> str:
        return f"{self.account}: the clock is behind the stored state: {self.reason}"


def clock_behind(
    account: str,
    tz: str | tzinfo,
    now: datetime,
    newest_sent: str | None,
    last_run: datetime | None,
) -> ClockBehind | None:
    """Why ``now`` is earlier than the account's ledger or last run, or None."""
    current = period_of(now, tz)
    if newest_sent and newest_sent > current:
        return ClockBehind(
            account,
            f"now is {now.isoformat()} (week {current}) but the digest for "
            f"{newest_sent} was already sent",
        )
    if last_run is not None and last_run - now > TOLERANCE:
        return ClockBehind(
            account,
            f"now is {now.isoformat()} but the last sync ran at {last_run.isoformat()}",
        )
    return None
