"""The PostgreSQL store: the same protocol as SQLite, for organization mode.

One database holds every manager's state; every table is keyed by account and
every read names one, so a manager's digest reads only that manager's rows
(postgres_schema.py). Connections come from a pool (psycopg_pool): a worker
process shares one pool between all the stores it opens, one per job.

Transactions match SQLite's: ``apply_batch`` writes records, skipped inputs,
connector state and the cursor in one transaction; each ledger step is one
transaction. PostgreSQL runs them at READ COMMITTED, which is enough for the
ledger's exactly-once: a claim is one conditional ``UPDATE ... WHERE state =
'pending'`` (a second worker waits on the row lock, then finds it no longer
pending) and a first rendering is ``INSERT ... ON CONFLICT DO NOTHING``. Where
SQLite relied on its single writer (the next resend's seq), a transaction-level
advisory lock on the period serializes writers instead.

The ledger statements are the SQLite ones (sqlite_ledger.py), run through a
cursor that turns ``?`` placeholders into psycopg's ``%s``: one copy of the
ledger's SQL, two engines.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

import psycopg
from peerpulse.connectors.records import (
    EventInstance,
    MailCommand,
    MessageMeta,
    Person,
    RecordKind,
    SyncBatch,
)
from peerpulse.worker.store import codec
from peerpulse.worker.store import sqlite_ledger as ledger_sql
from peerpulse.worker.store import sqlite_overrides as overrides_sql
from peerpulse.worker.store import sqlite_retention as retention_sql
from peerpulse.worker.store.nul import nul_free, nul_free_text
from peerpulse.worker.store.postgres_schema import (
    MIGRATION_LOCK,
    SCHEMA_VERSION_TABLE,
    postgres_migrations,
)
from peerpulse.worker.store.rows import (
    AccountCounts,
    BatchOutcome,
    LedgerEntry,
    SourceStatus,
    TitleChange,
)
from peerpulse.worker.store.shared_sql import SharedSqlMethods
from peerpulse.worker.store.sqlite import StoreError
from peerpulse.worker.store.sqlite_state import write_state_and_cursor
from psycopg_pool import ConnectionPool, PoolTimeout

__all__ = ["PostgresStore", "is_postgres_url", "make_pool", "redact"]

_READ_CHUNK = 5000
_TABLES = {RecordKind.EVENT: "events", RecordKind.MESSAGE: "messages", RecordKind.PERSON: "people"}


def is_postgres_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """``url`` as it may be shown: user, host, port and database, never a password
    or the query string (which may carry options)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def make_pool(
    url: str, *, password: str | None = None, max_size: int = 4, timeout: float = 30.0
) -> ConnectionPool:
    """A connection pool for ``url``; ``password`` comes from the config's secret
    reference and is passed to libpq apart from the URL, so it is never logged."""
    kwargs: dict[str, Any] = {"autocommit": True}
    if password is not None:
        kwargs["password"] = password
    # One direct attempt first: a wrong host, user or password fails at once with
    # the server's reason, instead of the pool retrying until its timeout.
    try:
        psycopg.connect(url, connect_timeout=int(timeout), **kwargs).close()
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to {redact(url)}: {exc}".strip()) from exc
    # check=: a connection the server dropped (restart, failover, idle timeout)
    # is replaced when next taken from the pool, instead of failing a job.
    pool = ConnectionPool(
        url, min_size=1, max_size=max_size, kwargs=kwargs, timeout=timeout, open=False,
        name="peerpulse", check=ConnectionPool.check_connection,
    )
    try:
        pool.open(wait=True, timeout=timeout)
    except (PoolTimeout, psycopg.Error) as exc:
        pool.close()
        raise StoreError(f"cannot connect to {redact(url)}: {exc}") from exc
    return pool


class _QmarkCursor:
    """A psycopg cursor that accepts SQLite's ``?`` placeholders, so the functions
    of sqlite_ledger.py, sqlite_overrides.py and sqlite_retention.py run unchanged
    (their SQL has no ``%`` and no ``?`` inside a literal). Iterating it yields
    the rows of the last statement, as iterating an sqlite3 cursor does."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _QmarkCursor:
        self._cur.execute(sql.replace("?", "%s"), tuple(params))
        return self

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> _QmarkCursor:
        self._cur.executemany(sql.replace("?", "%s"), [tuple(r) for r in rows])
        return self

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cur.fetchall())

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


class PostgresStore(SharedSqlMethods):
    """peerpulse's state in a PostgreSQL database, shared by every account."""

    def __init__(
        self,
        url: str,
        *,
        read_only: bool = False,
        password: str | None = None,
        pool: ConnectionPool | None = None,
        migrate: bool = True,
    ) -> None:
        self.url = url
        self.read_only = read_only
        # Organization mode migrates with `peerpulse org migrate`; a reader of an
        # older schema is refused (_check_schema), so never a pending upgrade here.
        self.upgrade_pending: tuple[int, int] | None = None
        self._owns_pool = pool is None
        self._pool = pool if pool is not None else make_pool(url, password=password)
        try:
            if read_only or not migrate:
                self._check_schema()
            else:
                self._migrate()
        except BaseException:
            self.close()
            raise

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        if self._owns_pool:
            self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        """One transaction on a pooled connection; READ ONLY for a read-only store.
        Private on purpose: callers get atomic operations, never a raw cursor."""
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                if self.read_only:
                    cur.execute("SET TRANSACTION READ ONLY")
                yield cur
        except PoolTimeout as exc:
            raise StoreError(f"no database connection free for {redact(self.url)}: {exc}") from exc
        except psycopg.OperationalError as exc:  # the server went away mid-transaction
            raise StoreError(f"lost the connection to {redact(self.url)}: {exc}") from exc

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._transaction() as cur:
            cur.execute(sql, params)
            return cur.fetchone()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._transaction() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def _applied(self, cur: psycopg.Cursor[Any]) -> set[int]:
        cur.execute("SELECT to_regclass('schema_version') IS NOT NULL")
        row = cur.fetchone()
        if not row or not row[0]:
            return set()
        cur.execute("SELECT version FROM schema_version")
        return {int(r[0]) for r in cur.fetchall()}

    def _check_newer(self, applied: set[int], newest: int) -> None:
        if applied and max(applied) > newest:
            raise StoreError(
                f"{redact(self.url)} was written by a newer peerpulse (schema {max(applied)}, "
                f"this version knows {newest}); upgrade peerpulse"
            )

    def _migrate(self) -> None:
        """Apply missing migrations in one transaction, under an advisory lock so
        workers starting together never race (the loser then finds them applied)."""
        migrations = postgres_migrations()
        newest = max(v for v, _, _ in migrations)
        try:
            with self._transaction() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                applied = self._applied(cur)
                self._check_newer(applied, newest)
                if len(applied) == len(migrations):
                    return
                cur.execute(SCHEMA_VERSION_TABLE)
                for version, description, statements in migrations:
                    if version in applied:
                        continue
                    for statement in statements:
                        cur.execute(statement)
                    cur.execute(
                        "INSERT INTO schema_version (version, description, applied_at) "
                        "VALUES (%s, %s, %s)",
                        (version, description, int(time.time())),
                    )
        except psycopg.Error as exc:
            raise StoreError(f"cannot migrate {redact(self.url)}: {exc}") from exc

    def _check_schema(self) -> None:
        """A reader (or a worker told not to migrate) never changes the schema."""
        newest = max(v for v, _, _ in postgres_migrations())
        with self._transaction() as cur:
            applied = self._applied(cur)
        self._check_newer(applied, newest)
        if not applied:
            raise StoreError(
                f"no peerpulse schema in {redact(self.url)} yet; run `peerpulse org migrate`"
            )
        if max(applied) < newest:
            raise StoreError(
                f"{redact(self.url)} has schema {max(applied)}, this peerpulse needs {newest}; "
                "run `peerpulse org migrate` to upgrade it"
            )

    def schema_version(self) -> int:
        row = self._one("SELECT MAX(version) FROM schema_version")
        return int(row[0] or 0)

    # -- identity and health -------------------------------------------------------

    def store_id(self, *, create: bool = True) -> str | None:
        row = self._one("SELECT value FROM store_meta WHERE key = 'store_id'")
        if row is not None or self.read_only or not create:
            return str(row[0]) if row else None
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO store_meta (key, value) VALUES ('store_id', %s) "
                "ON CONFLICT (key) DO NOTHING",
                (uuid.uuid4().hex,),
            )
            cur.execute("SELECT value FROM store_meta WHERE key = 'store_id'")
            return str(cast(Any, cur.fetchone())[0])

    def newest_sent_periods(self) -> dict[str, str]:
        rows = self._all(
            "SELECT account, MAX(period) FROM digest_ledger WHERE state = 'sent' GROUP BY account"
        )
        return {str(account): str(period) for account, period in rows}

    def quick_check(self, limit: int = 10) -> list[str]:
        """What a reader can check cheaply: every table answers and the schema is
        current. (Page-level checks are the server's job: amcheck, checksums.)"""
        problems = []
        for table in ("events", "messages", "people", "digest_ledger", "connector_state"):
            try:
                self._one(f"SELECT 1 FROM {table} LIMIT 1")  # noqa: S608 - fixed names
            except psycopg.Error as exc:
                problems.append(f"{table}: {exc}")
        return problems[:limit]

    # -- sync ----------------------------------------------------------------------

    def cursor(self, account: str, source: str) -> str | None:
        row = self._one(
            "SELECT cursor FROM cursors WHERE account = %s AND source = %s", (account, source)
        )
        return row[0] if row else None

    def apply_batch(
        self, account: str, source: str, batch: SyncBatch, *, now: datetime | None = None
    ) -> BatchOutcome:
        """Records, deletions, pruning, skipped inputs, connector state and the
        cursor in one transaction (the protocol's first guarantee)."""
        now_ts = int(now.timestamp()) if now is not None else int(time.time())
        batch = nul_free(batch)  # PostgreSQL refuses NUL in text: both store U+FFFD
        events = [r for r in batch.upserts if isinstance(r, EventInstance)]
        messages = [r for r in batch.upserts if isinstance(r, MessageMeta)]
        people = [r for r in batch.upserts if isinstance(r, Person)]
        commands = [r for r in batch.upserts if isinstance(r, MailCommand)]
        deleted = 0
        with self._transaction() as cur:
            if commands:
                overrides_sql.insert_commands(
                    cast(Any, _QmarkCursor(cur)), account, source, commands
                )
            self._upsert(cur, "events", codec.EVENT_COLUMNS, account, source, batch,
                         [(e.source_id, codec.event_row(e)) for e in events])
            self._upsert(cur, "messages", codec.MESSAGE_COLUMNS, account, source, batch,
                         [(m.source_id, codec.message_row(m)) for m in messages])
            if people:
                self._record_title_changes(cur, account, source, people, now_ts)
                self._upsert(cur, "people", codec.PERSON_COLUMNS, account, source, batch,
                             [(p.source_id, codec.person_row(p)) for p in people])
            for key in batch.deletions:
                cur.execute(
                    f"DELETE FROM {_TABLES[key.kind]} "  # noqa: S608 - fixed names
                    "WHERE account = %s AND source = %s AND source_id = %s",
                    (account, source, key.source_id),
                )
                deleted += cur.rowcount
            if batch.prune_scope:
                for table in _TABLES.values():
                    cur.execute(
                        f"DELETE FROM {table} WHERE account = %s AND source = %s "  # noqa: S608
                        "AND scope = %s AND run_id <> %s",
                        (account, source, batch.scope, batch.run_id),
                    )
                    deleted += cur.rowcount
            if batch.skipped:
                cur.executemany(
                    "INSERT INTO skipped_inputs (account, source, location, reason, seen_at) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (account, source, location) "
                    "DO UPDATE SET reason = excluded.reason, seen_at = excluded.seen_at",
                    [(account, source, i.location, i.reason, now_ts) for i in batch.skipped],
                )
            write_state_and_cursor(_QmarkCursor(cur), account, source, batch.state, batch.cursor,
                                   now_ts)
        return BatchOutcome(len(batch.upserts), deleted, len(batch.skipped))

    @staticmethod
    def _upsert(
        cur: psycopg.Cursor[Any],
        table: str,
        columns: tuple[str, ...],
        account: str,
        source: str,
        batch: SyncBatch,
        rows: list[tuple[str, tuple[Any, ...]]],
    ) -> None:
        if not rows:
            return
        all_columns = ("account", "source", "source_id", "scope", "run_id", *columns)
        placeholders = ", ".join("%s" for _ in all_columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in ("scope", "run_id", *columns))
        sql = (
            f"INSERT INTO {table} ({', '.join(all_columns)}) VALUES ({placeholders}) "
            f"ON CONFLICT (account, source, source_id) DO UPDATE SET {updates}"
        )
        cur.executemany(
            sql,
            [(account, source, sid, batch.scope, batch.run_id, *row) for sid, row in rows],
        )

    @staticmethod
    def _record_title_changes(
        cur: psycopg.Cursor[Any], account: str, source: str, people: list[Person], now: int
    ) -> None:
        cur.execute(
            "SELECT source_id, title FROM people WHERE account = %s AND source = %s "
            "AND source_id = ANY(%s)",
            (account, source, [p.source_id for p in people]),
        )
        known = {sid: title for sid, title in cur.fetchall()}
        changes = [
            (account, p.email, known[p.source_id], p.title, now)
            for p in people
            if p.source_id in known and (known[p.source_id] or None) != (p.title or None)
        ]
        if changes:
            cur.executemany(
                "INSERT INTO title_changes (account, email, old_title, new_title, seen_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                changes,
            )

    def state_get(self, account: str, source: str, key: str) -> str | None:
        row = self._one(
            "SELECT value FROM connector_state WHERE account = %s AND source = %s "
            "AND state_key = %s",
            (account, source, key),
        )
        return row[0] if row else None

    def state_get_many(self, account: str, source: str, keys: Sequence[str]) -> dict[str, str]:
        """The committed values of those ``keys`` that have one, in one query (a mail
        source asks about a listing page of up to 500 ids at a time)."""
        if not keys:
            return {}
        rows = self._all(
            "SELECT state_key, value FROM connector_state WHERE account = %s AND source = %s "
            "AND state_key = ANY(%s)",
            (account, source, list(keys)),
        )
        return {key: value for key, value in rows}

    def state_iter_prefix(
        self, account: str, source: str, prefix: str
    ) -> Iterator[tuple[str, str]]:
        """Committed pairs whose key starts with ``prefix``, in key order, in pages."""
        after = ""
        first = True
        while True:
            rows = self._all(
                "SELECT state_key, value FROM connector_state WHERE account = %s "
                "AND source = %s AND state_key >= %s AND (%s OR state_key > %s) "
                "ORDER BY state_key LIMIT 500",
                (account, source, prefix, first, after),
            )
            for key, value in rows:
                if not key.startswith(prefix):
                    return
                yield key, value
            if len(rows) < 500:
                return
            after, first = rows[-1][0], False

    def begin_sync_run(self, account: str, source: str) -> int:
        row = self._one(
            "INSERT INTO sync_runs (account, source, started_at, outcome, upserted, deleted, "
            "skipped) VALUES (%s, %s, %s, 'running', 0, 0, 0) RETURNING id",
            (account, source, int(time.time())),
        )
        return int(row[0])

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
                "UPDATE sync_runs SET finished_at = %s, outcome = %s, upserted = %s, "
                "deleted = %s, skipped = %s, error = %s WHERE id = %s",
                (int(time.time()), outcome, upserted, deleted, skipped, nul_free_text(error),
                 run),
            )

    # -- reading -------------------------------------------------------------------

    def _stream(
        self, sql: str, params: Sequence[Any], decode: Callable[[tuple[Any, ...]], Any]
    ) -> Iterator[Any]:
        """Rows through a server-side cursor, ``_READ_CHUNK`` at a time: a million
        messages are never held in memory at once. The pooled connection is held
        until the iterator is exhausted or closed."""
        with self._pool.connection() as conn, conn.transaction():
            if self.read_only:
                conn.execute("SET TRANSACTION READ ONLY")
            with conn.cursor(name=f"pp_{uuid.uuid4().hex[:8]}") as cur:
                cur.itersize = _READ_CHUNK
                cur.execute(sql, params)
                while rows := cur.fetchmany(_READ_CHUNK):
                    yield from map(decode, rows)

    def iter_events(
        self, account: str, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[EventInstance]:
        lo = codec.to_epoch(since) if since else -(2**62)
        hi = codec.to_epoch(until) if until else 2**62
        sql = (
            f"SELECT source_id, {', '.join(codec.EVENT_COLUMNS)} FROM events "
            "WHERE account = %s AND start_ts < %s AND end_ts >= %s ORDER BY start_ts, source_id"
        )
        yield from self._stream(sql, (account, hi, lo), codec.event_from_row)

    def iter_messages(
        self, account: str, since: datetime | None = None, until: datetime | None = None,
        *, naming: Callable[[str], bool] | None = None,
    ) -> Iterator[MessageMeta]:
        lo = codec.to_epoch(since) if since else -(2**62)
        hi = codec.to_epoch(until) if until else 2**62
        sql = (
            f"SELECT source_id, {', '.join(codec.MESSAGE_COLUMNS)} FROM messages "
            "WHERE account = %s AND ts >= %s AND ts < %s ORDER BY ts, source_id"
        )
        if naming is None:
            yield from self._stream(sql, (account, lo, hi), codec.message_from_row)
            return
        names_any, decode = codec.names_any, codec.message_from_row
        for row in self._stream(sql, (account, lo, hi), tuple):
            if names_any(row, naming):
                yield decode(row)

    def iter_events_starting(
        self, account: str, start_from: int | None, start_before: int | None,
        since: datetime | None = None, *, recurring_only: bool = False,
    ) -> Iterator[EventInstance]:
        lo = start_from if start_from is not None else -(2**62)
        hi = start_before if start_before is not None else 2**62
        ends = codec.to_epoch(since) if since else -(2**62)
        sql = (
            f"SELECT source_id, {', '.join(codec.EVENT_COLUMNS)} FROM events "
            "WHERE account = %s AND start_ts >= %s AND start_ts < %s AND end_ts >= %s "
            + ("AND recurring = 1 " if recurring_only else "")
            + "ORDER BY start_ts, source_id"
        )
        yield from self._stream(sql, (account, lo, hi, ends), codec.event_from_row)

    def iter_raw_rows(
        self, account: str, since: datetime | None = None
    ) -> Iterator[tuple[Any, ...]]:
        """The rows ``iter_events`` then ``iter_messages`` read, undecoded (benchmark)."""
        lo = codec.to_epoch(since) if since else -(2**62)
        hi = 2**62
        yield from self._stream(
            f"SELECT source_id, {', '.join(codec.EVENT_COLUMNS)} FROM events "
            "WHERE account = %s AND start_ts < %s AND end_ts >= %s ORDER BY start_ts, source_id",
            (account, hi, lo), tuple,
        )
        yield from self._stream(
            f"SELECT source_id, {', '.join(codec.MESSAGE_COLUMNS)} FROM messages "
            "WHERE account = %s AND ts >= %s AND ts < %s ORDER BY ts, source_id",
            (account, lo, hi), tuple,
        )

    def people(self, account: str) -> list[Person]:
        sql = (
            f"SELECT {', '.join(codec.PERSON_COLUMNS)} FROM people WHERE account = %s "
            "ORDER BY email"
        )
        return [codec.person_from_row(row) for row in self._all(sql, (account,))]

    def database_key(self) -> str:
        return f"postgresql:{redact(self.url)}"

    def people_stamp(self, account: str) -> str | None:
        row = self._one("SELECT stamp FROM people_stamps WHERE account = %s", (account,))
        return str(row[0]) if row else None

    def title_changes(self, account: str, since: datetime) -> list[TitleChange]:
        rows = self._all(
            "SELECT email, old_title, new_title, seen_at FROM title_changes "
            "WHERE account = %s AND seen_at >= %s ORDER BY seen_at",
            (account, codec.to_epoch(since)),
        )
        return [TitleChange(e, o, n, codec.from_epoch(s)) for e, o, n, s in rows]

    # -- recommendation history ----------------------------------------------------

    def record_recommendations(
        self, account: str, period: str, section: str, emails: Iterable[str]
    ) -> None:
        with self._transaction() as cur:
            ledger_sql.record_recommendations(
                cast(Any, _QmarkCursor(cur)), account, period, section, list(emails),
                int(time.time()),
            )

    def recommendation_history(self, account: str, section: str) -> list[tuple[str, str]]:
        """(period, email) pairs named in ``section``; only digests that went out or
        may still go out count (as on SQLite)."""
        rows = self._all(
            "SELECT h.period, h.email FROM recommendation_history h "
            "WHERE h.account = %s AND h.section = %s AND ("
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
        ids = list(dict.fromkeys(record_ids))
        out: dict[str, str] = {}
        if not ids:
            return out
        for table, column in (("messages", "subject"), ("events", "title")):
            rows = self._all(
                f"SELECT source_id, {column} FROM {table} WHERE account = %s "  # noqa: S608
                f"AND source_id = ANY(%s) AND {column} IS NOT NULL",
                (account, ids),
            )
            out.update({rid: text for rid, text in rows})
        return out

    # -- maintenance and status ----------------------------------------------------

    def purge_before(self, account: str, cutoff: datetime) -> dict[str, int]:
        """Delete records older than ``cutoff`` and keep each touched source's purge
        horizon, in one transaction (SQL shared with SQLite: sqlite_retention.py)."""
        with self._transaction() as cur:
            return retention_sql.purge_before(
                cast(Any, _QmarkCursor(cur)), account, codec.to_epoch(cutoff)
            )

    def reopen_purged(self, account: str, cutoff: datetime) -> list[str]:
        """Forget cursor and connector state of the sources purged past ``cutoff``
        (see SqliteStore.reopen_purged), in one transaction."""
        with self._transaction() as cur:
            return retention_sql.reopen_purged(
                cast(Any, _QmarkCursor(cur)), account, codec.to_epoch(cutoff)
            )

    def count_before(self, account: str, cutoff: datetime) -> dict[str, int]:
        limit = codec.to_epoch(cutoff)
        row = self._one(
            "SELECT (SELECT COUNT(*) FROM events WHERE account = %s AND end_ts < %s), "
            "(SELECT COUNT(*) FROM messages WHERE account = %s AND ts < %s)",
            (account, limit, account, limit),
        )
        return {"events": int(row[0]), "messages": int(row[1])}

    def counts(self, account: str) -> AccountCounts:
        row = self._one(
            "SELECT e.n, e.lo, e.hi, m.n, m.lo, m.hi, "
            "(SELECT COUNT(*) FROM people WHERE account = %s), "
            "(SELECT COUNT(*) FROM skipped_inputs WHERE account = %s) FROM "
            "(SELECT COUNT(*) n, MIN(start_ts) lo, MAX(start_ts) hi FROM events "
            " WHERE account = %s) e, "
            "(SELECT COUNT(*) n, MIN(ts) lo, MAX(ts) hi FROM messages WHERE account = %s) m",
            (account, account, account, account),
        )
        events, ev_lo, ev_hi, messages, m_lo, m_hi, people, skipped = row
        lows = [v for v in (ev_lo, m_lo) if v is not None]
        highs = [v for v in (ev_hi, m_hi) if v is not None]
        return AccountCounts(
            int(events), int(messages), int(people), int(skipped),
            codec.from_epoch(min(lows)) if lows else None,
            codec.from_epoch(max(highs)) if highs else None,
        )

    def newest_record_times(
        self, account: str, until: datetime
    ) -> tuple[datetime | None, datetime | None]:
        bound = codec.to_epoch(until)
        mail, event = self._one(
            "SELECT (SELECT MAX(ts) FROM messages WHERE account = %s AND ts <= %s), "
            "(SELECT MAX(start_ts) FROM events WHERE account = %s AND start_ts <= %s)",
            (account, bound, account, bound),
        )
        return (codec.from_epoch(mail) if mail is not None else None,
                codec.from_epoch(event) if event is not None else None)

    def source_statuses(self, account: str) -> list[SourceStatus]:
        with self._transaction() as cur:
            cur.execute(
                "SELECT source FROM cursors WHERE account = %s UNION "
                "SELECT source FROM sync_runs WHERE account = %s",
                (account, account),
            )
            sources = sorted(r[0] for r in cur.fetchall())
            result = []
            for source in sources:
                cur.execute(
                    "SELECT updated_at FROM cursors WHERE account = %s AND source = %s",
                    (account, source),
                )
                cursor_row = cur.fetchone()
                cur.execute(
                    "SELECT started_at, outcome, error FROM sync_runs WHERE account = %s "
                    "AND source = %s ORDER BY started_at DESC, id DESC LIMIT 1",
                    (account, source),
                )
                run_row = cur.fetchone()
                cur.execute(
                    "SELECT COUNT(*) FROM skipped_inputs WHERE account = %s AND source = %s",
                    (account, source),
                )
                skipped = int(cast(Any, cur.fetchone())[0])
                result.append(
                    SourceStatus(
                        account, source,
                        codec.from_epoch(cursor_row[0]) if cursor_row else None,
                        codec.from_epoch(run_row[0]) if run_row else None,
                        run_row[1] if run_row else None,
                        run_row[2] if run_row else None,
                        skipped,
                    )
                )
        return result

    def skipped_inputs(self, account: str, limit: int = 20) -> list[tuple[str, str, str]]:
        rows = self._all(
            "SELECT source, location, reason FROM skipped_inputs WHERE account = %s "
            "ORDER BY seen_at DESC, location LIMIT %s",
            (account, limit),
        )
        return [(s, loc, r) for s, loc, r in rows]

    # -- digest ledger (decisions in worker/ledger.py, SQL in sqlite_ledger.py) -----

    @contextlib.contextmanager
    def _qmark(self) -> Iterator[Any]:
        """One transaction through the ``?`` adapter, for the shared SQL modules."""
        with self._transaction() as cur:
            yield _QmarkCursor(cur)

    _shared_cursor = _qmark

    def _before_insert_next(self, cur: Any, previous: LedgerEntry) -> None:
        # SQLite's single writer made "max(seq) + 1, insert" safe; here two
        # resends of one period wait for each other instead of colliding.
        cur.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended("
            "?::text || '/' || ?::text || '/' || ?::text, 0))",
            (previous.account, previous.recipient, previous.period),
        )
