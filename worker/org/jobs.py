"""The work of organization mode, one account at a time, engine-free.

Each function is what one task runs: it opens a store on the worker's shared
pool, does one account's work through the code the single-manager path uses
(sync_account, the delivery with its ledger), and returns a line for the log.
Kept apart from Procrastinate so the tests can run the same work from two
processes at once and watch the ledger, not the engine, keep a digest single.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from peerpulse.connectors.base import Source, reads_directory
from peerpulse.worker import schedule
from peerpulse.worker.config import DIRECTORY_ACCOUNT, SOURCE_MODELS, AccountConfig
from peerpulse.worker.org.runtime import Runtime
from peerpulse.worker.store import Store
from peerpulse.worker.store.rows import LedgerState
from peerpulse.worker.sync import AccountSyncReport, sync_account

log = logging.getLogger("peerpulse.org")

#: The pseudo-source under which account-level sync failures are recorded.
CONNECT_SOURCE = "connect"


def _not_directory(source: Source) -> bool:
    return not reads_directory(source)


def shared_directory(rt: Runtime) -> bool:
    """Whether the organization syncs one directory for everyone
    (``[organization.directory]``) instead of a copy per mailbox."""
    org = rt.settings.organization
    return org is not None and org.directory is not None


def sync_one(rt: Runtime, account_name: str, *, directory: bool = False,
             now: datetime | None = None) -> str:
    """Sync one mailbox's calendar and mail, or (``directory``) its own people.

    With a shared directory, a mailbox's own people are only a manager's extra
    people files (an enrollment override); the directory's sources of the
    mailbox's provider are left to :func:`sync_directory`. Without one, each
    mailbox syncs its provider's directory sources (daily, and in the hourly
    sync until their first sync, so a new manager's first digest knows the
    organization). Which sources read the directory is the sources' own
    property (:func:`connectors.base.reads_directory`), not their names.

    Connector failures are recorded in sync_runs (``org status`` shows them), not
    raised: a retry would hit the same expired token or missing file."""
    account = rt.find_account(account_name)
    if account is None:
        return f"{account_name}: not configured or enrolled any more; skipped"
    shared = shared_directory(rt)
    if directory and shared:
        account = _extra_people_account(rt, account)
        if account is None:
            return f"{account_name}: no people files of its own; the shared directory serves it"
    with rt.store() as store:
        def first_time(source: Source) -> bool:  # the directory too until its first sync
            return _not_directory(source) or store.cursor(account_name, source.name) is None

        only: Callable[[Source], bool] = (
            reads_directory if directory else _not_directory if shared else first_time)
        report = sync_account(store, rt.settings, account, now=now or rt.pinned_now, only=only)
        _record(store, account_name, report, hourly=not directory)
        if not directory and report.ok:
            _carry(rt, store, account, now or rt.pinned_now)
    return _line(account_name, "directory" if directory else "sync", report)


def _carry(rt: Runtime, store: Store, account: AccountConfig, now: datetime | None) -> None:
    """After an hourly sync, move the mailbox's inference checkpoint forward (at most
    once a day; ``pipeline.carry_checkpoint``), as ``peerpulse run`` does between
    digests: the weekly digest job then infers ~3 days of records, not ~10 (issue 14).
    The digest is the same either way, so a failure here is logged, never the job's."""
    from peerpulse.worker.pipeline import carry_checkpoint

    try:
        carry_checkpoint(store, rt.settings, account, rt.rules(), now=now or datetime.now(UTC))
    except Exception as exc:  # noqa: BLE001 - an optimization must not fail the sync job
        log.warning("%s: the digest checkpoint was not carried forward: %s", account.name, exc)


def sync_directory(rt: Runtime, *, now: datetime | None = None) -> str:
    """Sync the organization's one directory (``[organization.directory]``) into
    the shared database, under ``DIRECTORY_ACCOUNT``: every manager's digest reads
    titles, managers and departments from it (``pipeline.people_for``)."""
    return sync_directory_report(rt, now=now)[0]


def sync_directory_report(rt: Runtime, *, now: datetime | None = None) -> tuple[str, bool]:
    """:func:`sync_directory`'s line, and whether the sync succeeded."""
    org = rt.settings.organization
    if org is None or org.directory is None:
        return "no [organization.directory] configured; nothing to sync", False
    account = org.directory.account()
    with rt.store() as store:
        report = sync_account(store, rt.settings, account, now=now or rt.pinned_now,
                              only=reads_directory)
        if not report.sources and report.error is None:
            report.error = (f"the {account.source.type!r} source of [organization.directory] "
                            "offers no directory source (see its settings: a directory "
                            "switch, or a people file)")
        _record(store, DIRECTORY_ACCOUNT, report, hourly=True)
    return _line("organization", "directory", report), report.ok


def directory_due(rt: Runtime) -> bool:
    """Whether the shared directory has never been synced (a new organization's
    first tick syncs it at once instead of waiting for the daily one)."""
    if not shared_directory(rt):
        return False
    with rt.store() as store:
        return not any(s.last_run_started is not None
                       for s in store.source_statuses(DIRECTORY_ACCOUNT))


def own_directory_accounts(rt: Runtime) -> list[str]:
    """The mailboxes whose own directory sources the daily directory tick syncs:
    every one without a shared directory; with it, only managers with extra
    people files (a no-op job per manager would be thousands a day)."""
    if not shared_directory(rt):
        return [a.name for a in rt.accounts()]
    from peerpulse.worker.org import roster

    if rt.settings.organization is None or rt.settings.organization.template is None:
        return []
    return [row.account for row in roster.load(rt.pool(), active_only=True) if row.people]


def _extra_people_account(rt: Runtime, account: AccountConfig) -> AccountConfig | None:
    """``account`` reading only its enrollment's extra people files, or None."""
    row = rt.enrollment(account.name)
    if row is None or not row.people:
        return None
    files = SOURCE_MODELS["files"](type="files", people=row.people)
    return account.model_copy(update={"source": files})


def _record(store: Any, account_name: str, report: AccountSyncReport, *, hourly: bool) -> None:
    """Account-level failures (no token, connector unavailable) never reach
    sync_runs; ``org status`` needs them, and which need re-authorization."""
    auth = report.error is not None and (report.hint or "").startswith("run:")
    auth |= any(s.failure == "auth" for s in report.sources)
    if report.error or auth:
        run = store.begin_sync_run(account_name, CONNECT_SOURCE)
        store.finish_sync_run(run, "auth" if auth else "failed", 0, 0, 0,
                              report.error or "re-authorization needed")
    elif hourly:
        run = store.begin_sync_run(account_name, CONNECT_SOURCE)
        store.finish_sync_run(run, "ok", 0, 0, 0)


def _line(who: str, what: str, report: AccountSyncReport) -> str:
    done = sum(s.upserted for s in report.sources)
    errors = [f"{s.source}: {s.error}" for s in report.sources if s.error]
    if report.error:
        errors.insert(0, report.error)
    line = f"{who}: {what} {'failed: ' + '; '.join(errors) if errors else 'ok'}"
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
    from peerpulse.worker.commands import deliver_account_digest

    account = rt.find_account(account_name)
    if account is None:
        return f"{account_name}: not configured or enrolled any more; no digest"
    now = now or rt.now()
    cfg = account.digest
    due = schedule.due_period(now, account.zone, cfg.day, cfg.time)
    if due != period:
        return f"{account_name}: {period} is not the due period now ({due or 'none'}); skipped"
    with rt.store() as store:
        report = deliver_account_digest(store, rt.settings, account, rt.rules(), now,
                                        force=False)
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
    accounts = rt.accounts()
    with rt.store() as store:
        for account in accounts:
            cfg = account.digest
            period = schedule.due_period(now, account.zone, cfg.day, cfg.time)
            if period is None:
                continue
            entry = store.ledger_latest(account.name, account.recipient, period)
            if entry is None or entry.state not in _FINAL:
                due.append(DueDigest(account.name, period))
    return due
