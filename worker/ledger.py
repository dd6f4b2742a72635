"""The digest ledger: at most one digest per (account, recipient, period).

A transactional outbox. A period's digest
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
This module decides the transitions; the store runs each one as a single
transaction (its SQL lives in worker/store/sqlite_ledger.py), so no step here
can be half-applied.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from peerpulse.worker.delivery.base import DeliveryOutcome, DeliveryState
from peerpulse.worker.store.protocol import Store
from peerpulse.worker.store.rows import LedgerEntry, LedgerState

__all__ = [
    "LedgerEntry",
    "LedgerState",
    "claim",
    "entries",
    "expire_pending",
    "finish",
    "last_entry",
    "latest",
    "mark_reported",
    "record_rendered",
    "record_resend",
    "requeue",
    "settle_interrupted",
    "unreported",
]

_INTERRUPTED = "the run sending it was interrupted; it may or may not have arrived"
_EXPIRED = "not delivered before its period ended"


def _epoch(now: datetime | None) -> int:
    return int(now.timestamp()) if now is not None else int(time.time())


# -- reading -------------------------------------------------------------------------


def latest(store: Store, account: str, recipient: str, period: str) -> LedgerEntry | None:
    """The period's newest row (the scheduled digest or the last forced resend)."""
    return store.ledger_latest(account, recipient, period)


def entries(store: Store, account: str) -> list[LedgerEntry]:
    """Every row of an account, oldest period first."""
    return store.ledger_entries(account)


def last_entry(store: Store, account: str) -> str | None:
    """One line for ``status``: the newest period, its state and when."""
    summary = store.ledger_last_summary(account)
    if summary is None:
        return None
    when = datetime.fromtimestamp(summary.at, UTC).isoformat(timespec="minutes")
    line = f"{summary.period} {summary.state} to {summary.recipient} ({when})"
    if summary.error and summary.state != LedgerState.SENT:
        return f"{line}: {summary.error}"
    return line


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
    return store.ledger_insert_first(
        (account, recipient, period, 0),
        message_id=message_id,
        subject=subject,
        message=message,
        state=LedgerState.EMPTY if empty else LedgerState.PENDING,
        created_at=_epoch(now),
        picks=picks,
    )


def record_resend(
    store: Store, previous: LedgerEntry, *, message_id: str, message: bytes,
    now: datetime | None = None,
) -> LedgerEntry:
    """A deliberate resend (``--force``): a new row after ``previous``, state pending."""
    return store.ledger_insert_next(
        previous, message_id=message_id, message=message, created_at=_epoch(now)
    )


def claim(store: Store, entry: LedgerEntry, *, now: datetime | None = None) -> LedgerEntry | None:
    """pending -> sending, committed before any network I/O; None if not pending."""
    return store.ledger_claim(entry.key, _epoch(now))


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
    return store.ledger_finish(entry.key, state, error, outcome.location, _epoch(now))


def settle_interrupted(
    store: Store, account: str, *, now: datetime | None = None
) -> list[LedgerEntry]:
    """Rows left in "sending" by a run that died: now "unknown" (not yet reported)."""
    return store.ledger_settle_sending(account, _epoch(now), _INTERRUPTED)


def expire_pending(
    store: Store, account: str, current_period: str, *, now: datetime | None = None
) -> list[LedgerEntry]:
    """Pending rows of earlier periods become failed: a late digest is not sent."""
    return store.ledger_expire_pending(account, current_period, _epoch(now), _EXPIRED)


def unreported(store: Store, account: str) -> list[LedgerEntry]:
    """Failed or unknown rows no run has reported yet."""
    return store.ledger_unreported(account)


def mark_reported(store: Store, entry: LedgerEntry, *, now: datetime | None = None) -> None:
    store.ledger_mark_reported(entry.key, _epoch(now))


def requeue(store: Store, entry: LedgerEntry) -> LedgerEntry:
    """unknown, failed or empty -> pending, same bytes and Message-ID (a careful resend)."""
    return store.ledger_requeue(entry.key)
