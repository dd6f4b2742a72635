"""Overrides and command mails in SQL (issue 13): every statement, none of the decisions.

What a command means and whether its signature holds is decided in
worker/overrides.py; these functions run on a cursor that
:class:`~peerpulse.worker.store.sqlite.SqliteStore` opened inside one
``BEGIN IMMEDIATE`` transaction. The unique ``(account, token)`` index makes
"apply a signed command once" a property of the database, not of timing: a
replayed or resent command finds its token taken and changes nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import date

from peerpulse.connectors.records import MailCommand
from peerpulse.worker.store import codec
from peerpulse.worker.store.rows import StoredCommand, StoredOverride

_OVERRIDE_COLUMNS = (
    "override_id, email, action, until_date, created_at, source, token, undone_at"
)
_COMMAND_COLUMNS = "source, source_id, sent_at, command, outcome, detail, processed_at"


def _override(row: tuple[object, ...]) -> StoredOverride:
    oid, email, action, until, created, source, token, undone = row
    return StoredOverride(
        str(oid), str(email), str(action),
        date.fromisoformat(str(until)) if until else None,
        int(created),  # type: ignore[call-overload]
        str(source), token if token is None else str(token),
        None if undone is None else int(undone),  # type: ignore[call-overload]
    )


def insert_override(cur: sqlite3.Cursor, account: str, item: StoredOverride) -> bool:
    """False when ``item.token`` was already used (a replayed command)."""
    cur.execute(
        f"INSERT INTO overrides (account, {_OVERRIDE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (account, token) DO NOTHING",
        (account, item.override_id, item.email, item.action,
         item.until.isoformat() if item.until else None, item.created_at, item.source,
         item.token, item.undone_at),
    )
    return cur.rowcount == 1


def select_overrides(
    cur: sqlite3.Cursor, account: str, include_undone: bool
) -> list[StoredOverride]:
    where = "" if include_undone else " AND undone_at IS NULL"
    rows = cur.execute(
        f"SELECT {_OVERRIDE_COLUMNS} FROM overrides WHERE account = ?{where} "  # noqa: S608
        "ORDER BY created_at, override_id",
        (account,),
    )
    return [_override(r) for r in rows]


def undo_latest(
    cur: sqlite3.Cursor, account: str, emails: Iterable[str], at: int
) -> StoredOverride | None:
    """Stamp the newest active override of any of ``emails`` as undone; it, or None."""
    wanted = list(dict.fromkeys(emails))
    if not wanted:
        return None
    marks = ",".join("?" * len(wanted))
    row = cur.execute(
        f"SELECT {_OVERRIDE_COLUMNS} FROM overrides WHERE account = ? "  # noqa: S608
        f"AND email IN ({marks}) AND undone_at IS NULL "
        "ORDER BY created_at DESC, override_id DESC LIMIT 1",
        (account, *wanted),
    ).fetchone()
    if row is None:
        return None
    found = _override(row)
    cur.execute(
        "UPDATE overrides SET undone_at = ? WHERE account = ? AND override_id = ?",
        (at, account, found.override_id),
    )
    return _override((*row[:7], at))


def insert_commands(
    cur: sqlite3.Cursor, account: str, source: str, commands: Iterable[MailCommand]
) -> None:
    """New command mails only: one seen again on a resync keeps its outcome."""
    cur.executemany(
        "INSERT INTO mail_commands (account, source, source_id, sent_at, command) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, source, source_id) DO NOTHING",
        [(account, source, c.source_id, codec.to_epoch(c.timestamp), c.command)
         for c in commands],
    )


def select_commands(
    cur: sqlite3.Cursor, account: str, *, pending: bool, since: int = 0
) -> list[StoredCommand]:
    state = "outcome IS NULL" if pending else "outcome IS NOT NULL AND sent_at >= ?"
    params: tuple[object, ...] = (account,) if pending else (account, since)
    rows = cur.execute(
        f"SELECT {_COMMAND_COLUMNS} FROM mail_commands WHERE account = ? "  # noqa: S608
        f"AND {state} ORDER BY sent_at, source, source_id",
        params,
    )
    return [StoredCommand(*r) for r in rows]


def settle_command(
    cur: sqlite3.Cursor,
    account: str,
    command: StoredCommand,
    override: StoredOverride | None,
    replayed: str,
) -> StoredCommand:
    """Record the outcome, applying ``override`` first; a taken token turns the
    outcome into "ignored" with ``replayed`` as the detail. ``command.command`` is
    stored too: the caller passes it as the privacy setting keeps subjects."""
    outcome, detail = command.outcome, command.detail
    if override is not None and not insert_override(cur, account, override):
        outcome, detail = "ignored", replayed
    cur.execute(
        "UPDATE mail_commands SET command = ?, outcome = ?, detail = ?, processed_at = ? "
        "WHERE account = ? AND source = ? AND source_id = ?",
        (command.command, outcome, detail, command.processed_at, account, command.source,
         command.source_id),
    )
    return StoredCommand(command.source, command.source_id, command.sent_at, command.command,
                         outcome, detail, command.processed_at)
