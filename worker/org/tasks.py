"""The Procrastinate app of organization mode: tasks, locks, ticks, recovery.

Why Procrastinate: it keeps its queue in the PostgreSQL the organization
already runs for the store (no broker), and gives per-key locks, queueing
locks, periodic tasks and retries. What it does not do by itself, done here:

* **Locks.** Every job of one mailbox (sync, directory, digest) carries the lock
  ``account:<name>``: one at a time per mailbox, in the order deferred, so a
  digest deferred after its sync runs after it. A queueing lock per job kind
  and account (and per period for digests) keeps a job from being queued twice
  while one waits (it does not cover one already running: a second defer then
  succeeds, and the ledger makes that job a no-op).
* **Stalled jobs.** A SIGKILLed worker leaves its job 'doing' (holding its
  mailbox's lock) until someone retries it; the ``recover`` periodic task
  retries jobs whose worker missed heartbeats for ``stalled_after`` seconds.
* **Periodic ticks** defer once per tick across all workers; they go to the
  ``schedule`` queue, which every worker consumes by default.
* **Finished jobs.** Procrastinate keeps them for good (about 2.4 million a day
  at 100,000 managers); the ``cleanup`` periodic task deletes them past the
  retention of ``[organization.job_retention]``, by an index of ours and in
  batches (worker/store/job_cleanup.py; Procrastinate's builtin sorts the
  whole table).

Sync tasks run in threads of the worker (the async PsycopgConnector): jobs.py
is thread-safe through the Runtime's shared pool.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import procrastinate
from peerpulse.worker.config import JobRetention
from peerpulse.worker.org import jobs
from peerpulse.worker.org.runtime import Runtime
from procrastinate.exceptions import AlreadyEnqueued

log = logging.getLogger("peerpulse.org")

SYNC = "peerpulse.sync_account"
DIGEST = "peerpulse.deliver_digest"
TICK = "peerpulse.tick"
DIRECTORY_TICK = "peerpulse.directory_tick"
SYNC_DIRECTORY = "peerpulse.sync_directory"  # the organization's one shared directory
RECOVER = "peerpulse.recover_stalled"
CLEANUP = "peerpulse.remove_old_jobs"
QUEUES = ("schedule", "sync", "digest")

#: A job that raised (a bug, the database gone) is tried again with backoff;
#: connector failures do not raise (jobs.py) and are not retried here.
_RETRY = procrastinate.RetryStrategy(max_attempts=3, exponential_wait=30)


@dataclass(frozen=True)
class Options:
    """When the periodic tasks run (cron, optional 6th field = seconds)."""

    tick_cron: str = "5 * * * *"  # hourly: sync every mailbox, defer due digests
    directory_cron: str = "15 3 * * *"  # daily: the directory changes slowly
    recover_cron: str = "* * * * *"  # every minute: retry jobs of dead workers
    stalled_after: float = 60.0  # seconds without a heartbeat before a job is retried
    cleanup_cron: str = "45 * * * *"  # hourly: an hour's finished jobs, not a day's at once


def connector(rt: Runtime, max_size: int = 4) -> Any:
    from procrastinate import PsycopgConnector

    kwargs = {"password": rt.password} if rt.password else {}
    return PsycopgConnector(conninfo=rt.url, kwargs=kwargs, min_size=1, max_size=max_size)


def build_app(rt: Runtime, options: Options | None = None) -> procrastinate.App:
    """The app with peerpulse's tasks bound to ``rt`` (one per worker process)."""
    options = options or Options()
    app = procrastinate.App(connector=connector(rt), periodic_defaults={"max_delay": 3600})

    @app.task(name=SYNC, queue="sync", retry=_RETRY)
    def sync_account(account: str, directory: bool = False) -> str:
        return jobs.sync_one(rt, account, directory=directory)

    @app.task(name=SYNC_DIRECTORY, queue="sync", retry=_RETRY)
    def sync_directory() -> str:
        return jobs.sync_directory(rt)

    @app.task(name=DIGEST, queue="digest", retry=_RETRY)
    def deliver_digest(account: str, period: str) -> str:
        return jobs.deliver_one(rt, account, period)

    @app.periodic(cron=options.tick_cron, periodic_id="tick")
    @app.task(name=TICK, queue="schedule", queueing_lock="tick", pass_context=True)
    async def tick(context: procrastinate.JobContext, timestamp: int) -> str:
        now = rt.pinned_now or datetime.fromtimestamp(timestamp, UTC)
        return await enqueue_hourly(context.app, rt, now)

    @app.periodic(cron=options.directory_cron, periodic_id="directory")
    @app.task(name=DIRECTORY_TICK, queue="schedule", queueing_lock="directory",
              pass_context=True)
    async def directory_tick(context: procrastinate.JobContext, timestamp: int) -> str:
        n = await defer_directory(context.app) if jobs.shared_directory(rt) else 0
        for name in await asyncio.to_thread(jobs.own_directory_accounts, rt):
            n += await defer_sync(context.app, name, directory=True)
        return f"{n} directory syncs deferred"

    @app.periodic(cron=options.recover_cron, periodic_id="recover")
    @app.task(name=RECOVER, queue="schedule", queueing_lock="recover", pass_context=True)
    async def recover(context: procrastinate.JobContext, timestamp: int) -> int:
        return await recover_stalled(context.app, options.stalled_after)

    @app.periodic(cron=options.cleanup_cron, periodic_id="cleanup")
    @app.task(name=CLEANUP, queue="schedule", queueing_lock="cleanup", pass_context=True)
    async def cleanup(context: procrastinate.JobContext, timestamp: int) -> str:
        return await remove_old_jobs(rt, retention(rt))

    return app


def retention(rt: Runtime) -> JobRetention:
    """``[organization.job_retention]``, or its defaults without ``[organization]``."""
    org = rt.settings.organization
    return org.job_retention if org is not None else JobRetention()


async def remove_old_jobs(rt: Runtime, keep: JobRetention) -> str:
    """Delete finished jobs (and their events) older than the retention: succeeded
    jobs past ``succeeded_days``, then every final state (failed, cancelled,
    aborted; succeeded ones that old are gone already) past ``failed_days``.

    Not Procrastinate's builtin ``remove_old_jobs``: its query joins and sorts
    every job and event to find the few due, which at 10,000 managers is the
    whole week of hourly jobs every hour; worker/store/job_cleanup.py finds them by
    index and deletes them in batches (docs/SCALING.md has both measured)."""
    from peerpulse.worker.store import job_cleanup

    succeeded, others, seconds = await asyncio.to_thread(
        job_cleanup.remove_old_jobs, rt.pool(), succeeded_days=keep.succeeded_days,
        failed_days=keep.failed_days)
    line = (f"finished jobs removed: {succeeded} succeeded older than {keep.succeeded_days} "
            f"days, {others} failed older than {keep.failed_days} days ({seconds:.1f}s)")
    log.info("%s", line)
    return line


async def _defer(app: procrastinate.App, name: str, lock: str, queueing_lock: str,
                 **kwargs: Any) -> int:
    """1 if deferred, 0 if the same job already waits (its queueing lock)."""
    try:
        await app.tasks[name].configure(lock=lock, queueing_lock=queueing_lock).defer_async(
            **kwargs)
    except AlreadyEnqueued:
        return 0
    return 1


async def defer_sync(app: procrastinate.App, account: str, *, directory: bool = False) -> int:
    kind = "directory" if directory else "sync"
    return await _defer(app, SYNC, f"account:{account}", f"{kind}:{account}",
                        account=account, directory=directory)


async def defer_directory(app: procrastinate.App) -> int:
    """The shared directory's sync: its own lock (it writes only the directory's
    rows); a queueing lock outside ``directory:<account>``, which any account's
    name could collide with."""
    return await _defer(app, SYNC_DIRECTORY, "directory", "shared-directory")


async def defer_digest(app: procrastinate.App, account: str, period: str) -> int:
    return await _defer(app, DIGEST, f"account:{account}", f"digest:{account}:{period}",
                        account=account, period=period)


async def enqueue_hourly(app: procrastinate.App, rt: Runtime, now: datetime,
                         *, sync: bool = True) -> str:
    """One tick: a sync for every mailbox, then the due digests (same lock, so each
    digest runs after its mailbox's sync)."""
    synced = 0
    if sync:
        if await asyncio.to_thread(jobs.directory_due, rt):
            synced += await defer_directory(app)
        for account in await asyncio.to_thread(rt.accounts):
            synced += await defer_sync(app, account.name)
    due = await asyncio.to_thread(jobs.due_digests, rt, now)
    digests = 0
    for item in due:
        digests += await defer_digest(app, item.account, item.period)
    line = f"{synced} syncs and {digests} digests deferred ({len(due)} due)"
    log.info("%s", line)
    return line


async def recover_stalled(app: procrastinate.App, stalled_after: float) -> int:
    """Retry every job whose worker has sent no heartbeat for ``stalled_after``
    seconds (SIGKILL, OOM, a lost node): the job, and its mailbox's lock, go
    back to the queue for another worker. Returns how many were retried."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
    n = 0
    for job in stalled:
        log.warning("retrying job %s (%s %s): its worker stopped", job.id, job.task_name,
                    job.task_kwargs)
        await app.job_manager.retry_job(job)
        n += 1
    return n


def use_job_threads(concurrency: int) -> None:
    """Give the running loop's default executor enough threads for ``concurrency`` jobs.

    Procrastinate runs a synchronous task through asgiref's ``sync_to_async``
    (``thread_sensitive=False``), i.e. on the loop's *default* executor, which
    asyncio sizes ``min(32, cpus + 4)``: 6 threads on 2 cores. ``--concurrency
    25`` then ran 6 syncs at a time and the rest waited for a thread while the
    six waited on the provider's API (measured: 25 mailboxes finished in waves of 6). The
    jobs wait on the APIs, not the CPU, so one thread per job (and a few for the
    ticks' ``to_thread`` calls) is what ``--concurrency`` means."""
    from concurrent.futures import ThreadPoolExecutor

    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=concurrency + 4, thread_name_prefix="peerpulse-job"))


async def ensure_schema(app: procrastinate.App, rt: Runtime | None = None) -> bool:
    """Install Procrastinate's tables if absent, and (given ``rt``) our index on
    them for the cleanup (worker/store/job_cleanup.py); True if the tables were
    installed."""
    installed = False
    if not await app.check_connection_async():
        await app.schema_manager.apply_schema_async()
        installed = True
    if rt is not None:
        from peerpulse.worker.store import job_cleanup

        def index() -> None:
            with rt.pool().connection() as conn:  # autocommit: CREATE INDEX CONCURRENTLY
                job_cleanup.ensure_index(conn)

        await asyncio.to_thread(index)
    return installed
