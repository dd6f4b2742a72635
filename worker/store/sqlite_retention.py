"""Retention purges and purge horizons in SQL (issue 10, item 1): statements only.

Both backends run these on a cursor inside one transaction: SQLite's directly,
PostgreSQL's through its ``?``-placeholder adapter (postgres.py), so the rules
"a purge remembers the newest cutoff per source" and "a cutoff behind that
horizon reopens the source" have one copy.

A source's *purge horizon* is a ``store_meta`` row: the newest retention cutoff
(epoch seconds) that deleted some of its records. While a source has one, its
cursor only promises that records newer than the horizon are stored.
"""

from __future__ import annotations

import sqlite3

from peerpulse.worker.store import checkpoint_sql


def horizon_key(account: str, source: str) -> str:
    """The ``store_meta`` key of a source's purge horizon. The unit separator
    cannot occur in account or source names written by the config."""
    return f"purge_horizon\x1f{account}\x1f{source}"


def purge_before(cur: sqlite3.Cursor, account: str, limit: int) -> dict[str, int]:
    """Delete events, messages and command mails older than ``limit`` (and title
    changes seen before it); every source that lost records keeps ``limit`` as its horizon
    unless it already has a newer one."""
    touched = [
        row[0]
        for row in cur.execute(
            "SELECT source FROM events WHERE account = ? AND end_ts < ? UNION "
            "SELECT source FROM messages WHERE account = ? AND ts < ?",
            (account, limit, account, limit),
        ).fetchall()
    ]
    for source in touched:
        key = horizon_key(account, source)
        row = cur.execute("SELECT value FROM store_meta WHERE key = ?", (key,)).fetchone()
        horizon = max(limit, int(row[0])) if row else limit
        cur.execute(
            "INSERT INTO store_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(horizon)),
        )
    kept, dirty_from = checkpoint_sql.dirty_from(cur, account)
    cur.execute("DELETE FROM events WHERE account = ? AND end_ts < ?", (account, limit))
    events = cur.rowcount
    cur.execute("DELETE FROM messages WHERE account = ? AND ts < ?", (account, limit))
    messages = cur.rowcount
    if kept and (events or messages):
        # Records below the cutoff leave every window from it on: the digest checkpoint
        # is re-based past them (rules/rebase.py), not rebuilt; its triggers still bump
        # ``generation``, so a digest reading meanwhile keeps nothing.
        checkpoint_sql.purged(cur, account, limit, dirty_from)
    cur.execute("DELETE FROM title_changes WHERE account = ? AND seen_at < ?", (account, limit))
    # Command mails are mail too: their subject names a person, so they leave with
    # the messages they were read among. A source re-read later cannot apply one
    # twice: its token stays taken in ``overrides`` (the user's decisions, kept).
    cur.execute("DELETE FROM mail_commands WHERE account = ? AND sent_at < ?", (account, limit))
    commands = cur.rowcount
    return {"events": events, "messages": messages, "commands": commands}


def reopen_purged(cur: sqlite3.Cursor, account: str, limit: int) -> list[str]:
    """Drop cursor, connector state and horizon of every source of ``account``
    whose horizon is after ``limit``; those sources, sorted."""
    prefix = horizon_key(account, "")
    rows = cur.execute(
        "SELECT key, value FROM store_meta WHERE substr(key, 1, ?) = ?",
        (len(prefix), prefix),
    ).fetchall()
    reopened: list[str] = []
    for key, value in rows:
        if int(value) <= limit:
            continue
        source = key[len(prefix):]
        cur.execute("DELETE FROM cursors WHERE account = ? AND source = ?", (account, source))
        cur.execute(
            "DELETE FROM connector_state WHERE account = ? AND source = ?", (account, source)
        )
        cur.execute("DELETE FROM store_meta WHERE key = ?", (key,))
        reopened.append(source)
    return sorted(reopened)
