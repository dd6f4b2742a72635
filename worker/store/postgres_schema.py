"""The shared migrations (migrations.py), translated for PostgreSQL.

Why a translation and not a second list: both backends must have the same
tables, keys and indexes at every schema version, so there is one list of
migrations and a few mechanical differences, applied here:

* ``INTEGER`` becomes ``BIGINT``: SQLite integers are 64-bit, PostgreSQL's are
  32-bit (epoch seconds, counts and the benchmark's sentinels need 64).
* ``TEXT`` becomes ``TEXT COLLATE "C"``: SQLite compares text bytewise; with the
  database's default collation PostgreSQL would order record ids, periods and
  connector state keys differently (and a prefix scan would miss keys).
* ``BLOB`` becomes ``BYTEA``.
* Statements marked ``-- sqlite only`` (SQLite's trigger syntax) are left out;
  their PostgreSQL counterparts are marked ``-- postgres only`` (migrations 8 and 9).
* ``sync_runs`` gains ``id BIGSERIAL PRIMARY KEY``: SQLite's implicit ``rowid``
  names a run there; PostgreSQL has none.

Every table is keyed by ``account`` first (apart from the two bookkeeping tables
``schema_version`` and ``store_meta``), so one manager's reads walk that
manager's part of each index, whatever the organization's size.
"""

from __future__ import annotations

import re

from peerpulse.worker.store.migrations import MIGRATIONS, POSTGRES_ONLY, SQLITE_ONLY

_INTEGER = re.compile(r"\bINTEGER\b")
_TEXT = re.compile(r"\bTEXT\b")
_BLOB = re.compile(r"\bBLOB\b")
_SYNC_RUNS = "CREATE TABLE sync_runs ("

#: Serializes migrations across processes: several workers may start at once.
MIGRATION_LOCK = 0x70656572  # "peer"


def translate(statement: str) -> str:
    """One migration statement in PostgreSQL's dialect (see the module docstring)."""
    out = _TEXT.sub('TEXT COLLATE "C"', _INTEGER.sub("BIGINT", statement))
    out = _BLOB.sub("BYTEA", out)
    if out.startswith(_SYNC_RUNS):
        out = out.replace(_SYNC_RUNS, _SYNC_RUNS + "\n                id BIGSERIAL PRIMARY KEY,", 1)
    return out


def postgres_migrations() -> list[tuple[int, str, list[str]]]:
    """MIGRATIONS with every statement translated, versions and order unchanged."""
    return [
        (v, d, [translate(s.removeprefix(POSTGRES_ONLY + "\n")) for s in statements
                if not s.startswith(SQLITE_ONLY)])
        for v, d, statements in MIGRATIONS
    ]


SCHEMA_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, "
    "description TEXT NOT NULL, applied_at BIGINT NOT NULL)"
)
