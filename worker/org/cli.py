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
from peerpulse.worker.errors import ConfigError, ExitCode, StateError

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
    p.add_argument("--cleanup-cron", default="45 * * * *",
                   help="when to delete finished jobs older than [organization.job_retention] "
                   "(default hourly)")
    p.add_argument("--one-shot", action="store_true",
                   help="stop when no job can be taken now instead of waiting for more (a job "
                   "behind its mailbox's lock waits for the next worker)")
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
        "enroll", help="enroll every manager of the directory (people with direct reports)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Sync the organization's directory ([organization.directory]), then "
        "make the enrolled managers match it: everyone with direct reports gets an account "
        "from [organization.template] with their [organization.overrides.\"EMAIL\"]; "
        "those who left, lost their reports, opted out or are disabled are deactivated "
        "(their rows and history stay). Idempotent: a second run changes nothing and "
        "says so. Each manager's digest goes to that manager only (or the override's "
        "recipient).",
        epilog="exit codes: 0 done (or nothing to change), 1 the directory could not be "
        "synced or is empty (nothing changed), 2 bad config or opt-out file")
    p.add_argument("--dry-run", action="store_true",
                   help="print what would change to the enrolled managers and change "
                   "nothing (the directory is still synced first, unless --no-sync)")
    p.add_argument("--opt-out", metavar="FILE", action="append", default=[],
                   help="addresses never enrolled, one a line, '#' comments (repeatable; "
                   "added to [organization] opt_out and opt_out_file)")
    p.add_argument("--no-sync", action="store_true",
                   help="use the directory as last synced instead of syncing it first")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    now_arg(p)
    p.set_defaults(func=cmd_enroll)

    p = org_sub.add_parser(
        "status", help="every manager: last sync, last digest, errors, re-authorization",
        description="One line per account (configured and enrolled) from the shared "
        "database: last sync, last digest (period and ledger state), errors, and whether "
        "its credentials need re-authorization; the shared directory first.",
        epilog="exit codes: 0 all healthy, 1 some account has an error, a failed or "
        "unknown digest, or needs re-authorization, 2 bad config")
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
            installed = await ensure_schema(app, rt)
        return version, installed

    try:
        version, installed = _run(go())
    finally:
        rt.close()
    env.print(f"peerpulse schema {version}; task queue schema "
              f"{'installed' if installed else 'present'}")
    return ExitCode.OK


def cmd_worker(args: argparse.Namespace, env: Env) -> ExitCode:
    import asyncio

    from peerpulse.worker.org.tasks import QUEUES, Options, build_app, use_job_threads

    rt = _runtime(args)
    options = Options(tick_cron=args.tick_cron, recover_cron=args.recover_cron,
                      stalled_after=args.stalled_after, cleanup_cron=args.cleanup_cron)
    queues = [q.strip() for q in args.queues.split(",")] if args.queues else list(QUEUES)
    app = build_app(rt, options)

    async def go() -> None:
        rt.store().close()  # the schema must exist: fail now, clearly, not per job
        await asyncio.to_thread(rt.accounts)  # and the enrolled managers' table, if used
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
    from peerpulse.worker.org import jobs, tasks

    rt = _runtime(args)
    now = rt.now()
    try:
        accounts = [rt.account(args.account)] if args.account else rt.accounts()
    except BaseException:
        rt.close()
        raise
    app = tasks.build_app(rt)

    async def go() -> str:
        async with app.open_async():
            if args.what == "tick":
                return await tasks.enqueue_hourly(app, rt, now)
            n = 0
            if args.what == "directory" and not args.account and jobs.shared_directory(rt):
                n = await tasks.defer_directory(app)
                return f"{n} organization directory sync deferred" + (
                    "" if n else " (one is already waiting)")
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


def cmd_enroll(args: argparse.Namespace, env: Env) -> ExitCode:
    from pathlib import Path

    from peerpulse.worker.config import DIRECTORY_ACCOUNT
    from peerpulse.worker.org import enroll, jobs, roster

    rt = _runtime(args)
    try:
        settings_org = rt.settings.organization
        if settings_org is None or settings_org.template is None:
            raise ConfigError("enrollment needs [organization.template]: the source, digest "
                              "and delivery every enrolled manager gets", key="organization")
        if settings_org.directory is None:
            raise ConfigError("enrollment reads the organization's directory: add "
                              "[organization.directory] (admin, source)", key="organization")
        opt_out = set(settings_org.opt_out)
        files = [rt.settings.resolve_path(settings_org.opt_out_file)] \
            if settings_org.opt_out_file else []
        for path in [*files, *(Path(p) for p in args.opt_out)]:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read the opt-out file: {exc}", file=str(path)) \
                    from None
            opt_out |= enroll.parse_opt_out(text, str(path))

        def work() -> tuple[str | None, enroll.Plan | None]:
            synced = None
            if not args.no_sync:
                synced, ok = jobs.sync_directory_report(rt)
                if not ok:
                    return synced, None
            with rt.store() as store:
                people = store.people(DIRECTORY_ACCOUNT)
            if not people:
                return synced or "organization: the directory holds nobody", None
            existing = roster.load(rt.pool())
            configured = {a.owner: a.name for a in rt.settings.accounts}
            plan = enroll.plan(people, existing, opt_out=opt_out,
                               overrides=settings_org.overrides, configured=configured)
            if not args.dry_run and plan.rows:
                roster.save(rt.pool(), plan.rows, int(rt.now().timestamp()))
            return synced, plan

        synced, plan = _run_sync(work)
    finally:
        rt.close()
    if plan is None:
        log.error("%s; nothing enrolled or changed", synced)
        if args.json:
            env.print(dump_json({"error": synced, "changes": []}))
        return ExitCode.PARTIAL_FAILURE
    for note in plan.notes:
        log.warning("%s", note)
    if args.json:
        env.print(dump_json({
            "dry_run": args.dry_run, "directory": synced, "active": plan.active,
            "unchanged": plan.unchanged, "notes": plan.notes,
            "changes": [vars(c) for c in plan.changes],
        }))
        return ExitCode.OK
    if synced:
        env.print(synced)
    for change in plan.changes:
        env.print(change.line())
    env.print(("dry run, nothing written: " if args.dry_run else "") + plan.summary())
    if plan.changes and not args.dry_run:
        env.print("new managers are synced at the next hourly tick "
                  "(or now: peerpulse org enqueue tick)")
    return ExitCode.OK


def _run_sync(work: Any) -> Any:
    """Run blocking database work; an unreachable database is one clear error."""
    import psycopg
    from peerpulse.worker.errors import StoreError

    try:
        return work()
    except (psycopg.Error, OSError) as exc:
        raise StateError(f"organization database: {exc}") from None
    except StoreError as exc:
        raise StateError(str(exc)) from None


def cmd_status(args: argparse.Namespace, env: Env) -> ExitCode:
    from peerpulse.worker.org.status import account_rows, render_table

    rt = _runtime(args)
    try:
        rows = _run_sync(lambda: account_rows(rt))
    finally:
        rt.close()
    if args.json:
        env.print(dump_json(rows))
    else:
        env.print(render_table(rows))
    failing = any(r["error"] or r["needs_reauth"] for r in rows)
    return ExitCode.PARTIAL_FAILURE if failing else ExitCode.OK
