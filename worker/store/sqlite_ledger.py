"""The digest ledger's SQL for SQLite: every statement, none of the decisions.

worker/ledger.py owns the exactly-once state machine (which transition, when);
these functions only run one statement group on a cursor that
:class:`~peerpulse.worker.store.sqlite.SqliteStore` opened inside a
``BEGIN IMMEDIATE`` transaction, so each ledger step stays atomic. Times are
epoch seconds chosen by the caller (the sync's clock, ``--now``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping

from peerpulse.worker.store.rows import LedgerEntry, LedgerKey, LedgerState, LedgerSummary

_COLUMNS = (
    "account, recipient, period, seq, message_id, subject, message, state, attempts, "
    "last_error, location, created_at, sending_at, finished_at, reported_at"
)
_WHERE_KEY = "account = ? AND recipient = ? AND period = ? AND seq = ?"
_RECOMMENDATION_SQL = (
    "INSERT INTO recommendation_history (account, period, section, email, recorded_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, period, section, email) DO NOTHING"
)


def _entry(row: tuple[object, ...]) -> LedgerEntry:
    values = list(row)
    values[6] = str(values[6]).encode("ascii")
    values[7] = LedgerState(str(values[7]))
    return LedgerEntry(*values)  # type: ignore[arg-type]


def select(cur: sqlite3.Cursor, key: LedgerKey) -> LedgerEntry:
    row = cur.execute(f"SELECT {_COLUMNS} FROM digest_ledger WHERE {_WHERE_KEY}", key).fetchone()
    return _entry(row)


def latest(cur: sqlite3.Cursor, account: str, recipient: str, period: str) -> LedgerEntry | None:
    row = cur.execute(
        f"SELECT {_COLUMNS} FROM digest_ledger WHERE account = ? AND recipient = ? "
        "AND period = ? ORDER BY seq DESC LIMIT 1",
        (account, recipient, period),
    ).fetchone()
    return _entry(row) if row else None


def entries(cur: sqlite3.Cursor, account: str) -> list[LedgerEntry]:
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM digest_ledger WHERE account = ? ORDER BY period, seq, recipient",
        (account,),
    ).fetchall()
    return [_entry(r) for r in rows]


def last_summary(cur: sqlite3.Cursor, account: str) -> LedgerSummary | None:
    row = cur.execute(
        "SELECT period, state, recipient, COALESCE(finished_at, sending_at, created_at), "
        "last_error FROM digest_ledger WHERE account = ? ORDER BY period DESC, seq DESC LIMIT 1",
        (account,),
    ).fetchone()
    if row is None:
        return None
    period, state, recipient, at, error = row
    return LedgerSummary(period, LedgerState(state), recipient, int(at), error)


def record_recommendations(
    cur: sqlite3.Cursor, account: str, period: str, section: str, emails: Iterable[str],
    recorded_at: int,
) -> None:
    cur.executemany(
        _RECOMMENDATION_SQL, ((account, period, section, e, recorded_at) for e in emails)
    )


def insert_first(
    cur: sqlite3.Cursor, key: LedgerKey, *, message_id: str, subject: str, message: bytes,
    state: LedgerState, created_at: int, picks: Mapping[str, Iterable[str]], recorded_at: int,
) -> LedgerEntry:
    account, recipient, period, seq = key
    cur.execute(
        "INSERT INTO digest_ledger (account, recipient, period, seq, message_id, subject, "
        "message, state, attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?) "
        "ON CONFLICT (account, recipient, period, seq) DO NOTHING",
        (account, recipient, period, seq, message_id, subject, message.decode("ascii"),
         str(state), created_at),
    )
    if cur.rowcount == 1:
        for section, emails in picks.items():
            record_recommendations(cur, account, period, section, list(emails), recorded_at)
    return select(cur, key)


def insert_next(
    cur: sqlite3.Cursor, previous: LedgerEntry, *, message_id: str, message: bytes,
    created_at: int,
) -> LedgerEntry:
    seq = cur.execute(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM digest_ledger WHERE account = ? AND "
        "recipient = ? AND period = ?",
        (previous.account, previous.recipient, previous.period),
    ).fetchone()[0]
    cur.execute(
        "INSERT INTO digest_ledger (account, recipient, period, seq, message_id, subject, "
        "message, state, attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?)",
        (previous.account, previous.recipient, previous.period, seq, message_id,
         previous.subject, message.decode("ascii"), created_at),
    )
    return select(cur, (previous.account, previous.recipient, previous.period, int(seq)))


def claim(cur: sqlite3.Cursor, key: LedgerKey, at: int) -> LedgerEntry | None:
    cur.execute(
        f"UPDATE digest_ledger SET state = 'sending', attempts = attempts + 1, "
        f"sending_at = ? WHERE {_WHERE_KEY} AND state = 'pending'",
        (at, *key),
    )
    if cur.rowcount != 1:
        return None
    return select(cur, key)


def finish(
    cur: sqlite3.Cursor, key: LedgerKey, state: LedgerState, error: str | None,
    location: str | None, at: int,
) -> LedgerEntry:
    cur.execute(
        f"UPDATE digest_ledger SET state = ?, last_error = ?, location = ?, finished_at = ? "
        f"WHERE {_WHERE_KEY} AND state = 'sending'",
        (str(state), error, location, at, *key),
    )
    return select(cur, key)


def settle_sending(cur: sqlite3.Cursor, account: str, at: int, error: str) -> list[LedgerEntry]:
    keys = cur.execute(
        "SELECT account, recipient, period, seq FROM digest_ledger "
        "WHERE account = ? AND state = 'sending'",
        (account,),
    ).fetchall()
    for key in keys:
        cur.execute(
            "UPDATE digest_ledger SET state = 'unknown', finished_at = ?, reported_at = NULL, "
            f"last_error = ? WHERE {_WHERE_KEY}",
            (at, error, *key),
        )
    return [select(cur, tuple(key)) for key in keys]


def expire_pending(
    cur: sqlite3.Cursor, account: str, before_period: str, at: int, reason: str
) -> list[LedgerEntry]:
    keys = cur.execute(
        "SELECT account, recipient, period, seq FROM digest_ledger "
        "WHERE account = ? AND state = 'pending' AND period < ?",
        (account, before_period),
    ).fetchall()
    for key in keys:
        cur.execute(
            "UPDATE digest_ledger SET state = 'failed', finished_at = ?, reported_at = NULL, "
            f"last_error = ? || ' (' || COALESCE(last_error, 'no attempt') || ')' "
            f"WHERE {_WHERE_KEY}",
            (at, reason, *key),
        )
    return [select(cur, tuple(key)) for key in keys]


def unreported(cur: sqlite3.Cursor, account: str) -> list[LedgerEntry]:
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM digest_ledger WHERE account = ? "
        "AND state IN ('failed', 'unknown') AND reported_at IS NULL ORDER BY period, seq",
        (account,),
    ).fetchall()
    return [_entry(r) for r in rows]


def mark_reported(cur: sqlite3.Cursor, key: LedgerKey, at: int) -> None:
    cur.execute(f"UPDATE digest_ledger SET reported_at = ? WHERE {_WHERE_KEY}", (at, *key))


def requeue(cur: sqlite3.Cursor, key: LedgerKey) -> LedgerEntry:
    cur.execute(
        f"UPDATE digest_ledger SET state = 'pending', reported_at = NULL WHERE {_WHERE_KEY} "
        "AND state IN ('unknown', 'failed', 'empty')",
        key,
    )
    return select(cur, key)
