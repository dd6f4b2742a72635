"""A batch's connector state and cursor in SQL: statements only.

Both backends write these inside the batch's transaction, SQLite's cursor directly
and PostgreSQL's through its ``?``-placeholder adapter (postgres.py), so the
"state and cursor commit with the records" half of ``apply_batch`` has one copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from peerpulse.connectors.state import StateChange


def write_state_and_cursor(
    cur: Any, account: str, source: str, state: Sequence[StateChange],
    cursor: str | None, now_ts: int,
) -> None:
    """Apply ``state`` (a None value deletes its key) and, if given, the cursor."""
    for change in state:
        if change.value is None:
            cur.execute(
                "DELETE FROM connector_state "
                "WHERE account = ? AND source = ? AND state_key = ?",
                (account, source, change.key),
            )
        else:
            cur.execute(
                "INSERT INTO connector_state (account, source, state_key, value) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (account, source, state_key) "
                "DO UPDATE SET value = excluded.value",
                (account, source, change.key, change.value),
            )
    if cursor is not None:
        cur.execute(
            "INSERT INTO cursors (account, source, cursor, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (account, source) DO UPDATE SET cursor = excluded.cursor, "
            "updated_at = excluded.updated_at",
            (account, source, cursor, now_ts),
        )
