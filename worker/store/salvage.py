"""What a damaged state database still holds that the sources cannot give back.

Records, cursors and connector state are rebuilt by syncing the sources again.
Four things are not: the digest ledger (which weeks were sent; losing it means
sending them again), the recommendation history (rotation), the title changes
seen over time (promotions), and the store's id (the marker beside the database
names it). ``peerpulse doctor --repair`` reads them here, row by row if a whole
table no longer reads, exports them, and writes them into the rebuilt store.

The damaged file is opened read-only (``mode=ro``): nothing is checkpointed or
rolled back into it, so the copy kept aside is the evidence as it was.
"""

from __future__ import annotations

import contextlib
import sqlite3
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Table -> the columns kept, in the order they are exported and restored.
TABLES: dict[str, tuple[str, ...]] = {
    "digest_ledger": (
        "account", "recipient", "period", "seq", "message_id", "subject", "message", "state",
        "attempts", "last_error", "location", "created_at", "sending_at", "finished_at",
        "reported_at",
    ),
    "recommendation_history": ("account", "period", "section", "email", "recorded_at"),
    "title_changes": ("account", "email", "old_title", "new_title", "seen_at"),
}

#: When a table's highest rowid cannot be read either, rowids up to this are tried
#: one by one (a ledger gains one row a week per recipient).
ROWID_PROBE_LIMIT = 20_000


@dataclass
class Salvage:
    """The rows read back, per table, and what could not be read."""

    store_id: str | None = None
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # table -> first error

    def to_json(self) -> dict[str, Any]:
        return {
            "store_id": self.store_id,
            "tables": {
                table: [dict(zip(TABLES[table], row, strict=True)) for row in rows]
                for table, rows in self.rows.items()
            },
            "problems": self.problems,
        }


def integrity_problems(path: Path, limit: int = 20) -> list[str]:
    """``PRAGMA integrity_check`` on the file, read-only: empty when it is sound.

    A file that is not a database at all (overwritten header) is one problem."""
    try:
        with contextlib.closing(_connect(path)) as db:
            rows = db.execute(f"PRAGMA integrity_check({int(limit)})").fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    problems = [str(row[0]) for row in rows]
    return [] if problems == ["ok"] else problems


def salvage(path: Path) -> Salvage:
    """Every row of :data:`TABLES` (and the store id) that still reads."""
    found = Salvage()
    try:
        db = _connect(path)
    except sqlite3.DatabaseError as exc:
        found.problems["database"] = str(exc)
        return found
    with contextlib.closing(db):
        with contextlib.suppress(sqlite3.DatabaseError):
            row = db.execute("SELECT value FROM store_meta WHERE key = 'store_id'").fetchone()
            found.store_id = str(row[0]) if row else None
        for table, columns in TABLES.items():
            found.rows[table] = _read_table(db, table, columns, found.problems)
    return found


def restore(db: sqlite3.Connection, found: Salvage) -> dict[str, int]:
    """Write the salvaged rows (and store id) into a freshly migrated database, in
    one transaction; rows already there are kept. Returns rows written per table.

    Called by :meth:`SqliteStore.restore_salvage`, which owns the connection."""
    written: dict[str, int] = {}
    cur = db.cursor()
    cur.execute("BEGIN IMMEDIATE")
    try:
        if found.store_id:
            cur.execute(
                "INSERT INTO store_meta (key, value) VALUES ('store_id', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (found.store_id,),
            )
        for table, rows in found.rows.items():
            columns = TABLES[table]
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 (fixed names)
                f"VALUES ({', '.join('?' for _ in columns)}) ON CONFLICT DO NOTHING"
            )
            before = db.total_changes
            cur.executemany(sql, rows)
            written[table] = db.total_changes - before
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")
    return written


def _connect(path: Path) -> sqlite3.Connection:
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
    db = sqlite3.connect(uri, uri=True, isolation_level=None)
    db.execute("PRAGMA busy_timeout=30000")
    return db


def _read_table(
    db: sqlite3.Connection, table: str, columns: tuple[str, ...], problems: dict[str, str]
) -> list[tuple[Any, ...]]:
    """The whole table in one scan; if the scan hits a damaged page, each rowid on
    its own (a point lookup only reads the pages on its own path, so rows on
    sound pages come back)."""
    select = f"SELECT {', '.join(columns)} FROM {table}"  # noqa: S608 (fixed names)
    try:
        return db.execute(select).fetchall()
    except sqlite3.DatabaseError as exc:
        problems[table] = str(exc)
    rows = []
    for rowid in _rowids(db, table):
        with contextlib.suppress(sqlite3.DatabaseError):
            row = db.execute(f"{select} WHERE rowid = ?", (rowid,)).fetchone()
            if row is not None:
                rows.append(row)
    return rows


def _rowids(db: sqlite3.Connection, table: str) -> Iterator[int]:
    try:
        highest = db.execute(f"SELECT MAX(rowid) FROM {table}").fetchone()[0]  # noqa: S608
    except sqlite3.DatabaseError:
        highest = ROWID_PROBE_LIMIT
    yield from range(1, int(highest or 0) + 1)
