"""The SQLite store: records, cursors, history, all in one file.

Every write that must be atomic with another (a page of records and the cursor
after it; a record and the title change it reveals) happens inside one
``BEGIN IMMEDIATE`` transaction, so a process killed at any point leaves either
the whole batch or none of it. WAL mode lets ``status`` and ``digest`` read
while a sync writes; ``busy_timeout`` turns brief lock contention between
overlapping processes into waiting instead of errors.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from peerpulse.connectors.file_modes import make_private_dir
from peerpulse.connectors.records import (
    EventInstance,
    MailCommand,
    MessageMeta,
    Person,
    RecordKind,
    SyncBatch,
)
from peerpulse.worker.errors import StoreError
from peerpulse.worker.store import codec, salvage
from peerpulse.worker.store import sqlite_ledger as ledger_sql
from peerpulse.worker.store import sqlite_overrides as overrides_sql
from peerpulse.worker.store import sqlite_retention as retention_sql
from peerpulse.worker.store.migrations import MIGRATIONS, POSTGRES_ONLY
from peerpulse.worker.store.nul import nul_free, nul_free_text
from peerpulse.worker.store.rows import (
    AccountCounts,
    BatchOutcome,
    SourceStatus,
    TitleChange,
)
from peerpulse.worker.store.shared_sql import SharedSqlMethods
from peerpulse.worker.store.sqlite_state import write_state_and_cursor

__all__ = [
    "AccountCounts",
    "BatchOutcome",
    "SourceStatus",
    "SqliteStore",
    "StoreError",
    "TitleChange",
]

_READ_CHUNK = 5000
_EVENT_SELECT = ", ".join(("source_id", *codec.EVENT_COLUMNS))
_MESSAGE_SELECT = ", ".join(("source_id", *codec.MESSAGE_COLUMNS))


_TABLES = {RecordKind.EVENT: "events", RecordKind.MESSAGE: "messages", RecordKind.PERSON: "people"}


class SqliteStore(SharedSqlMethods):
    """peerpulse's state in one SQLite file (WAL mode)."""

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.upgrade_pending: tuple[int, int] | None = None
        if read_only:
            self._db = self._connect_read_only()
            self._check_schema()
            return
        if str(path) != ":memory:":
            make_private_dir(self.path.parent)
        try:
            self._db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=30000")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open state database {path}: {exc}") from exc
        if str(path) != ":memory:":
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o600)
        self._migrate()

    def _connect_read_only(self) -> sqlite3.Connection:
        """A connection that cannot write, for ``status``, ``digest --dry-run`` and
        the other readers, so they work on a read-only state directory (issue 10,
        item 6). Nothing is created, migrated or chmod-ed.

        SQLite needs the ``-shm`` file to read a WAL database; when the directory is
        read-only and the last writer closed cleanly (no ``-wal`` left, so every
        commit is in the main file) it cannot create one, and the file is opened
        ``immutable`` instead, which reads the main file as it is."""
        if not self.path.is_file():
            raise StoreError(f"no state yet at {self.path}; run `peerpulse run` first")
        base = f"file:{urllib.parse.quote(str(self.path.resolve()))}?mode=ro"
        uris = [base]
        if not Path(f"{self.path}-wal").exists():
            uris.append(base + "&immutable=1")
        for n, uri in enumerate(uris, 1):
            try:
                db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
                db.execute("PRAGMA busy_timeout=30000")
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return db
            except sqlite3.DatabaseError as exc:
                if n == len(uris) or getattr(exc, "sqlite_errorname", "") != "SQLITE_CANTOPEN":
                    raise StoreError(f"cannot open state database {self.path}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_schema(self) -> None:
        """A reader never migrates the file. An older schema (a peerpulse upgraded
        since the last run) is not an error: the reader reads an upgraded copy in
        memory and says so in :attr:`upgrade_pending`, until the next writer
        (``run``, ``sync``) migrates the file itself."""
        try:
            applied = self.schema_version()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a peerpulse state database: {exc}") from exc
        newest = max(v for v, _, _ in MIGRATIONS)
        if applied < newest:
            self._read_upgraded_copy()
            self.upgrade_pending = (applied, newest)
            return
        if applied > newest:
            raise StoreError(
                f"{self.path} was written by a newer peerpulse (schema {applied}, "
                f"this version knows {newest}); upgrade peerpulse"
            )

    def _read_upgraded_copy(self) -> None:
        """Swap the read-only connection for an in-memory copy of the file with the
        pending migrations applied (memory about the size of the file, for one
        reader, and only until the next run upgrades the file)."""
        copy = sqlite3.connect(":memory:", isolation_level=None)
        try:
            self._db.backup(copy)
        except sqlite3.DatabaseError as exc:
            copy.close()
            raise StoreError(f"cannot read state database {self.path}: {exc}") from exc
        self._db.close()
        self._db = copy
        self.read_only = False  # the migrations write to the copy, never to the file
        try:
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path} has schema {self.schema_version()} and cannot be read as "
                f"upgraded ({exc}); run `peerpulse run` (or `peerpulse doctor`)"
            ) from exc
        finally:
            self.read_only = True
        self._db.execute("PRAGMA query_only = ON")

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        """One IMMEDIATE transaction: the write lock is taken up front, so two
        writers queue instead of failing halfway with SQLITE_BUSY on upgrade. A
        read-only store takes a plain (deferred) transaction: a consistent read.

        Private on purpose: callers get atomic operations, never a raw cursor."""
        cur = self._db.cursor()
        cur.execute("BEGIN" if self.read_only else "BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")

    _shared_cursor = _transaction  # sqlite3 takes the shared modules' ``?`` as is

    def _migrate(self) -> None:
        try:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "description TEXT NOT NULL, applied_at INTEGER NOT NULL)"
            )
            applied = {row[0] for row in self._db.execute("SELECT version FROM schema_version")}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a peerpulse state database: {exc}") from exc
        newest = max(v for v, _, _ in MIGRATIONS)
        if applied and max(applied) > newest:
            raise StoreError(
                f"{self.path} was written by a newer peerpulse (schema {max(applied)}, "
                f"this version knows {newest}); upgrade peerpulse"
            )
        for version, description, statements in MIGRATIONS:
            if version in applied:
                continue
            with self._transaction() as cur:
                for statement in statements:
                    if not statement.startswith(POSTGRES_ONLY):
                        cur.execute(statement)
                cur.execute(
                    "INSERT INTO schema_version (version, description, applied_at) "
                    "VALUES (?, ?, ?)",
                    (version, description, int(time.time())),
                )

    def schema_version(self) -> int:
        row = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def store_id(self, *, create: bool = True) -> str | None:
        """This database's identity, made when first asked for by a writer; the marker
        beside the file remembers it, so a replaced database is told apart (issue 10,
        item 3). ``create=False`` only looks (None if there is none yet)."""
        row = self._db.execute("SELECT value FROM store_meta WHERE key = 'store_id'").fetchone()
        if row is not None or self.read_only or not create:
            return row[0] if row else None
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO store_meta (key, value) VALUES ('store_id', ?) "
                "ON CONFLICT (key) DO NOTHING",
                (uuid.uuid4().hex,),
            )
            return str(
                cur.execute("SELECT value FROM store_meta WHERE key = 'store_id'").fetchone()[0]
            )

    def restore_salvage(self, found: salvage.Salvage) -> dict[str, int]:
        """Write what ``peerpulse doctor`` read from a damaged database (ledger,
        recommendation history, title changes, store id) into this one; rows
        already here are kept. Returns rows written per table."""
        return salvage.restore(self._db, found)

    def newest_sent_periods(self) -> dict[str, str]:
        """Per account, the newest period whose digest the ledger records as sent."""
        rows = self._db.execute(
            "SELECT account, MAX(period) FROM digest_ledger WHERE state = 'sent' GROUP BY account"
        ).fetchall()
        return {str(account): str(period) for account, period in rows}

    def quick_check(self, limit: int = 10) -> list[str]:
        """SQLite's ``PRAGMA quick_check``: the problems found (empty if none).

        ``status`` runs it so damage in a page no ordinary read touches (an index,
        a table the week's digest has not needed yet) is reported before a run
        trips over it (issue 10). It reads every page once: seconds for a large
        store, fine for a command a person runs."""
        try:
            rows = self._db.execute(f"PRAGMA quick_check({int(limit)})").fetchall()
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        problems = [str(row[0]) for row in rows]
        return [] if problems == ["ok"] else problems

    # -- sync ----------------------------------------------------------------------

    def cursor(self, account: str, source: str) -> str | None:
        row = self._db.execute(
            "SELECT cursor FROM cursors WHERE account = ? AND source = ?", (account, source)
        ).fetchone()
        return row[0] if row else None

    def apply_batch(
        self, account: str, source: str, batch: SyncBatch, *, now: datetime | None = None
    ) -> BatchOutcome:
        """Apply a batch's upserts, deletions, pruning and cursor in one transaction.

        ``now`` is the sync's clock (``--now``): title changes are stamped with it,
        so a replayed or back-dated sync never dates a promotion to the wall clock.
        """
        now_ts = int(now.timestamp()) if now is not None else int(time.time())
        batch = nul_free(batch)  # PostgreSQL refuses NUL in text: both store U+FFFD
        events = [r for r in batch.upserts if isinstance(r, EventInstance)]
        messages = [r for r in batch.upserts if isinstance(r, MessageMeta)]
        people = [r for r in batch.upserts if isinstance(r, Person)]
        commands = [r for r in batch.upserts if isinstance(r, MailCommand)]
        deleted = 0
        with self._transaction() as cur:
            if commands:
                overrides_sql.insert_commands(cur, account, source, commands)
            self._upsert(
                cur,
                "events",
                codec.EVENT_COLUMNS,
                account,
                source,
                batch,
                ((e.source_id, codec.event_row(e)) for e in events),
            )
            self._upsert(
                cur,
                "messages",
                codec.MESSAGE_COLUMNS,
                account,
                source,
                batch,
                ((m.source_id, codec.message_row(m)) for m in messages),
            )
            if people:
                self._record_title_changes(cur, account, source, people, now_ts)
                self._upsert(
                    cur,
                    "people",
                    codec.PERSON_COLUMNS,
                    account,
                    source,
                    batch,
                    ((p.source_id, codec.person_row(p)) for p in people),
                )
            for key in batch.deletions:
                cur.execute(
                    f"DELETE FROM {_TABLES[key.kind]} "
                    "WHERE account = ? AND source = ? AND source_id = ?",
                    (account, source, key.source_id),
                )
                deleted += cur.rowcount
            if batch.prune_scope:
                for table in _TABLES.values():
                    cur.execute(
                        f"DELETE FROM {table} WHERE account = ? AND source = ? AND scope = ? "
                        "AND run_id <> ?",
                        (account, source, batch.scope, batch.run_id),
                    )
                    deleted += cur.rowcount
            for item in batch.skipped:
                cur.execute(
                    "INSERT INTO skipped_inputs (account, source, location, reason, seen_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, source, location) "
                    "DO UPDATE SET reason = excluded.reason, seen_at = excluded.seen_at",
                    (account, source, item.location, item.reason, now_ts),
                )
            write_state_and_cursor(cur, account, source, batch.state, batch.cursor,
                                   now_ts)
        return BatchOutcome(len(batch.upserts), deleted, len(batch.skipped))

    def state_get(self, account: str, source: str, key: str) -> str | None:
        """One committed connector state value, or None."""
        row = self._db.execute(
            "SELECT value FROM connector_state WHERE account = ? AND source = ? AND state_key = ?",
            (account, source, key),
        ).fetchone()
        return row[0] if row else None

    def state_iter_prefix(
        self, account: str, source: str, prefix: str
    ) -> Iterator[tuple[str, str]]:
        """Committed (key, value) pairs whose key starts with ``prefix``, in key
        order, fetched in pages so a large state is never loaded whole."""
        after = ""
        first = True
        while True:
            rows = self._db.execute(
                "SELECT state_key, value FROM connector_state WHERE account = ? "
                "AND source = ? AND state_key >= ? AND (? OR state_key > ?) "
                "ORDER BY state_key LIMIT 500",
                (account, source, prefix, first, after),
            ).fetchall()
            for key, value in rows:
                if not key.startswith(prefix):
                    return
                yield key, value
            if len(rows) < 500:
                return
            after, first = rows[-1][0], False

    @staticmethod
    def _upsert(
        cur: sqlite3.Cursor,
        table: str,
        columns: tuple[str, ...],
        account: str,
        source: str,
        batch: SyncBatch,
        rows: Iterable[tuple[str, tuple[Any, ...]]],
    ) -> None:
        all_columns = ("account", "source", "source_id", "scope", "run_id", *columns)
        placeholders = ", ".join("?" for _ in all_columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in ("scope", "run_id", *columns))
        sql = (
            f"INSERT INTO {table} ({', '.join(all_columns)}) VALUES ({placeholders}) "
            f"ON CONFLICT (account, source, source_id) DO UPDATE SET {updates}"
        )
        cur.executemany(
            sql,
            (
                (account, source, source_id, batch.scope, batch.run_id, *row)
                for source_id, row in rows
            ),
        )

    @staticmethod
    def _record_title_changes(
        cur: sqlite3.Cursor, account: str, source: str, people: list[Person], now: int
    ) -> None:
        for person in people:
            row = cur.execute(
                "SELECT title FROM people WHERE account = ? AND source = ? AND source_id = ?",
                (account, source, person.source_id),
            ).fetchone()
            if row is not None and (row[0] or None) != (person.title or None):
                cur.execute(
                    "INSERT INTO title_changes (account, email, old_title, new_title, seen_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (account, person.email, row[0], person.title, now),
                )

    def begin_sync_run(self, account: str, source: str) -> int:
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO sync_runs (account, source, started_at, outcome, upserted, deleted, "
                "skipped) VALUES (?, ?, ?, 'running', 0, 0, 0)",
                (account, source, int(time.time())),
            )
            return int(cur.lastrowid or 0)

    def finish_sync_run(
        self,
        run: int,
        outcome: str,
        upserted: int,
        deleted: int,
        skipped: int,
        error: str | None = None,
    ) -> None:
        with self._transaction() as cur:
            cur.execute(
                "UPDATE sync_runs SET finished_at = ?, outcome = ?, upserted = ?, deleted = ?, "
                "skipped = ?, error = ? WHERE rowid = ?",
                (int(time.time()), outcome, upserted, deleted, skipped, nul_free_text(error),
                 run),
            )

    # -- reading -------------------------------------------------------------------

    def _iter_rows(self, sql: str, params: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        cur = self._db.execute(sql, params)
        while True:
            rows = cur.fetchmany(_READ_CHUNK)
            if not rows:
                return
            yield from rows

    def _iter_decoded(
        self, sql: str, params: tuple[Any, ...], decode: Callable[[tuple[Any, ...]], Any]
    ) -> Iterator[Any]:
        cur = self._db.execute(sql, params)
        while rows := cur.fetchmany(_READ_CHUNK):
            yield from map(decode, rows)

    @staticmethod
    def _events_sql(columns: str) -> str:
        return (
            f"SELECT {columns} FROM events "  # noqa: S608 (column names are constants)
            "WHERE account = ? AND start_ts < ? AND end_ts >= ? ORDER BY start_ts, source_id"
        )

    @staticmethod
    def _messages_sql(columns: str) -> str:
        return (
            f"SELECT {columns} FROM messages "  # noqa: S608 (column names are constants)
            "WHERE account = ? AND ts >= ? AND ts < ? ORDER BY ts, source_id"
        )

    def iter_events(
        self, account: str, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[EventInstance]:
        """Event instances overlapping [since, until), oldest first.

        A window with both ends (the digest's free slots: next week) is searched by
        the events' end (``events_by_end``, migration 12; ``+start_ts`` keeps SQLite
        off the start index, which would read every event starting before ``until``);
        an open-ended one (every record since the retention start) by their start."""
        lo = codec.to_epoch(since) if since else -(2**62)
        hi = codec.to_epoch(until) if until else 2**62
        if since is not None and until is not None:
            sql = (
                f"SELECT {_EVENT_SELECT} FROM events "  # noqa: S608 (constant column names)
                "WHERE account = ? AND +start_ts < ? AND end_ts >= ? ORDER BY start_ts, source_id"
            )
        else:
            sql = self._events_sql(_EVENT_SELECT)
        yield from self._iter_decoded(sql, (account, hi, lo), codec.event_from_row)

    def iter_messages(
        self, account: str, since: datetime | None = None, until: datetime | None = None,
        *, naming: Callable[[str], bool] | None = None,
    ) -> Iterator[MessageMeta]:
        """Message metadata with since <= timestamp < until, oldest first (with
        ``naming``: only rows naming someone it holds true for, decoded)."""
        lo = codec.to_epoch(since) if since else -(2**62)
        hi = codec.to_epoch(until) if until else 2**62
        sql = self._messages_sql(_MESSAGE_SELECT)
        if naming is None:
            yield from self._iter_decoded(sql, (account, lo, hi), codec.message_from_row)
            return
        names_any, decode = codec.names_any, codec.message_from_row
        for row in self._iter_rows(sql, (account, lo, hi)):
            if names_any(row, naming):
                yield decode(row)

    def iter_raw_rows(
        self, account: str, since: datetime | None = None
    ) -> Iterator[tuple[Any, ...]]:
        """The rows the full digest reads, undecoded: the same queries as
        ``iter_events``/``iter_messages`` (same columns, same order, same filter), so
        the benchmark's baseline differs from the digest by decoding and computing
        only (issue 14, item 4)."""
        lo = codec.to_epoch(since) if since else -(2**62)
        hi = 2**62
        yield from self._iter_rows(self._events_sql(_EVENT_SELECT), (account, hi, lo))
        yield from self._iter_rows(self._messages_sql(_MESSAGE_SELECT), (account, lo, hi))

    def iter_events_starting(
        self, account: str, start_from: int | None, start_before: int | None,
        since: datetime | None = None, *, recurring_only: bool = False,
    ) -> Iterator[EventInstance]:
        lo = start_from if start_from is not None else -(2**62)
        hi = start_before if start_before is not None else 2**62
        ends = codec.to_epoch(since) if since else -(2**62)
        sql = (
            f"SELECT {_EVENT_SELECT} FROM events "  # noqa: S608 (column names are constants)
            "WHERE account = ? AND start_ts >= ? AND start_ts < ? AND end_ts >= ? "
            + ("AND recurring = 1 " if recurring_only else "")
            + "ORDER BY start_ts, source_id"
        )
        yield from self._iter_decoded(sql, (account, lo, hi, ends), codec.event_from_row)

    def scan_floor(self, account: str, since: datetime | None = None) -> int:
        """The same rows scanned inside SQLite, every column touched, nothing handed to
        Python: the floor under any computation over raw rows (benchmark only; not
        part of the ``Store`` protocol). Returns the number of rows scanned."""
        lo = codec.to_epoch(since) if since else -(2**62)
        hi = 2**62
        total = 0
        for sql, params in (
            (self._events_sql(_EVENT_SELECT), (account, hi, lo)),
            (self._messages_sql(_MESSAGE_SELECT), (account, lo, hi)),
        ):
            columns = _EVENT_SELECT if "FROM events" in sql else _MESSAGE_SELECT
            touched = ", ".join(f"MAX({c})" for c in columns.split(", "))
            row = self._db.execute(
                f"SELECT COUNT(*), {touched} FROM ({sql})", params  # noqa: S608
            ).fetchone()
            total += int(row[0])
        return total

    def people(self, account: str) -> list[Person]:
        sql = (
            f"SELECT {', '.join(codec.PERSON_COLUMNS)} FROM people WHERE account = ? ORDER BY email"
        )
        return [codec.person_from_row(row) for row in self._db.execute(sql, (account,))]

    def database_key(self) -> str:
        if str(self.path) == ":memory:":
            return f"sqlite:memory:{id(self)}"  # a database of this connection alone
        return f"sqlite:{self.path.resolve()}"

    def people_stamp(self, account: str) -> str | None:
        row = self._db.execute(
            "SELECT stamp FROM people_stamps WHERE account = ?", (account,)
        ).fetchone()
        return str(row[0]) if row else None

    def title_changes(self, account: str, since: datetime) -> list[TitleChange]:
        rows = self._db.execute(
            "SELECT email, old_title, new_title, seen_at FROM title_changes "
            "WHERE account = ? AND seen_at >= ? ORDER BY seen_at",
            (account, codec.to_epoch(since)),
        )
        return [TitleChange(e, o, n, codec.from_epoch(s)) for e, o, n, s in rows]

    # -- recommendation history (rotation, feedback asks) ---------------------------

    def record_recommendations(
        self, account: str, period: str, section: str, emails: Iterable[str]
    ) -> None:
        """Remember who a period's digest named, so later digests rotate."""
        with self._transaction() as cur:
            ledger_sql.record_recommendations(
                cur, account, period, section, emails, int(time.time())
            )

    def recommendation_history(self, account: str, section: str) -> list[tuple[str, str]]:
        """(period, email) pairs named in ``section``, oldest period first.

        Only digests that went out (or may have: sent, unknown) or may still go out
        (pending, sending) count: a failed or expired week was never read, so its
        picks must not be rotated away (issue 9, item 12).
        """
        rows = self._db.execute(
            "SELECT h.period, h.email FROM recommendation_history h "
            "WHERE h.account = ? AND h.section = ? AND ("
            " NOT EXISTS (SELECT 1 FROM digest_ledger d"
            "  WHERE d.account = h.account AND d.period = h.period)"
            " OR EXISTS (SELECT 1 FROM digest_ledger d"
            "  WHERE d.account = h.account AND d.period = h.period"
            "  AND d.state IN ('sent', 'unknown', 'pending', 'sending'))"
            ") ORDER BY h.period, h.email",
            (account, section),
        )
        return [(p, e) for p, e in rows]

    def record_labels(self, account: str, record_ids: Iterable[str]) -> dict[str, str]:
        """Stored subjects and meeting titles of these records (``explain`` shows them)."""
        ids = list(dict.fromkeys(record_ids))
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for table, column in (("messages", "subject"), ("events", "title")):
                rows = self._db.execute(
                    f"SELECT source_id, {column} FROM {table} WHERE account = ? "  # noqa: S608
                    f"AND source_id IN ({marks}) AND {column} IS NOT NULL",
                    (account, *chunk),
                )
                out.update({rid: text for rid, text in rows})
        return out

    # -- maintenance and status ----------------------------------------------------

    def purge_before(self, account: str, cutoff: datetime) -> dict[str, int]:
        """Delete events and messages older than ``cutoff`` (the retention limit).

        Each source that lost records remembers ``cutoff`` as its *purge horizon*
        (in the same transaction): its cursor no longer promises that everything
        the source holds is stored, only what is newer than the horizon. See
        :meth:`reopen_purged`; the SQL is in sqlite_retention.py."""
        with self._transaction() as cur:
            return retention_sql.purge_before(cur, account, codec.to_epoch(cutoff))

    def reopen_purged(self, account: str, cutoff: datetime) -> list[str]:
        """Forget the cursor and connector state of every source whose purge horizon
        lies after ``cutoff``, so its next sync re-reads it whole (issue 10, item 1).

        A horizon after today's retention cutoff means an earlier purge removed
        records that today's retention keeps: the clock was ahead then (or
        ``retention_days`` was raised since). The source's cursor still says those
        records are stored, so without this they would never come back. Returns
        the sources reopened; their horizons are cleared in the same transaction."""
        with self._transaction() as cur:
            return retention_sql.reopen_purged(cur, account, codec.to_epoch(cutoff))

    def count_before(self, account: str, cutoff: datetime) -> dict[str, int]:
        limit = codec.to_epoch(cutoff)
        events = self._db.execute(
            "SELECT COUNT(*) FROM events WHERE account = ? AND end_ts < ?", (account, limit)
        ).fetchone()[0]
        messages = self._db.execute(
            "SELECT COUNT(*) FROM messages WHERE account = ? AND ts < ?", (account, limit)
        ).fetchone()[0]
        return {"events": events, "messages": messages}

    def counts(self, account: str) -> AccountCounts:
        def one(sql: str) -> Any:
            return self._db.execute(sql, (account,)).fetchone()

        events, ev_lo, ev_hi = one(
            "SELECT COUNT(*), MIN(start_ts), MAX(start_ts) FROM events WHERE account = ?"
        )
        messages, m_lo, m_hi = one(
            "SELECT COUNT(*), MIN(ts), MAX(ts) FROM messages WHERE account = ?"
        )
        people = one("SELECT COUNT(*) FROM people WHERE account = ?")[0]
        skipped = one("SELECT COUNT(*) FROM skipped_inputs WHERE account = ?")[0]
        lows = [v for v in (ev_lo, m_lo) if v is not None]
        highs = [v for v in (ev_hi, m_hi) if v is not None]
        return AccountCounts(
            events,
            messages,
            people,
            skipped,
            codec.from_epoch(min(lows)) if lows else None,
            codec.from_epoch(max(highs)) if highs else None,
        )

    def newest_record_times(
        self, account: str, until: datetime
    ) -> tuple[datetime | None, datetime | None]:
        bound = (account, codec.to_epoch(until))
        mail = self._db.execute(
            "SELECT MAX(ts) FROM messages WHERE account = ? AND ts <= ?", bound).fetchone()[0]
        event = self._db.execute(
            "SELECT MAX(start_ts) FROM events WHERE account = ? AND start_ts <= ?", bound
        ).fetchone()[0]
        return (codec.from_epoch(mail) if mail is not None else None,
                codec.from_epoch(event) if event is not None else None)

    def source_statuses(self, account: str) -> list[SourceStatus]:
        sources = {
            row[0]
            for row in self._db.execute(
                "SELECT source FROM cursors WHERE account = ? UNION "
                "SELECT source FROM sync_runs WHERE account = ?",
                (account, account),
            )
        }
        result = []
        for source in sorted(sources):
            cursor_row = self._db.execute(
                "SELECT updated_at FROM cursors WHERE account = ? AND source = ?", (account, source)
            ).fetchone()
            run_row = self._db.execute(
                "SELECT started_at, outcome, error FROM sync_runs WHERE account = ? AND source = ? "
                "ORDER BY started_at DESC, rowid DESC LIMIT 1",
                (account, source),
            ).fetchone()
            skipped = self._db.execute(
                "SELECT COUNT(*) FROM skipped_inputs WHERE account = ? AND source = ?",
                (account, source),
            ).fetchone()[0]
            result.append(
                SourceStatus(
                    account,
                    source,
                    codec.from_epoch(cursor_row[0]) if cursor_row else None,
                    codec.from_epoch(run_row[0]) if run_row else None,
                    run_row[1] if run_row else None,
                    run_row[2] if run_row else None,
                    skipped,
                )
            )
        return result

    def skipped_inputs(self, account: str, limit: int = 20) -> list[tuple[str, str, str]]:
        rows = self._db.execute(
            "SELECT source, location, reason FROM skipped_inputs WHERE account = ? "
            "ORDER BY seen_at DESC, location LIMIT ?",
            (account, limit),
        )
        return [(s, loc, r) for s, loc, r in rows]
