"""The work of organization mode, one account at a time, engine-free.

Each function is what one task runs: it opens a store on the worker's shared
pool, does one account's work through the code the single-manager path uses
(sync_account, the delivery with its ledger), and returns a line for the log.
Kept apart from Procrastinate so the tests can run the same work from two
processes at once and watch the ledger, not the engine, keep a digest single.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from peerpulse.worker import schedule
from peerpulse.worker.org.runtime import Runtime
from peerpulse.worker.store.rows import LedgerState

log = logging.getLogger("peerpulse.org")

#: Sources that read the directory (a people file, or a provider's directory API):
#: it changes slowly, so organization mode syncs it on its own, less often.
DIRECTORY_SOURCES = frozenset({"people", "directory"})
#: The pseudo-source under which account-level sync failures are recorded.
CONNECT_SOURCE = "connect"


def _not_directory(name: str) -> bool:
    return name not in DIRECTORY_SOURCES


def _directory(name: str) -> bool:
    return name in DIRECTORY_SOURCES


def sync_one(rt: Runtime, account_name: str, *, directory: bool = False,
             now: datetime | None = None) -> str:
    """Sync one mailbox's calendar and mail (or, ``directory``, its directory; the
    hourly sync also takes a directory never synced, so a new manager's first
    digest knows the organization).
    Connector failures are recorded in sync_runs (``org status`` shows them), not
    raised: a retry would hit the same expired token or missing file."""
    from peerpulse.worker.sync import sync_account

    account = rt.settings.account(account_name)
    with rt.store() as store:
        def hourly(name: str) -> bool:  # the directory too until its first sync
            return _not_directory(name) or store.cursor(account_name, name) is None

        report = sync_account(store, rt.settings, account, now=now or rt.pinned_now,
                              only=_directory if directory else hourly)
        auth = report.error is not None and (report.hint or "").startswith("run:")
        auth |= any(s.failure == "auth" for s in report.sources)
        if report.error or auth:
            # Account-level failures (no token, connector unavailable) never reach
            # sync_runs; `org status` needs them, and which ones need re-authorization.
            run = store.begin_sync_run(account_name, CONNECT_SOURCE)
            store.finish_sync_run(run, "auth" if auth else "failed", 0, 0, 0,
                                  report.error or "re-authorization needed")
        elif not directory:
            run = store.begin_sync_run(account_name, CONNECT_SOURCE)
            store.finish_sync_run(run, "ok", 0, 0, 0)
    done = sum(s.upserted for s in report.sources)
    errors = [f"{s.source}: {s.error}" for s in report.sources if s.error]
    if report.error:
        errors.insert(0, report.error)
    what = "directory" if directory else "sync"
    line = f"{account_name}: {what} {'failed: ' + '; '.join(errors) if errors else 'ok'}"
    log.log(logging.ERROR if errors else logging.INFO, "%s (%d upserted)", line, done)
    return line


def deliver_one(rt: Runtime, account_name: str, period: str,
                *, now: datetime | None = None) -> str:
    """Compute and deliver one manager's digest for ``period``, if that period is
    still the due one; otherwise do nothing (the next tick defers the due one).

    Exactly-once comes from the ledger in the shared database (first rendering
    wins, one claim per row), so a duplicate job or a second worker finds the
    period sent or claimed and sends nothing. A job killed between claim and
    commit leaves the row 'sending'; its retry settles it as 'unknown' and
    reports it, never resends it."""
    from peerpulse.worker.commands import _deliver

    account = rt.settings.account(account_name)
    now = now or rt.now()
    cfg = account.digest
    due = schedule.due_period(now, account.zone, cfg.day, cfg.time)
    if due != period:
        return f"{account_name}: {period} is not the due period now ({due or 'none'}); skipped"
    with rt.store() as store:
        report = _deliver(store, rt.settings, account, rt.rules(), now, force=False)
    line = f"{account_name}: {report.describe()}"
    log.log(logging.ERROR if getattr(report, "failed", False) else logging.INFO, "%s", line)
    return line


@dataclass(frozen=True)
class DueDigest:
    account: str
    period: str


_FINAL = {LedgerState.SENT, LedgerState.EMPTY, LedgerState.UNKNOWN, LedgerState.FAILED}


def due_digests(rt: Runtime, now: datetime) -> list[DueDigest]:
    """Accounts whose digest is due at ``now`` and not yet settled in the ledger
    (no row, or pending): the hourly tick defers only these, so a week's due
    window does not fill the queue with no-op jobs."""
    due: list[DueDigest] = []
    with rt.store() as store:
        for account in rt.settings.accounts:
            cfg = account.digest
            period = schedule.due_period(now, account.zone, cfg.day, cfg.time)
            if period is None:
                continue
            entry = store.ledger_latest(account.name, account.recipient, period)
            if entry is None or entry.state not in _FINAL:
                due.append(DueDigest(account.name, period))
    return due
