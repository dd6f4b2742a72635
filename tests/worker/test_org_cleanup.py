"""Finished task-queue jobs are deleted after the configured retention (issue 12).

Procrastinate keeps every finished job and its events for good: at 100,000
managers that is about 2.4 million rows a day. The ``cleanup`` periodic task
deletes them by index and in batches (worker/store/job_cleanup.py; Procrastinate's
builtin ``remove_old_jobs`` sorts every job and event each time); this runs it
against the real PostgreSQL of the fixtures, on jobs finished by the engine's
own job manager and aged by moving their events back in time, and checks it
removes what the builtin would.
"""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
from peerpulse.connectors.quota import project_limiter_factory, set_project_limiter_factory
from peerpulse.worker.config import JobRetention, Settings
from peerpulse.worker.org import tasks
from peerpulse.worker.org.runtime import Runtime
from peerpulse.worker.store import job_cleanup
from procrastinate import sql as procrastinate_sql
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.job_context import JobContext
from procrastinate.jobs import Status

ACCOUNT = {"name": "lee", "owner": "lee@example.com", "source": {"type": "files"}}


@pytest.fixture
def runtime(pg_url):
    def make(**organization: object) -> Runtime:
        settings = Settings(database={"url": pg_url}, accounts=[ACCOUNT],
                            **({"organization": organization} if organization else {}))
        made.append(Runtime(settings))
        return made[-1]

    made: list[Runtime] = []
    factory = project_limiter_factory()
    try:
        yield make
    finally:
        set_project_limiter_factory(factory)  # Runtime installs the shared-row quota
        for rt in made:
            rt.close()


async def _finish(app, worker_id: int, status: Status) -> int:
    """A job the engine took and finished with ``status`` (events and all)."""
    job = await app.configure_task("t.noop", queue="t").defer_async()
    fetched = await app.job_manager.fetch_job(queues=["t"], worker_id=worker_id)
    assert fetched is not None and fetched.id == job
    await app.job_manager.finish_job(fetched, status=status, delete_job=False)
    return job


def _age(url: str, job_id: int, days: float) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE procrastinate_events SET at = now() - make_interval(secs => %s) "
                     "WHERE job_id = %s", (days * 86400, job_id))


def _left(url: str) -> set[int]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM procrastinate_jobs")}


def _events(url: str, ids: set[int]) -> set[int]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(
            "SELECT DISTINCT job_id FROM procrastinate_events WHERE job_id = ANY(%s)",
            (list(ids),))}


def test_old_finished_jobs_go_recent_and_failed_ones_stay_as_configured(runtime, pg_url):
    rt = runtime(job_retention={"succeeded_days": 3, "failed_days": 20})
    app = tasks.build_app(rt)

    async def go() -> dict[str, int]:
        async with app.open_async():
            await tasks.ensure_schema(app, rt)
            worker = await app.job_manager.register_worker()
            jobs = {
                "succeeded 5 days ago": await _finish(app, worker, Status.SUCCEEDED),
                "succeeded 1 day ago": await _finish(app, worker, Status.SUCCEEDED),
                "failed 10 days ago": await _finish(app, worker, Status.FAILED),
                "failed 25 days ago": await _finish(app, worker, Status.FAILED),
                "aborted 25 days ago": await _finish(app, worker, Status.ABORTED),
            }
            jobs["deferred 40 days ago, never run"] = await app.configure_task(
                "t.noop", queue="t").defer_async()
            for name, job_id in jobs.items():
                _age(pg_url, job_id, float(name.split()[1]))
            # The periodic task, run as a worker runs it: deferred, taken, called.
            cleanup = await app.tasks[tasks.CLEANUP].defer_async(timestamp=int(time.time()))
            with pytest.raises(AlreadyEnqueued):  # its queueing lock: never two waiting
                await app.tasks[tasks.CLEANUP].defer_async(timestamp=int(time.time()))
            job = await app.job_manager.fetch_job(queues=["schedule"], worker_id=worker)
            assert job is not None and job.id == cleanup
            context = JobContext(app=app, job=job, start_timestamp=time.time(),
                                 abort_reason=lambda: None)
            line = await app.tasks[tasks.CLEANUP](context, timestamp=0)
            assert "older than 3 days" in line and "older than 20 days" in line
            return jobs

    jobs = asyncio.run(go())
    left = _left(pg_url)
    gone = {"succeeded 5 days ago", "failed 25 days ago", "aborted 25 days ago"}
    assert {n for n, i in jobs.items() if i not in left} == gone
    assert not _events(pg_url, {jobs[n] for n in gone})  # their events went with them


def _age_event(url: str, job_id: int, kind: str, days: float) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE procrastinate_events SET at = now() - make_interval(secs => %s) "
                     "WHERE job_id = %s AND type = %s", (days * 86400, job_id, kind))


def test_the_batched_delete_removes_what_the_builtin_would(runtime, pg_url):
    """The same jobs, cleaned once by Procrastinate's builtin query and once by ours
    in batches of 2: the same ones go. Among them, a job that failed 40 days ago and
    was retried to success yesterday (its last event is recent: it stays), one whose
    events are all old, and more due jobs than a batch holds."""
    rt = runtime()
    app = tasks.build_app(rt)

    async def scenario() -> dict[str, int]:
        async with app.open_async():
            await tasks.ensure_schema(app, rt)
            worker = await app.job_manager.register_worker()
            jobs = {f"succeeded {d} days ago #{k}": await _finish(app, worker, Status.SUCCEEDED)
                    for k, d in enumerate((9, 9, 9, 9, 9, 2))}
            jobs["failed 40 days ago"] = await _finish(app, worker, Status.FAILED)
            retried = await _finish(app, worker, Status.FAILED)
            await app.job_manager.retry_job_by_id_async(retried, retry_at=None)
            fetched = await app.job_manager.fetch_job(queues=["t"], worker_id=worker)
            assert fetched is not None and fetched.id == retried
            await app.job_manager.finish_job(fetched, status=Status.SUCCEEDED, delete_job=False)
            jobs["failed 40 days ago, succeeded 1 day ago"] = retried
            return jobs

    def aged(jobs: dict[str, int]) -> None:
        for name, job_id in jobs.items():
            if name.startswith("failed 40 days ago,"):
                _age(pg_url, job_id, 40)
                _age_event(pg_url, job_id, "succeeded", 1)
            else:
                _age(pg_url, job_id, float(name.split()[1]))

    jobs = asyncio.run(scenario())
    aged(jobs)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("BEGIN")
        for statuses, hours in ((["succeeded"], 7 * 24), (list(job_cleanup.FINAL), 30 * 24)):
            conn.execute(procrastinate_sql.queries["delete_old_jobs"],
                         {"statuses": statuses, "queue": None, "nb_hours": hours})
        builtin = {n for n, i in jobs.items() if i not in {
            r[0] for r in conn.execute("SELECT id FROM procrastinate_jobs")}}
        conn.execute("ROLLBACK")
        succeeded = job_cleanup.delete_finished(conn, older_than_hours=7 * 24,
                                                statuses=["succeeded"], batch=2)
        others = job_cleanup.delete_finished(conn, older_than_hours=30 * 24,
                                             statuses=list(job_cleanup.FINAL), batch=2)
    left = _left(pg_url)
    ours = {n for n, i in jobs.items() if i not in left}
    assert ours == builtin == {f"succeeded 9 days ago #{k}" for k in range(5)} | {
        "failed 40 days ago"}
    assert (succeeded, others) == (5, 1)
    assert not _events(pg_url, {jobs[n] for n in ours})


def test_org_migrate_builds_the_cleanup_index_once(runtime, pg_url):
    rt = runtime()
    app = tasks.build_app(rt)

    async def migrate() -> bool:
        async with app.open_async():
            return await tasks.ensure_schema(app, rt)

    assert asyncio.run(migrate()) is True
    assert asyncio.run(migrate()) is False  # the second time: nothing installed
    with psycopg.connect(pg_url) as conn:
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
            (job_cleanup.INDEX,)).fetchall()
        conn.execute("SET enable_seqscan = off")  # a tiny table: ask what it would use
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN " + job_cleanup.DELETE_BATCH,
            {"cutoff": "2026-01-01", "statuses": ["succeeded"], "batch": 10}))
    assert valid == [(True,)]
    assert job_cleanup.INDEX in plan, plan


def test_retention_defaults_keep_succeeded_a_week_and_failed_a_month(runtime):
    assert tasks.retention(runtime()) == JobRetention(succeeded_days=7, failed_days=30)
    rt = runtime(job_retention={"failed_days": 90})
    assert tasks.retention(rt) == JobRetention(succeeded_days=7, failed_days=90)


def test_cleanup_is_a_periodic_task_with_a_queueing_lock(runtime):
    app = tasks.build_app(runtime(), tasks.Options(cleanup_cron="0 4 * * *"))
    periodic = {key[1]: p for key, p in app.periodic_registry.periodic_tasks.items()}
    assert periodic["cleanup"].cron == "0 4 * * *"
    assert periodic["cleanup"].task.name == tasks.CLEANUP
    assert periodic["cleanup"].task.queueing_lock == "cleanup"
    assert periodic["cleanup"].task.queue == "schedule"  # every worker consumes it
