"""``peerpulse org ...``: migrate, worker, enqueue, status (docs/ORGANIZATION.md).

Parsing only here and in the small command functions below; the work is in
jobs.py and tasks.py. Procrastinate, psycopg, asyncio and the store are imported
when a command runs, so ``peerpulse --help`` and the single-manager commands never
load them (tests/test_architecture.py).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from peerpulse.worker.console import Env, dump_json, parse_now
from peerpulse.worker.errors import ExitCode, StateError

log = logging.getLogger("peerpulse.org")


def add_parser(sub: Any) -> None:
    """Add ``org`` and its subcommands to the top-level subparsers."""
    org = sub.add_parser(
        "org",
        help="organization mode: many managers, shared PostgreSQL, workers",
        description="Run peerpulse for a whole organization: every account in the config "
        "on one PostgreSQL database ([database] url), the work done by `org worker` "
        "processes (Procrastinate). See docs/ORGANIZATION.md.",
    )
    org_sub = org.add_subparsers(dest="org_command", metavar="ORG_COMMAND")
    org_sub.required = True

    def now_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--now", help="pin the clock (ISO date/datetime; also PEERPULSE_NOW)")

    p = org_sub.add_parser(
        "migrate", help="create or upgrade the tables (peerpulse's and the task queue's)",
        description="Apply peerpulse's schema migrations and install Procrastinate's "
        "schema if absent. Run once per release, before the workers (a Kubernetes Job).")
    p.set_defaults(func=cmd_migrate)

    p = org_sub.add_parser(
        "worker", help="run a worker: take jobs from the queue until stopped",
        description="Run sync and digest jobs from the shared queue; also defers the "
        "periodic ticks (hourly sync and due digests, daily directory, stalled-job "
        "recovery) once across all workers. Stops cleanly on SIGTERM/SIGINT.")
    p.add_argument("--concurrency", type=int, default=2,
                   help="jobs run at once in this process, in threads (default 2; sync "
                   "waits on the APIs, so more than the cores is fine)")
    p.add_argument("--queues", help="comma-separated queues to take jobs from "
                   "(default: schedule,sync,digest)")
    p.add_argument("--name", help="worker name in logs and the jobs table")
    p.add_argument("--stalled-after", type=float, default=60.0,
                   help="seconds without a heartbeat before a job's worker counts as dead "
                   "and the job is retried (default 60)")
    p.add_argument("--heartbeat", type=float, default=10.0,
                   help="seconds between this worker's heartbeats (default 10)")
    p.add_argument("--tick-cron", default="5 * * * *",
                   help="when to sync every mailbox and defer due digests (default hourly)")
    p.add_argument("--recover-cron", default="* * * * *",
                   help="when to look for stalled jobs (default every minute; a 6th field "
                   "gives seconds)")
    p.add_argument("--one-shot", action="store_true",
                   help="stop when the queues are empty instead of waiting for more")
    now_arg(p)
    p.set_defaults(func=cmd_worker)

    p = org_sub.add_parser(
        "enqueue", help="defer jobs now instead of waiting for the hourly tick",
        description="tick: a sync for every mailbox and every due digest (what the "
        "hourly periodic task does); sync/directory/digest: one kind, for --account or "
        "every account. A job already waiting is not queued twice.")
    p.add_argument("what", choices=["tick", "sync", "directory", "digest"])
    p.add_argument("--account", help="only this account (default: every account)")
    p.add_argument("--period", help="digest: this ISO week (default: the due one)")
    now_arg(p)
    p.set_defaults(func=cmd_enqueue)

    p = org_sub.add_parser(
        "status", help="every manager: last sync, last digest, errors, re-authorization",
        description="One line per account from the shared database, and the queue's "
        "job counts.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)


def _runtime(args: argparse.Namespace) -> Any:
    from peerpulse.worker import config as config_module
    from peerpulse.worker.org.runtime import Runtime

    settings = config_module.load(args.config)
    return Runtime(settings, now=parse_now(getattr(args, "now", None)))


def _run(coro: Any) -> Any:
    """Run an org coroutine; a database that cannot be reached is one clear error."""
    import asyncio

    import psycopg
    from peerpulse.worker.errors import StoreError

    try:
        return asyncio.run(coro)
    except (psycopg.Error, OSError) as exc:
        raise StateError(f"organization database: {exc}") from None
    except StoreError as exc:
        raise StateError(str(exc)) from None


def cmd_migrate(args: argparse.Namespace, env: Env) -> ExitCode:
    import asyncio

    from peerpulse.worker.org.tasks import build_app, ensure_schema

    rt = _runtime(args)

    async def go() -> tuple[int, bool]:
        version = await asyncio.to_thread(rt.migrate)
        app = build_app(rt)
        async with app.open_async():
            installed = await ensure_schema(app)
        return version, installed

    try:
        version, installed = _run(go())
    finally:
        rt.close()
    env.print(f"peerpulse schema {version}; task queue schema "
              f"{'installed' if installed else 'present'}")
    return ExitCode.OK


def cmd_worker(args: argparse.Namespace, env: Env) -> ExitCode:
    from peerpulse.worker.org.tasks import QUEUES, Options, build_app, use_job_threads

    rt = _runtime(args)
    options = Options(tick_cron=args.tick_cron, recover_cron=args.recover_cron,
                      stalled_after=args.stalled_after)
    queues = [q.strip() for q in args.queues.split(",")] if args.queues else list(QUEUES)
    app = build_app(rt, options)

    async def go() -> None:
        rt.store().close()  # the schema must exist: fail now, clearly, not per job
        use_job_threads(args.concurrency)
        async with app.open_async():
            await app.run_worker_async(
                queues=queues, concurrency=args.concurrency, name=args.name,
                wait=not args.one_shot, update_heartbeat_interval=args.heartbeat,
                stalled_worker_timeout=max(args.stalled_after, 2 * args.heartbeat),
            )

    try:
        _run(go())
    finally:
        rt.close()
    return ExitCode.OK


def cmd_enqueue(args: argparse.Namespace, env: Env) -> ExitCode:
    from peerpulse.worker import schedule
    from peerpulse.worker.org import tasks

    rt = _runtime(args)
    now = rt.now()
    accounts = [rt.settings.account(args.account)] if args.account else rt.settings.accounts
    app = tasks.build_app(rt)

    async def go() -> str:
        async with app.open_async():
            if args.what == "tick":
                return await tasks.enqueue_hourly(app, rt, now)
            n = 0
            for account in accounts:
                if args.what == "digest":
                    cfg = account.digest
                    period = args.period or schedule.due_period(
                        now, account.zone, cfg.day, cfg.time)
                    if period is None:
                        continue
                    n += await tasks.defer_digest(app, account.name, period)
                else:
                    n += await tasks.defer_sync(app, account.name,
                                                directory=args.what == "directory")
            return f"{n} {args.what} jobs deferred ({len(accounts) - n} already waiting " \
                   "or not due)"

    try:
        env.print(_run(go()))
    finally:
        rt.close()
    return ExitCode.OK


def cmd_status(args: argparse.Namespace, env: Env) -> ExitCode:
    from peerpulse.worker.org.status import account_rows, render_table

    rt = _runtime(args)
    try:
        rows = account_rows(rt)
    finally:
        rt.close()
    if args.json:
        env.print(dump_json(rows))
    else:
        env.print(render_table(rows))
    failing = any(r["error"] or r["needs_reauth"] for r in rows)
    return ExitCode.PARTIAL_FAILURE if failing else ExitCode.OK
