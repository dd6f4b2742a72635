"""An API project's quota, shared by every worker through one PostgreSQL row.

Why a row and not each worker's share from the config: a share (quota / N)
must be changed whenever the number of workers changes (a Deployment scaled
up, a worker down for an hour), and an idle worker's share is simply lost: N
workers of which one has work use 1/N of the project. One row per project is
a token bucket every worker draws from, with the database's clock, so any
number of workers on any number of machines spend the project's units at the
configured rate between them, and no lock service is needed: the draw is one
atomic ``UPDATE ... RETURNING`` (a row lock held for the statement only).

The bucket is a "debt" bucket (GCRA): a draw always succeeds and returns the
balance after it; a negative balance is how long the caller must wait
(``-balance / rate``) before spending. Draws are therefore served in commit
order, never retried, and never spin. A worker draws a *lease* of
``lease_seconds`` of the project rate at a time and hands it out to its
threads, so the database sees a few statements per second per worker, not one
per request. A killed worker's lease is lost (spent, never returned): a small
loss of throughput, never a burst over the quota.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("peerpulse.org")

TABLE = "api_project_quota"
CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    project TEXT COLLATE "C" PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,   -- units available (negative: owed)
    stamp DOUBLE PRECISION NOT NULL,    -- server epoch seconds of the last draw
    spent DOUBLE PRECISION NOT NULL DEFAULT 0,
    first_draw DOUBLE PRECISION
)
"""
# The project's row starts empty (the first second is not a burst on top of whatever
# else uses the project) and is refilled at ``rate`` up to ``capacity`` on every draw.
_DRAW = f"""
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::double precision AS t),
seed AS (
    INSERT INTO {TABLE} (project, tokens, stamp, first_draw)
    SELECT %(project)s, 0, clock.t, clock.t FROM clock
    ON CONFLICT (project) DO NOTHING
)
UPDATE {TABLE} AS q SET
    tokens = least(%(capacity)s, q.tokens + greatest(0, clock.t - q.stamp) * %(rate)s)
             - %(units)s,
    stamp = greatest(q.stamp, clock.t),
    spent = q.spent + %(units)s,
    first_draw = coalesce(q.first_draw, clock.t)
FROM clock
WHERE q.project = %(project)s
RETURNING q.tokens
"""


def ensure_table(conn: Any) -> None:
    """Create the quota table (``org migrate``; idempotent)."""
    conn.execute(CREATE)


class SharedProjectQuota:
    """A :class:`~connectors.quota.ProjectLimiter` drawing from the shared row."""

    def __init__(
        self,
        pool: Any,
        project: str,
        units_per_minute: float,
        *,
        burst_seconds: float = 1.0,
        lease_seconds: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool = pool
        self.project = project
        self.rate = units_per_minute / 60.0
        self.capacity = self.rate * burst_seconds
        self.lease = max(1.0, self.rate * lease_seconds)
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._left = 0.0  # units of the current lease not yet handed out
        self._ready_at = 0.0  # monotonic time from which the leased units may be spent
        self.draws = 0
        self.waited = 0.0

    def _draw(self, units: float) -> float:
        """Take ``units`` from the row; the seconds to wait before spending them."""
        first = True
        while True:
            with self.pool.connection() as conn:
                row = conn.execute(_DRAW, {"project": self.project, "capacity": self.capacity,
                                           "rate": self.rate, "units": units}).fetchone()
            if row is not None:
                break
            if not first:  # pragma: no cover - the seed insert above always leaves a row
                raise RuntimeError(f"no quota row for project {self.project}")
            first = False  # the row was created by this statement's seed: draw again
        self.draws += 1
        return max(0.0, -float(row[0]) / self.rate)

    def acquire(self, units: float) -> float:
        with self._lock:
            if self._left < units:
                take = max(units - self._left, self.lease)
                wait = self._draw(take)
                self._ready_at = max(self._ready_at, self._clock() + wait)
                self._left += take
            self._left -= units
            delay = self._ready_at - self._clock()
        if delay > 0:
            self._sleep(delay)
            with self._lock:
                self.waited += delay
            return delay
        return 0.0


def usage(conn: Any, project: str) -> tuple[float, float] | None:
    """(units drawn, seconds since the first draw) of ``project``, for utilization."""
    row = conn.execute(
        f"SELECT spent, extract(epoch FROM clock_timestamp()) - first_draw FROM {TABLE} "
        "WHERE project = %s", (project,)).fetchone()
    return (float(row[0]), float(row[1])) if row else None


def install(pool_of: Callable[[], Any]) -> None:
    """Make every connector of this process draw its project quota from the shared row
    (the pool is opened on first use)."""
    from peerpulse.connectors.quota import set_project_limiter_factory

    def factory(project: str, units_per_minute: float) -> SharedProjectQuota:
        return SharedProjectQuota(pool_of(), project, units_per_minute)

    set_project_limiter_factory(factory)
