"""The enrolled managers' table of organization mode (``org_managers``), PostgreSQL only.

Why here: SQL lives under worker/store/ (tests/test_architecture_store.py).
What the rows mean, and why enrollment lives in the database rather than the
config, is in worker/org/roster.py; this module only reads and writes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from peerpulse.worker.errors import StateError

SCHEMA = """
CREATE TABLE IF NOT EXISTS org_managers (
    account TEXT COLLATE "C" PRIMARY KEY,
    owner TEXT COLLATE "C" NOT NULL UNIQUE,
    overrides JSONB NOT NULL DEFAULT '{}',
    active BOOLEAN NOT NULL,
    reason TEXT,
    changed_at BIGINT NOT NULL
)
"""


@dataclass(frozen=True)
class Enrollment:
    """One manager's row: ``overrides`` holds only keys that differ from the template
    (``recipient``, ``day``, ``time`` as ``HH:MM``, ``timezone``, ``people``)."""

    account: str
    owner: str
    overrides: dict[str, Any] = field(default_factory=dict)
    active: bool = True
    reason: str | None = None  # why inactive: "left the directory", "opted out", "disabled"

    @property
    def people(self) -> list[str]:
        """Extra people files for this manager (synced with the directory job)."""
        return list(self.overrides.get("people") or [])


def create(conn: Any) -> None:
    """Create the table if absent (``org migrate``)."""
    conn.execute(SCHEMA)


def _missing_table(exc: Exception) -> StateError:
    return StateError("the organization tables are missing: run `peerpulse org migrate` "
                      f"first ({exc})".strip())


def load(pool: Any, *, active_only: bool = False) -> list[Enrollment]:
    """Every enrolled manager, by account name."""
    import psycopg

    where = " WHERE active" if active_only else ""
    try:
        with pool.connection() as conn:
            rows = conn.execute(
                "SELECT account, owner, overrides, active, reason FROM org_managers"
                f"{where} ORDER BY account").fetchall()
    except psycopg.errors.UndefinedTable as exc:
        raise _missing_table(exc) from None
    return [Enrollment(a, o, dict(ov or {}), act, r) for a, o, ov, act, r in rows]


def load_one(pool: Any, account: str) -> Enrollment | None:
    import psycopg

    try:
        with pool.connection() as conn:
            row = conn.execute(
                "SELECT account, owner, overrides, active, reason FROM org_managers "
                "WHERE account = %s", (account,)).fetchone()
    except psycopg.errors.UndefinedTable as exc:
        raise _missing_table(exc) from None
    return None if row is None else Enrollment(row[0], row[1], dict(row[2] or {}), row[3], row[4])


def save(pool: Any, rows: list[Enrollment], at: int) -> None:
    """Insert or update ``rows`` in one transaction (enrollment's changes, all or none)."""
    import psycopg

    try:
        with pool.connection() as conn, conn.transaction():
            for row in rows:
                conn.execute(
                    "INSERT INTO org_managers (account, owner, overrides, active, reason, "
                    "changed_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (account) DO "
                    "UPDATE SET owner = EXCLUDED.owner, overrides = EXCLUDED.overrides, "
                    "active = EXCLUDED.active, reason = EXCLUDED.reason, "
                    "changed_at = EXCLUDED.changed_at",
                    (row.account, row.owner, json.dumps(row.overrides, sort_keys=True),
                     row.active, row.reason, at))
    except psycopg.errors.UndefinedTable as exc:
        raise _missing_table(exc) from None
