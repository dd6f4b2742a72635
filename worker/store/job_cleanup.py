"""Deleting finished task-queue jobs past their retention, by index and in batches.

Why not Procrastinate's builtin ``remove_old_jobs`` (3.10, ``delete_old_jobs``
in its queries.sql): to find the jobs to delete it joins *every* job with
*every* event and sorts the lot (``DISTINCT ON (job.id) ... ORDER BY job.id,
event.at DESC``) to learn each job's latest event, however few are due. The
queue keeps ``succeeded_days`` of finished jobs, one per mailbox and hour, so
the hourly cleanup read and sorted the whole retention to delete one hour of
it: measured at 1.7 M jobs (10,000 managers, 7 days; ``make bench-org-cleanup``,
docs/SCALING.md), and linear-or-worse beyond.

Here the candidates come from a partial index on the final events (the event
that ends a job: succeeded, failed, cancelled, aborted; its type is the state
the job ended in) by type and time, created by
``org migrate`` next to Procrastinate's schema (an index of our own on its
table: its migrations never touch it, its queries never need it); a job goes
when its status is one the call removes and it has no event at or after the
cutoff (the builtin's "latest event before the cutoff"). Deletes run in batches
of ``batch`` jobs, each its own transaction, so the queue's row locks and the
WAL of one statement stay small while workers keep taking jobs. The jobs'
events go with them (``ON DELETE CASCADE``), and Procrastinate's own
``BEFORE DELETE`` trigger unlinks its periodic-defer rows, as with the builtin.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("peerpulse.org")

FINAL = ("succeeded", "failed", "cancelled", "aborted")
INDEX = "peerpulse_procrastinate_events_final_at"
# CONCURRENTLY: on an installation whose queue already holds millions of events,
# creating it must not stop the workers writing events (it runs outside a transaction).
# By type first: the hourly call for succeeded jobs must not walk the failed jobs
# kept longer (30 days of them) on every batch.
CREATE_INDEX = (
    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON procrastinate_events "
    "(type, at, job_id) WHERE type IN ('succeeded', 'failed', 'cancelled', 'aborted')"
)
# A CONCURRENTLY build that was interrupted leaves an invalid index IF NOT EXISTS skips.
_INVALID = "SELECT 1 FROM pg_index WHERE indexrelid = to_regclass(%s) AND NOT indisvalid"

DELETE_BATCH = """
DELETE FROM procrastinate_jobs
WHERE id IN (
    SELECT e.job_id
    FROM procrastinate_events e
    JOIN procrastinate_jobs j ON j.id = e.job_id
    WHERE e.type IN ('succeeded', 'failed', 'cancelled', 'aborted')
      AND e.type = ANY(%(statuses)s::text[]::procrastinate_job_event_type[])
      AND e.at < %(cutoff)s
      AND j.status = ANY(%(statuses)s::text[]::procrastinate_job_status[])
      AND NOT EXISTS (SELECT 1 FROM procrastinate_events later
                      WHERE later.job_id = e.job_id AND later.at >= %(cutoff)s)
    LIMIT %(batch)s
)
"""


def ensure_index(conn: Any) -> bool:
    """Create the final-events index if absent (``conn`` in autocommit); True if built."""
    if conn.execute(_INVALID, (INDEX,)).fetchone():
        conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
    exists = conn.execute("SELECT to_regclass(%s)", (INDEX,)).fetchone()[0]
    if exists is None:
        conn.execute(CREATE_INDEX)
    return exists is None


def delete_finished(conn: Any, *, older_than_hours: float, statuses: Sequence[str],
                    batch: int = 5000) -> int:
    """Delete jobs in one of ``statuses`` whose last event is older than
    ``older_than_hours``, ``batch`` at a time (``conn`` in autocommit: each batch
    commits); returns how many went."""
    unknown = set(statuses) - set(FINAL)
    if unknown:
        raise ValueError(f"not a final job status: {sorted(unknown)}")
    cutoff = conn.execute("SELECT now() - make_interval(secs => %s)",
                          (older_than_hours * 3600,)).fetchone()[0]
    total = 0
    while True:
        deleted = conn.execute(DELETE_BATCH, {"cutoff": cutoff, "statuses": list(statuses),
                                              "batch": batch}).rowcount
        total += deleted
        if deleted < batch:
            return total


def remove_old_jobs(pool: Any, *, succeeded_days: int, failed_days: int,
                    batch: int = 5000) -> tuple[int, int, float]:
    """The cleanup task's work: succeeded jobs past ``succeeded_days``, then every
    final state past ``failed_days``; (succeeded removed, others removed, seconds)."""
    started = time.monotonic()
    with pool.connection() as conn:  # the pool's connections are in autocommit
        succeeded = delete_finished(conn, older_than_hours=succeeded_days * 24,
                                    statuses=["succeeded"], batch=batch)
        others = delete_finished(conn, older_than_hours=failed_days * 24,
                                 statuses=list(FINAL), batch=batch)
    return succeeded, others, time.monotonic() - started
