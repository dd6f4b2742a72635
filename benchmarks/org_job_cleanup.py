"""Benchmark: the hourly cleanup of finished task-queue jobs at scale
(``make bench-org-cleanup``; docs/SCALING.md, "The task queue's finished jobs").

    python -m benchmarks.org_job_cleanup [--jobs 1680000] [--days 7] [--batch 5000]
        [--database postgresql://...]

Fills Procrastinate's tables (its schema, then ``org migrate``'s index) with
``--jobs`` finished jobs, set-based (``INSERT ... SELECT generate_series``, not
through the API): one sync job per mailbox and hour, finished evenly over the
last ``--days`` days and one hour, with three events each (deferred, started,
succeeded; 0.5 % failed), i.e. the steady state of a ``succeeded_days = --days``
retention, where the hourly cleanup deletes the oldest hour; the failed ones are
kept ``--failed-days``, so those older than ``--days`` are there too (after the
others: ``--jobs`` counts the week). The default is 10,000 managers x 24 x 7.
Then, each on the same table:

* Procrastinate's builtin query (``delete_old_jobs``, what ``remove_old_jobs``
  runs), both calls the cleanup makes, under EXPLAIN (ANALYZE, BUFFERS) in a
  transaction rolled back: its plan, time and buffers;
* the batched delete by index (worker/store/job_cleanup.py) the same way, one batch,
  then the whole hourly run for real (committed), timed.

Prints the plans' top lines and a JSON summary. Without ``--database`` a
throwaway cluster is started like the tests' (tests/pg_cluster.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# One statement per chunk of job ids: jobs finished evenly over the window,
# newest id last (ids grow with time, as the queue's bigserial does).
_JOBS = """
INSERT INTO procrastinate_jobs (id, queue_name, task_name, lock, queueing_lock, args,
                                status, attempts)
SELECT g, 'sync', 'peerpulse.sync_account', 'account:mgr' || (g %% %(managers)s::bigint),
       NULL, jsonb_build_object('account', 'mgr' || (g %% %(managers)s::bigint),
                                'directory', false),
       CASE WHEN g %% 200 = 0 THEN 'failed' ELSE 'succeeded' END::procrastinate_job_status, 1
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g
"""
_EVENTS = """
INSERT INTO procrastinate_events (job_id, type, at)
SELECT g, kind.type::procrastinate_job_event_type,
       %(now)s::timestamptz
       - make_interval(secs => (%(jobs)s::bigint - g) * %(step)s::float8 + kind.back)
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g,
     (VALUES ('deferred', 2.0), ('started', 1.0), ('succeeded', 0.0)) AS kind(type, back)
"""
_OLDER_FAILED = """
WITH made AS (
    INSERT INTO procrastinate_jobs (id, queue_name, task_name, lock, args, status, attempts)
    SELECT g, 'sync', 'peerpulse.sync_account', 'account:mgr' || (g %% %(managers)s::bigint),
           '{}'::jsonb, 'failed', 1
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g
    RETURNING id
)
INSERT INTO procrastinate_events (job_id, type, at)
SELECT id, kind.type::procrastinate_job_event_type,
       %(now)s::timestamptz - make_interval(days => %(days)s::int)
       - make_interval(secs => (id - %(first)s::bigint) * %(step)s::float8 + kind.back)
FROM made, (VALUES ('deferred', 2.0), ('started', 1.0), ('failed', 0.0)) AS kind(type, back)
"""
_FAIL = ("UPDATE procrastinate_events SET type = 'failed' WHERE type = 'succeeded' "
         "AND mod(job_id, 200) = 0")


def fill(conn: Any, jobs: int, days: float, managers: int, failed_days: float,
         chunk: int = 250_000) -> float:
    """The table as the retention leaves it; seconds taken. The failed jobs (one in
    200) are kept ``failed_days``: those older than ``days`` come after the others."""
    started = time.perf_counter()
    now = conn.execute("SELECT now()").fetchone()[0]
    step = (days * 24 + 1) * 3600 / jobs  # seconds between two jobs' ends
    for lo in range(1, jobs + 1, chunk):
        hi = min(jobs, lo + chunk - 1)
        args = {"lo": lo, "hi": hi, "managers": managers, "jobs": jobs, "step": step, "now": now}
        conn.execute(_JOBS, args)
        conn.execute(_EVENTS, args)
    conn.execute(_FAIL)
    older = int(jobs / 200 * (failed_days - days) / days)  # failed, days..failed_days ago
    if older > 0:
        span = (failed_days - days) * 86400 / older
        conn.execute(_OLDER_FAILED, {"lo": jobs + 1, "hi": jobs + older, "managers": managers,
                                     "first": jobs + 1, "step": span, "days": days, "now": now})
        jobs += older
    conn.execute("SELECT setval('procrastinate_jobs_id_seq', %s)", (jobs,))
    conn.execute("VACUUM ANALYZE procrastinate_jobs")
    conn.execute("VACUUM ANALYZE procrastinate_events")
    return time.perf_counter() - started


def explain(conn: Any, sql: str, params: dict[str, Any]) -> tuple[float, list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of ``sql`` in a transaction rolled back: (ms, plan)."""
    conn.execute("BEGIN")
    try:
        started = time.perf_counter()
        plan = [r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)]
        plan = plan[:-1] if plan[-1].startswith("Execution") else plan  # printed apart
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        conn.execute("ROLLBACK")
    return elapsed, plan


def builtin_sql() -> str:
    """Procrastinate's own ``delete_old_jobs`` query, as its job manager runs it."""
    from procrastinate import sql

    return sql.queries["delete_old_jobs"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_680_000)
    parser.add_argument("--days", type=float, default=7.0, help="succeeded_days retention")
    parser.add_argument("--failed-days", type=float, default=30.0)
    parser.add_argument("--managers", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--database", help="an empty database (default: a throwaway cluster)")
    parser.add_argument("--plan-lines", type=int, default=14)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import psycopg
    from peerpulse.worker.store import job_cleanup
    from procrastinate.schema import SchemaManager

    cluster = None
    url = args.database
    if not url:
        from tests.pg_cluster import Cluster, unavailable_reason

        reason = unavailable_reason()
        if reason:
            raise SystemExit(f"no PostgreSQL: {reason}")
        cluster = Cluster().start()
        url = cluster.new_database()
    out: dict[str, Any] = {"jobs": args.jobs, "days": args.days, "managers": args.managers}
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SchemaManager.get_schema())
            out["fill_s"] = round(fill(conn, args.jobs, args.days, args.managers,
                                       args.failed_days), 1)
            out["jobs_total"] = conn.execute(
                "SELECT count(*) FROM procrastinate_jobs").fetchone()[0]
            out["events"] = conn.execute("SELECT count(*) FROM procrastinate_events").fetchone()[0]
            out["table_mb"] = round(float(conn.execute(
                "SELECT (pg_total_relation_size('procrastinate_jobs') + "
                "pg_total_relation_size('procrastinate_events')) / 1048576.0").fetchone()[0]))
            due = conn.execute(
                "SELECT count(*) FROM procrastinate_jobs j WHERE j.status = 'succeeded' AND "
                "(SELECT max(at) FROM procrastinate_events e WHERE e.job_id = j.id) "
                "< now() - make_interval(hours => %s)", (int(args.days * 24),)).fetchone()[0]
            out["due_jobs"] = due
            sql = builtin_sql()
            calls = [("succeeded", ["succeeded"], args.days * 24),
                     ("final", list(job_cleanup.FINAL), args.failed_days * 24)]
            for name, statuses, hours in calls:
                ms, plan = explain(conn, sql, {"statuses": statuses, "queue": None,
                                               "nb_hours": int(hours)})
                out[f"builtin_{name}_ms"] = round(ms)
                print(f"-- builtin delete_old_jobs ({name}): {ms:.0f} ms", flush=True)
                print("\n".join(plan[:args.plan_lines]), flush=True)
            started = time.perf_counter()
            job_cleanup.ensure_index(conn)
            out["index_build_s"] = round(time.perf_counter() - started, 1)
            out["index_mb"] = round(float(conn.execute(
                "SELECT pg_relation_size(%s) / 1048576.0", (job_cleanup.INDEX,)).fetchone()[0]), 1)
            cutoff = conn.execute("SELECT now() - make_interval(hours => %s)",
                                  (int(args.days * 24),)).fetchone()[0]
            ms, plan = explain(conn, job_cleanup.DELETE_BATCH, {
                "cutoff": cutoff, "statuses": ["succeeded"], "batch": args.batch})
            out["batch_ms"] = round(ms)
            print(f"-- one batch by index ({args.batch} jobs): {ms:.0f} ms", flush=True)
            print("\n".join(plan[:args.plan_lines]), flush=True)
            started = time.perf_counter()
            succeeded = job_cleanup.delete_finished(
                conn, older_than_hours=args.days * 24, statuses=["succeeded"], batch=args.batch)
            others = job_cleanup.delete_finished(
                conn, older_than_hours=args.failed_days * 24, statuses=list(job_cleanup.FINAL),
                batch=args.batch)
            out["batched_run_s"] = round(time.perf_counter() - started, 2)
            out["batched_deleted"] = [succeeded, others]
            left = conn.execute("SELECT count(*) FROM procrastinate_jobs").fetchone()[0]
            out["jobs_left"] = left
    finally:
        if cluster is not None:
            cluster.stop()
    out["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
