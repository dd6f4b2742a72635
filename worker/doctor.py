"""``peerpulse doctor``: check the state database; rebuild a damaged one so that
nothing is lost and no week is sent twice (issue 10, item 4).

Check (the default) runs SQLite's full ``integrity_check`` and says what a
repair would keep. ``--repair``, under the run lock:

1. reads what the sources cannot give back (digest ledger, recommendation
   history, title changes, store id; :mod:`worker.store.salvage`), row by row
   where a table no longer reads whole;
2. exports it to ``ledger-export-<time>.json`` beside the database (0600), so it
   survives whatever happens next;
3. moves the damaged file (with its ``-wal``/``-shm``) aside, never deleting it;
4. creates a new store, writes the salvaged rows into it, keeps the store id;
5. syncs every account from its sources, then updates the marker: the newest
   week it remembers as sent stays the floor even if ledger rows were lost.

Exit codes: 0 sound (or repaired, every source synced); 1 damage found (check)
or a repair that left something to do (a source failed, problems remain); 2
config error; 75 another run holds the lock.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from peerpulse.connectors.atomic_file import fsync_dir, write_atomic
from peerpulse.connectors.file_modes import make_private_dir
from peerpulse.worker import config as config_module
from peerpulse.worker import marker
from peerpulse.worker.console import Env, parse_now
from peerpulse.worker.digest.sanitize import terminal_text
from peerpulse.worker.errors import ExitCode
from peerpulse.worker.lock import run_lock
from peerpulse.worker.progress import Progress
from peerpulse.worker.store import SqliteStore
from peerpulse.worker.store.salvage import Salvage, integrity_problems, salvage
from peerpulse.worker.sync import AccountSyncReport, sync_account

log = logging.getLogger("peerpulse")

REPAIR_HINT = (
    "repair with: peerpulse doctor --repair (keeps the damaged file aside, exports the "
    "ledger, rebuilds the store from the sources; no week already sent is sent again)"
)


@dataclass
class Diagnosis:
    """What ``doctor`` found: ``problems`` empty means the database is sound."""

    database: Path
    problems: list[str]
    found: Salvage | None = None  # what a repair would keep (None: nothing to read)


@dataclass
class Repair:
    damaged_copy: Path | None
    export: Path
    found: Salvage
    restored: dict[str, int]
    reports: dict[str, AccountSyncReport] = field(default_factory=dict)
    remaining: list[str] = field(default_factory=list)  # integrity problems after the rebuild
    floor: dict[str, str] = field(default_factory=dict)  # per account, newest week sent


def diagnose(database: Path) -> Diagnosis:
    """Integrity of ``database``; for a damaged one, what can still be read.

    A missing or empty file is damage only when the marker says a store existed
    (otherwise it is a first run)."""
    remembered = marker.read(database)
    if marker.is_new_database(database):
        if remembered is None:
            return Diagnosis(database, [])
        return Diagnosis(database, [
            f"missing or empty, but {marker.marker_path(database)} says a store existed"
        ], Salvage())
    problems = integrity_problems(database)
    return Diagnosis(database, problems, salvage(database) if problems else None)


def repair(settings: config_module.Settings, now: datetime | None) -> Repair:
    """Rebuild the database at ``settings.database_path`` (the caller holds the lock)."""
    database = settings.database_path
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    found = salvage(database) if not marker.is_new_database(database) else Salvage()
    export = write_atomic(
        database.with_name(f"ledger-export-{stamp}.json"),
        (json.dumps(found.to_json(), indent=1, ensure_ascii=True) + "\n").encode("ascii"),
    )
    damaged = _move_aside(database, stamp)
    remembered = marker.read(database)
    with SqliteStore(database) as store:
        restored = store.restore_salvage(found)
        progress = Progress()
        reports = {}
        for account in settings.accounts:
            reports[account.name] = sync_account(store, settings, account, now=now,
                                                 progress=progress)
            progress.done()
        kept = marker.merged(remembered, store.store_id() or "", store.newest_sent_periods())
        marker.write(database, kept)
        remaining = store.quick_check()
    return Repair(damaged, export, found, restored, reports, remaining, kept.periods_sent)


def _move_aside(database: Path, stamp: str) -> Path | None:
    """Rename the database and its WAL companions to ``<name>.damaged-<stamp>``
    (SQLite pairs a database with ``<name>-wal``, so they stay a pair)."""
    if not database.exists():
        return None
    target = database.with_name(f"{database.name}.damaged-{stamp}")
    for suffix in ("-wal", "-shm"):
        companion = Path(f"{database}{suffix}")
        if companion.exists():
            os.replace(companion, f"{target}{suffix}")
    os.replace(database, target)
    fsync_dir(database.parent)
    return target


# -- the command ------------------------------------------------------------------------


def command(args: argparse.Namespace, env: Env) -> ExitCode:
    settings = config_module.load(args.config)
    database = settings.database_path
    if not args.repair:
        diagnosis = diagnose(database)
        _print_diagnosis(env, diagnosis)
        return ExitCode.PARTIAL_FAILURE if diagnosis.problems else ExitCode.OK
    make_private_dir(settings.state_path)
    with run_lock(settings.state_path):
        diagnosis = diagnose(database)
        if not diagnosis.problems:
            env.print(f"{database}: sound (integrity check ok); nothing to repair")
            return ExitCode.OK
        _print_diagnosis(env, diagnosis)
        done = repair(settings, parse_now(getattr(args, "now", None)))
    _print_repair(env, done)
    failed = done.remaining or any(not r.ok for r in done.reports.values())
    return ExitCode.PARTIAL_FAILURE if failed else ExitCode.OK


def _print_diagnosis(env: Env, diagnosis: Diagnosis) -> None:
    env.print(f"state database: {diagnosis.database}")
    if not diagnosis.problems:
        state = "sound" if diagnosis.database.exists() else "none yet (first run)"
        env.print(f"integrity: {state}")
        return
    env.print(f"integrity: DAMAGED ({len(diagnosis.problems)} problem(s))")
    for problem in diagnosis.problems[:5]:
        env.print(f"  {terminal_text(problem)}")
    if diagnosis.found is not None:
        env.print(f"readable: {_kept(diagnosis.found)}")
    env.print(REPAIR_HINT)


def _print_repair(env: Env, done: Repair) -> None:
    if done.damaged_copy is not None:
        env.print(f"damaged copy kept at {done.damaged_copy}")
    env.print(f"ledger exported to {done.export}")
    env.print(f"restored: {_kept(done.found)}")
    for table, error in done.found.problems.items():
        env.print(f"  could not read all of {table}: {terminal_text(error)}")
    for name, report in done.reports.items():
        upserted = sum(s.upserted for s in report.sources)
        state = "ok" if report.ok else "FAILED"
        env.print(f"{name}: rebuilt from the sources, {upserted:,} records ({state})")
        for source in report.sources:
            if source.error:
                env.print(f"  {source.source}: {terminal_text(source.error)}")
        if report.error:
            env.print(f"  {terminal_text(report.error)}")
    floor = ", ".join(f"{a} {p}" for a, p in sorted(done.floor.items())) or "none yet"
    env.print(f"never sent again (the marker's floor): {floor}")
    if done.remaining:
        env.print(f"still damaged after the rebuild: {'; '.join(done.remaining[:3])}")


def _kept(found: Salvage) -> str:
    ledger = found.rows.get("digest_ledger", [])
    sent = sorted({(str(r[0]), str(r[2])) for r in ledger if r[7] == "sent"})
    newest: dict[str, str] = {}
    for account, period in sent:
        newest[account] = max(period, newest.get(account, ""))
    weeks = ", ".join(f"{a} {p}" for a, p in sorted(newest.items())) or "none"
    return (
        f"{len(ledger)} ledger rows (newest sent: {weeks}), "
        f"{len(found.rows.get('recommendation_history', [])):,} recommendation history rows, "
        f"{len(found.rows.get('title_changes', [])):,} title changes"
    )
