"""The digest ledger: at most one digest per (account, recipient, period).

A transactional outbox (faults-and-hardening.md section 3.2). A period's digest
is rendered once and stored with its Message-ID before anything is sent; every
later attempt sends those bytes. States:

    pending --claim--> sending --> sent | failed | unknown
       ^                  |
       +---- retry -------+          unknown --(resend_unknown)--> pending
    empty  (nothing to do this period; not sent)

"sending" is committed *before* the network call. A row later found in
"sending" belongs to a run that died mid-send (the caller holds the run lock, so
no live run owns it): it becomes "unknown", which is reported, and resent only
if the user asked for that. Row ``seq`` 0 is the period's scheduled digest;
``digest --force`` adds seq 1, 2, ... with a new Message-ID.

The caller holds the run lock (worker/lock.py) around every mutating call.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from peerpulse.worker.delivery.base import DeliveryOutcome, DeliveryState
from peerpulse.worker.store import Store

_COLUMNS = (
    "account, recipient, period, seq, message_id, subject, message, state, attempts, "
    "last_error, location, created_at, sending_at, finished_at, reported_at"
)


class LedgerState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    UNKNOWN = "unknown"
    FAILED = "failed"
    EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    account: str
    recipient: str
    period: str
    seq: int
    message_id: str
    subject: str
    message: bytes = field(repr=False)
    state: LedgerState
    attempts: int
    last_error: str | None
    location: str | None
    created_at: int
    sending_at: int | None
    finished_at: int | None
    reported_at: int | None

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.account, self.recipient, self.period, self.seq)


def _entry(row: tuple[object, ...]) -> LedgerEntry:
    values = list(row)
    values[6] = str(values[6]).encode("ascii")
    values[7] = LedgerState(str(values[7]))
    return LedgerEntry(*values)  # type: ignore[arg-type]


def _epoch(now: datetime | None) -> int:
    return int(now.timestamp()) if now is not None else int(time.time())


_WHERE_KEY = "account = ? AND recipient = ? AND period = ? AND seq = ?"


# -- reading -------------------------------------------------------------------------


def latest(store: Store, account: str, recipient: str, period: str) -> LedgerEntry | None:
    """The period's newest row (the scheduled digest or the last forced resend)."""
    with store.transaction() as cur:
        row = cur.execute(
            f"SELECT {_COLUMNS} FROM digest_ledger WHERE account = ? AND recipient = ? "
            "AND period = ? ORDER BY seq DESC LIMIT 1",
            (account, recipient, period),
        ).fetchone()
    return _entry(row) if row else None


def entries(store: Store, account: str) -> list[LedgerEntry]:
    """Every row of an account, oldest period first."""
    with store.transaction() as cur:
        rows = cur.execute(
            f"SELECT {_COLUMNS} FROM digest_ledger WHERE account = ? "
            "ORDER BY period, seq, recipient",
            (account,),
        ).fetchall()
    return [_entry(r) for r in rows]


def last_entry(store: Store, account: str) -> str | None:
    """One line for ``status``: the newest period, its state and when."""
    with store.transaction() as cur:
        row = cur.execute(
            "SELECT period, state, recipient, COALESCE(finished_at, sending_at, created_at), "
            "last_error FROM digest_ledger WHERE account = ? "
            "ORDER BY period DESC, seq DESC LIMIT 1",
            (account,),
        ).fetchone()
    if row is None:
        return None
    period, state, recipient, at, error = row
    when = datetime.fromtimestamp(at, UTC).isoformat(timespec="minutes")
    line = f"{period} {state} to {recipient} ({when})"
    return f"{line}: {error}" if error and state != LedgerState.SENT else line


# -- writing -------------------------------------------------------------------------


def record_rendered(
    store: Store,
    *,
    account: str,
    recipient: str,
    period: str,
    message_id: str,
    subject: str,
    message: bytes,
    picks: Mapping[str, Iterable[str]],
    empty: bool = False,
    now: datetime | None = None,
) -> LedgerEntry:
    """Fix the period's digest: store it (seq 0) and remember who it names, atomically.

    If the period already has a row, nothing changes and that row is returned:
    the first rendering wins, so one period never gets two different digests.
    """
    state = LedgerState.EMPTY if empty else LedgerState.PENDING
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO digest_ledger (account, recipient, period, seq, message_id, subject, "
            "message, state, attempts, created_at) VALUES (?, ?, ?, 0, ?, ?, ?, ?, 0, ?) "
            "ON CONFLICT (account, recipient, period, seq) DO NOTHING",
            (account, recipient, period, message_id, subject, message.decode("ascii"),
             str(state), _epoch(now)),
        )
        if cur.rowcount == 1:
            for section, emails in picks.items():
                store.record_recommendations(account, period, section, list(emails), cur=cur)
        row = _select(cur, (account, recipient, period, 0))
    return row


def record_resend(
    store: Store, previous: LedgerEntry, *, message_id: str, message: bytes,
    now: datetime | None = None,
) -> LedgerEntry:
    """A deliberate resend (``--force``): a new row after ``previous``, state pending."""
    with store.transaction() as cur:
        seq = cur.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM digest_ledger WHERE account = ? AND "
            "recipient = ? AND period = ?",
            (previous.account, previous.recipient, previous.period),
        ).fetchone()[0]
        cur.execute(
            "INSERT INTO digest_ledger (account, recipient, period, seq, message_id, subject, "
            "message, state, attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?)",
            (previous.account, previous.recipient, previous.period, seq, message_id,
             previous.subject, message.decode("ascii"), _epoch(now)),
        )
        return _select(cur, (previous.account, previous.recipient, previous.period, seq))


def claim(store: Store, entry: LedgerEntry, *, now: datetime | None = None) -> LedgerEntry | None:
    """pending -> sending, committed before any network I/O; None if not pending."""
    with store.transaction() as cur:
        cur.execute(
            f"UPDATE digest_ledger SET state = 'sending', attempts = attempts + 1, "
            f"sending_at = ? WHERE {_WHERE_KEY} AND state = 'pending'",
            (_epoch(now), *entry.key),
        )
        if cur.rowcount != 1:
            return None
        return _select(cur, entry.key)


def finish(
    store: Store, entry: LedgerEntry, outcome: DeliveryOutcome, *, now: datetime | None = None
) -> LedgerEntry:
    """Record what the backend said: sent, failed, unknown, or back to pending (retry)."""
    state = {
        DeliveryState.SENT: LedgerState.SENT,
        DeliveryState.FAILED: LedgerState.FAILED,
        DeliveryState.UNKNOWN: LedgerState.UNKNOWN,
        DeliveryState.RETRY: LedgerState.PENDING,
    }[outcome.state]
    error = None if state == LedgerState.SENT else (outcome.detail or str(outcome.state))[:1000]
    with store.transaction() as cur:
        cur.execute(
            f"UPDATE digest_ledger SET state = ?, last_error = ?, location = ?, finished_at = ? "
            f"WHERE {_WHERE_KEY} AND state = 'sending'",
            (str(state), error, outcome.location, _epoch(now), *entry.key),
        )
        return _select(cur, entry.key)


def settle_interrupted(
    store: Store, account: str, *, now: datetime | None = None
) -> list[LedgerEntry]:
    """Rows left in "sending" by a run that died: now "unknown" (not yet reported)."""
    with store.transaction() as cur:
        keys = cur.execute(
            "SELECT account, recipient, period, seq FROM digest_ledger "
            "WHERE account = ? AND state = 'sending'",
            (account,),
        ).fetchall()
        for key in keys:
            cur.execute(
                f"UPDATE digest_ledger SET state = 'unknown', finished_at = ?, reported_at = NULL, "
                f"last_error = 'the run sending it was interrupted; it may or may not have "
                f"arrived' WHERE {_WHERE_KEY}",
                (_epoch(now), *key),
            )
        return [_select(cur, tuple(key)) for key in keys]


def expire_pending(
    store: Store, account: str, current_period: str, *, now: datetime | None = None
) -> list[LedgerEntry]:
    """Pending rows of earlier periods become failed: a late digest is not sent."""
    with store.transaction() as cur:
        keys = cur.execute(
            "SELECT account, recipient, period, seq FROM digest_ledger "
            "WHERE account = ? AND state = 'pending' AND period < ?",
            (account, current_period),
        ).fetchall()
        for key in keys:
            cur.execute(
                f"UPDATE digest_ledger SET state = 'failed', finished_at = ?, reported_at = NULL, "
                f"last_error = 'not delivered before its period ended (' || "
                f"COALESCE(last_error, 'no attempt') || ')' WHERE {_WHERE_KEY}",
                (_epoch(now), *key),
            )
        return [_select(cur, tuple(key)) for key in keys]


def unreported(store: Store, account: str) -> list[LedgerEntry]:
    """Failed or unknown rows no run has reported yet."""
    with store.transaction() as cur:
        rows = cur.execute(
            f"SELECT {_COLUMNS} FROM digest_ledger WHERE account = ? "
            "AND state IN ('failed', 'unknown') AND reported_at IS NULL ORDER BY period, seq",
            (account,),
        ).fetchall()
    return [_entry(r) for r in rows]


def mark_reported(store: Store, entry: LedgerEntry, *, now: datetime | None = None) -> None:
    with store.transaction() as cur:
        cur.execute(
            f"UPDATE digest_ledger SET reported_at = ? WHERE {_WHERE_KEY}",
            (_epoch(now), *entry.key),
        )


def requeue(store: Store, entry: LedgerEntry) -> LedgerEntry:
    """unknown, failed or empty -> pending, same bytes and Message-ID (a careful resend)."""
    with store.transaction() as cur:
        cur.execute(
            f"UPDATE digest_ledger SET state = 'pending', reported_at = NULL WHERE {_WHERE_KEY} "
            "AND state IN ('unknown', 'failed', 'empty')",
            entry.key,
        )
        return _select(cur, entry.key)


def _select(cur: sqlite3.Cursor, key: tuple[object, ...]) -> LedgerEntry:
    row = cur.execute(f"SELECT {_COLUMNS} FROM digest_ledger WHERE {_WHERE_KEY}", key).fetchone()
    return _entry(row)
