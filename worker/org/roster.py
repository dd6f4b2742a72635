"""The enrolled managers, kept in the shared database (``org_managers``).

Why in the database and not in the config: every worker, on any machine, must
see the same list the moment ``org enroll`` changes it, without redeploying a
config file. The row holds only what enrollment decided (the account name, the
owner's address, the per-manager overrides, active or why not); the account's
full settings are the config's ``[organization.template]`` with those overrides
applied (:func:`account_config`), so a template change reaches every manager.

A manager who leaves or opts out is deactivated, not deleted: the row keeps
the name bound to that address, so a return re-uses the same account and its
history (which the retention purge ages out like any other).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from peerpulse.worker.config import AccountConfig, DigestConfig, ManagerTemplate
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

#: Override keys that change the account's [accounts.digest] table.
DIGEST_KEYS = ("recipient", "day", "time")


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


def account_config(template: ManagerTemplate, row: Enrollment) -> AccountConfig:
    """The enrolled manager's account: the template with the row's overrides."""
    over = row.overrides
    digest = template.digest
    changes = {k: over[k] for k in DIGEST_KEYS if over.get(k) is not None}
    if changes:
        digest = DigestConfig.model_validate({**digest.model_dump(), **changes})
    return AccountConfig(
        name=row.account, owner=row.owner, timezone=over.get("timezone") or template.timezone,
        source=template.source, digest=digest, delivery=template.delivery,
    )
