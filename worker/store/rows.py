"""Plain values the store hands back: no SQL, no connection, safe to keep.

They live apart from any backend so callers (the ledger, status, digest) and
the :class:`~peerpulse.worker.store.protocol.Store` protocol name them without
importing SQLite, and a PostgreSQL backend returns the very same types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    upserted: int
    deleted: int
    skipped: int


@dataclass(frozen=True, slots=True)
class TitleChange:
    email: str
    old_title: str | None
    new_title: str | None
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class SourceStatus:
    account: str
    source: str
    cursor_updated_at: datetime | None
    last_run_started: datetime | None
    last_run_outcome: str | None
    last_run_error: str | None
    skipped_inputs: int


@dataclass(frozen=True, slots=True)
class AccountCounts:
    events: int
    messages: int
    people: int
    skipped_inputs: int
    oldest: datetime | None
    newest: datetime | None


class LedgerState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    UNKNOWN = "unknown"
    FAILED = "failed"
    EMPTY = "empty"


LedgerKey = tuple[str, str, str, int]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One digest_ledger row: (account, recipient, period, seq) and its bytes."""

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
    def key(self) -> LedgerKey:
        return (self.account, self.recipient, self.period, self.seq)


@dataclass(frozen=True, slots=True)
class LedgerSummary:
    """The newest ledger row of an account, reduced to what ``status`` prints."""

    period: str
    state: LedgerState
    recipient: str
    at: int
    error: str | None


@dataclass(frozen=True, slots=True)
class StoredOverride:
    """One snooze / done / never as stored (issue 13); ``undone_at`` set once undone."""

    override_id: str
    email: str
    action: str
    until: date | None
    created_at: int
    source: str  # "cli" or "mail"
    token: str | None = None
    undone_at: int | None = None


@dataclass(frozen=True, slots=True)
class StoredCommand:
    """A command mail read from the owner's sent mail, and what was done with it.

    ``outcome`` is None until processed, then "applied" or "ignored" (``detail`` says
    what was done or why not: forged, replayed, malformed, unknown person)."""

    source: str
    source_id: str
    sent_at: int
    command: str
    outcome: str | None = None
    detail: str | None = None
    processed_at: int | None = None


@dataclass(frozen=True, slots=True)
class DigestCheckpoint:
    """The digest's inference checkpoint (rules/checkpoint.py) as stored: the pass over
    every record before ``horizon`` (epoch seconds), made under ``fingerprint`` with
    the retention window starting at ``since_ts``. ``dirty_from``: the earliest record
    time written since (None: nothing); ``generation`` counts those writes; a retention
    purge leaves both alone, and records its cutoff in ``purged_below``."""

    fingerprint: str | None
    horizon: int | None
    since_ts: int | None
    dirty_from: int | None
    generation: int
    state: bytes | None
    # The latest retention cutoff a purge deleted records below without marking the
    # checkpoint (migration 11): a digest whose window starts earlier cannot resume it.
    purged_below: int | None = None
    # The pass up to a later time (a digest's own: migration 13), kept beside the one at
    # ``horizon``: resumed only while no record dated before ``ahead_horizon`` was
    # written since (``dirty_from``); a writer's ``begin`` drops it otherwise.
    ahead_horizon: int | None = None
    ahead_state: bytes | None = None
