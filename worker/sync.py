"""Sync one account: every source's batches into the store, cursor by cursor.

This is the only place that moves records from a connector into the store. Each
batch is committed with its cursor in one transaction (``Store.apply_batch``),
so a run killed at any moment resumes from the last committed batch. One bad
source is a recorded failure, not the end of the account; one bad account is a
partial failure, not the end of the run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from peerpulse.connectors.base import (
    AuthRequired,
    ConnectorError,
    CursorExpired,
    Source,
    SourceContext,
    SourceUnavailable,
)
from peerpulse.connectors.registry import load_connector
from peerpulse.connectors.state import CommittedState
from peerpulse.worker.config import AccountConfig, Settings
from peerpulse.worker.faults import counted_fault_point
from peerpulse.worker.store import Store

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int], None]


@dataclass
class SourceReport:
    source: str
    upserted: int = 0
    deleted: int = 0
    skipped: int = 0
    error: str | None = None
    hint: str | None = None
    # Why it failed, from the exception type (never from the message text):
    # "auth" stops the account's other sources, "unavailable" may get the demo hint.
    failure: str | None = None


@dataclass
class AccountSyncReport:
    account: str
    sources: list[SourceReport] = field(default_factory=list)
    purged: dict[str, int] = field(default_factory=dict)
    purge_refused: str | None = None  # a purge larger than privacy.max_purge_share
    reopened: list[str] = field(default_factory=list)  # sources re-read after a deep purge
    error: str | None = None  # the account as a whole could not be synced
    hint: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(s.error is None for s in self.sources)


def source_context(
    settings: Settings, account: AccountConfig, now: datetime | None, store: Store | None = None
) -> SourceContext:
    """What a connector may know about the account: never the whole config.

    Its own settings (``account.source``, secrets still references) go to the
    connector factory separately, typed.
    """
    return SourceContext(
        account=account.name,
        owner_addresses=account.owner_addresses,
        timezone=account.timezone,
        subjects=settings.privacy.subjects,
        base_dir=str(settings.base_dir),
        state_dir=str(settings.state_path),
        now=now,
        committed_state=store_state(store, account.name) if store else None,
    )


def store_state(store: Store, account: str) -> Callable[[str], CommittedState]:
    """Source name -> that source's committed connector state in ``store``.

    Whoever syncs with it must commit each batch before resuming the source
    (``SourceContext.source_state``), as :func:`_drain` does.
    """
    return lambda name: _CommittedState(store, account, name)


class _CommittedState:
    """One source's committed connector state, read through the store."""

    def __init__(self, store: Store, account: str, source: str) -> None:
        self._store, self._account, self._source = store, account, source

    def get(self, key: str) -> str | None:
        return self._store.state_get(self._account, self._source, key)

    def iter_prefix(self, prefix: str) -> Iterator[tuple[str, str]]:
        return self._store.state_iter_prefix(self._account, self._source, prefix)

    def get_many(self, keys: list[str]) -> dict[str, str]:
        """Many keys in one query where the store can (PostgreSQL), else one by one."""
        many = getattr(self._store, "state_get_many", None)
        if many is not None:
            return dict(many(self._account, self._source, keys))
        found = {}
        for key in keys:
            value = self._store.state_get(self._account, self._source, key)
            if value is not None:
                found[key] = value
        return found


def sync_account(
    store: Store,
    settings: Settings,
    account: AccountConfig,
    *,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
    only: Callable[[Source], bool] | None = None,
) -> AccountSyncReport:
    """Sync every source of ``account`` (or those ``only`` accepts: organization
    mode syncs the directory sources apart); never raises for connector failures."""
    report = AccountSyncReport(account.name)
    context = source_context(settings, account, now, store)
    try:
        connector = load_connector(account.source.type)(context, account.source)
        sources = connector.sources()
    except AuthRequired as exc:
        report.error, report.hint = str(exc), f"run: {exc.command}"
        return report
    except SourceUnavailable as exc:
        report.error, report.hint = str(exc), exc.hint
        return report
    except (ConnectorError, ImportError) as exc:
        report.error = f"{type(exc).__name__}: {exc}"
        return report

    _reopen_purged(store, settings, report, now)
    before = store.counts(account.name)
    held_before = before.events + before.messages
    clock = now or datetime.now().astimezone()
    # The most of the history held now that any purge after this sync can reach
    # (its cutoff is never later than the clock's): what the share guard protects.
    reachable = store.count_before(
        account.name, clock - timedelta(days=settings.privacy.retention_days))
    held_due = reachable["events"] + reachable["messages"]
    for source in sources:
        if only is not None and not only(source):
            continue
        result = _sync_source(store, account.name, source, progress, now)
        report.sources.append(result)
        if result.failure == "unavailable":
            result.hint = _demo_hint(settings, account) or result.hint
        if result.failure == "auth":
            break  # the same credentials would fail for every other source

    _purge(store, settings, report, now, held_before=held_before, held_due=held_due)
    return report


def _reopen_purged(
    store: Store, settings: Settings, report: AccountSyncReport, now: datetime | None
) -> None:
    """Re-read in full every source an earlier purge cut deeper than today's
    retention would (issue 10, item 1).

    A run with a clock years ahead (and a purge share raised for it) deletes
    history; back at the right time the sources' cursors still claim it is
    stored. The purge left a horizon per source; one after today's cutoff
    (measured from the clock alone, the latest a correct purge could reach)
    drops that source's cursor, so this sync brings the records back. An
    ordinary daily purge never trips it: its horizon is behind every later
    clock's cutoff."""
    clock = now or datetime.now().astimezone()
    cutoff = clock - timedelta(days=settings.privacy.retention_days)
    report.reopened = store.reopen_purged(report.account, cutoff)
    for source in report.reopened:
        log.warning(
            "%s/%s: an earlier purge removed records within today's retention (the clock "
            "was ahead, or retention_days grew): re-reading the source in full",
            report.account, source,
        )


def _purge(
    store: Store,
    settings: Settings,
    report: AccountSyncReport,
    now: datetime | None,
    *,
    held_before: int | None = None,
    held_due: int | None = None,
) -> None:
    """Apply retention without trusting the clock alone (issue 10, item 1).

    Age is measured from the earlier of the clock and the newest stored record, so
    a clock years ahead cannot empty the store; and a purge of more than
    ``privacy.max_purge_share`` of the account's records is refused loudly.

    The share guard protects history, the records held before this sync
    (``held_before``, of which at most ``held_due`` are old enough for any purge
    this clock allows). Records the sync just brought in and retention removes
    at once are no loss: the sources still hold them. So an account's first sync
    (nothing held) applies retention as configured, and so does a re-read of an
    export with years of old mail (a new export, a reset cursor): refusing it
    would refuse every later purge too, since the old records stay. A clock
    jump reaches held records, and is refused. Without the two counts (callers
    that do not sync) every record due counts as history.
    """
    privacy = settings.privacy
    clock = now or datetime.now().astimezone()
    counts = store.counts(report.account)
    reference = min(clock, counts.newest) if counts.newest is not None else clock
    cutoff = reference - timedelta(days=privacy.retention_days)
    due = store.count_before(report.account, cutoff)
    total = counts.events + counts.messages
    removing = due["events"] + due["messages"]
    if held_before is None:
        history, base = removing, total
    else:
        history, base = min(removing, held_due if held_due is not None else removing), held_before
    if base and history / base > privacy.max_purge_share:
        report.purge_refused = (
            f"retention purge refused: it would delete {due['events']:,} events and "
            f"{due['messages']:,} messages, up to {history / base:.0%} of the {base:,} held "
            f"(more than privacy.max_purge_share = {privacy.max_purge_share:g}); check the "
            "clock, or raise privacy.max_purge_share for one run"
        )
        log.error("%s: %s", report.account, report.purge_refused)
        return
    report.purged = store.purge_before(report.account, cutoff)
    if removing:
        log.info(
            "%s: retention purge (older than %s): %d events, %d messages deleted "
            "(and %d command mails)",
            report.account, cutoff.date().isoformat(),
            report.purged["events"], report.purged["messages"], report.purged["commands"],
        )


def _demo_hint(settings: Settings, account: AccountConfig) -> str | None:
    """The example config points at ./demo: say the one command that creates it."""
    for entry in account.source.local_paths():
        first = Path(entry).parts[0] if Path(entry).parts else ""
        folder = settings.resolve_path(first) if first == "demo" else None
        if folder is not None and not folder.exists():
            return f"create the demo organization with: peerpulse demo --out {folder}"
    return None


def _sync_source(
    store: Store, account: str, source: Any, progress: ProgressCallback | None,
    now: datetime | None = None,
) -> SourceReport:
    result = SourceReport(source.name)
    run = store.begin_sync_run(account, source.name)
    started = time.monotonic()
    try:
        try:
            _drain(store, account, source, store.cursor(account, source.name), result, progress,
                   now)
        except CursorExpired as exc:
            log.warning("%s/%s: %s; resyncing from scratch", account, source.name, exc)
            _drain(store, account, source, None, result, progress, now)
    except AuthRequired as exc:
        result.error, result.hint = str(exc), f"re-authorize with: {exc.command}"
        result.failure = "auth"
    except SourceUnavailable as exc:
        result.error, result.hint = str(exc), exc.hint
        result.failure = "unavailable"
    except ConnectorError as exc:
        result.error = str(exc)
    except Exception as exc:  # a connector bug must not take the other accounts down
        log.exception("%s/%s: unexpected error", account, source.name)
        result.error = f"unexpected {type(exc).__name__}: {exc}"
    outcome = "ok" if result.error is None else "failed"
    store.finish_sync_run(
        run, outcome, result.upserted, result.deleted, result.skipped, result.error
    )
    log.info(
        "%s/%s: %s, %d upserted, %d deleted, %d skipped in %.1fs",
        account,
        source.name,
        outcome,
        result.upserted,
        result.deleted,
        result.skipped,
        time.monotonic() - started,
    )
    return result


def _drain(
    store: Store,
    account: str,
    source: Any,
    cursor: str | None,
    result: SourceReport,
    progress: ProgressCallback | None,
    now: datetime | None = None,
) -> None:
    for batch in source.sync(cursor):
        outcome = store.apply_batch(account, source.name, batch, now=now)
        counted_fault_point("after_sync_batch")
        result.upserted += outcome.upserted
        result.deleted += outcome.deleted
        result.skipped += outcome.skipped
        for item in batch.skipped:
            log.warning("%s/%s: skipped %s: %s", account, source.name, item.location, item.reason)
        if progress is not None:
            progress(f"{account}/{source.name}", result.upserted)
