"""The ledger and override methods both store backends share.

Their SQL lives in ``sqlite_ledger.py`` and ``sqlite_overrides.py`` and is written
once, in portable ``?`` style; a backend mixes this class in and says how to get
a cursor for one transaction that speaks that style (:meth:`_shared_cursor`), so
the two backends cannot drift apart method by method.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from peerpulse.worker.store import checkpoint_sql
from peerpulse.worker.store import sqlite_ledger as ledger_sql
from peerpulse.worker.store import sqlite_overrides as overrides_sql
from peerpulse.worker.store.rows import (
    DigestCheckpoint,
    LedgerEntry,
    LedgerKey,
    LedgerState,
    LedgerSummary,
    StoredCommand,
    StoredOverride,
)


class SharedSqlMethods:
    """Mixin: the delivery ledger, the overrides and the digest checkpoint, over
    :meth:`_shared_cursor`."""

    read_only: bool

    def _shared_cursor(self) -> AbstractContextManager[Any]:
        """One transaction's cursor taking ``?`` placeholders (the backend's)."""
        raise NotImplementedError

    def _before_insert_next(self, cur: Any, previous: LedgerEntry) -> None:
        """Serialize concurrent resends of one period where the backend needs it."""

    # -- the digest's inference checkpoint (decisions in worker/checkpoint.py) -------

    def digest_checkpoint(self, account: str, part: str = "both") -> DigestCheckpoint | None:
        if part not in checkpoint_sql.PARTS:
            raise ValueError(f"digest_checkpoint: part {part!r}, expected one of "
                             f"{checkpoint_sql.PARTS}")
        with self._shared_cursor() as cur:
            return checkpoint_sql.get(cur, account, part)

    def begin_digest_checkpoint(self, account: str) -> int | None:
        if self.read_only:
            return None
        with self._shared_cursor() as cur:
            return checkpoint_sql.begin(cur, account)

    def save_digest_checkpoint(
        self, account: str, checkpoint: DigestCheckpoint, generation: int
    ) -> bool:
        with self._shared_cursor() as cur:
            return checkpoint_sql.save(cur, account, checkpoint, generation)

    def records_leaving(self, account: str, since_from: int, since_to: int) -> bool:
        with self._shared_cursor() as cur:
            return checkpoint_sql.records_between(cur, account, since_from, since_to)

    # -- digest ledger (decisions in worker/ledger.py, SQL in sqlite_ledger.py) -----

    def ledger_latest(self, account: str, recipient: str, period: str) -> LedgerEntry | None:
        with self._shared_cursor() as cur:
            return ledger_sql.latest(cur, account, recipient, period)

    def ledger_entries(self, account: str) -> list[LedgerEntry]:
        with self._shared_cursor() as cur:
            return ledger_sql.entries(cur, account)

    def ledger_last_summary(self, account: str) -> LedgerSummary | None:
        with self._shared_cursor() as cur:
            return ledger_sql.last_summary(cur, account)

    def ledger_insert_first(
        self, key: LedgerKey, *, message_id: str, subject: str, message: bytes,
        state: LedgerState, created_at: int, picks: Mapping[str, Iterable[str]],
    ) -> LedgerEntry:
        with self._shared_cursor() as cur:
            return ledger_sql.insert_first(
                cur, key, message_id=message_id, subject=subject, message=message, state=state,
                created_at=created_at, picks=picks, recorded_at=int(time.time()),
            )

    def ledger_insert_next(
        self, previous: LedgerEntry, *, message_id: str, message: bytes, created_at: int
    ) -> LedgerEntry:
        with self._shared_cursor() as cur:
            self._before_insert_next(cur, previous)
            return ledger_sql.insert_next(
                cur, previous, message_id=message_id, message=message, created_at=created_at
            )

    def ledger_claim(self, key: LedgerKey, at: int) -> LedgerEntry | None:
        with self._shared_cursor() as cur:
            return ledger_sql.claim(cur, key, at)

    def ledger_finish(
        self, key: LedgerKey, state: LedgerState, error: str | None, location: str | None,
        at: int,
    ) -> LedgerEntry:
        with self._shared_cursor() as cur:
            return ledger_sql.finish(cur, key, state, error, location, at)

    def ledger_settle_sending(self, account: str, at: int, error: str) -> list[LedgerEntry]:
        with self._shared_cursor() as cur:
            return ledger_sql.settle_sending(cur, account, at, error)

    def ledger_expire_pending(
        self, account: str, before_period: str, at: int, reason: str
    ) -> list[LedgerEntry]:
        with self._shared_cursor() as cur:
            return ledger_sql.expire_pending(cur, account, before_period, at, reason)

    def ledger_unreported(self, account: str) -> list[LedgerEntry]:
        with self._shared_cursor() as cur:
            return ledger_sql.unreported(cur, account)

    def ledger_mark_reported(self, key: LedgerKey, at: int) -> None:
        with self._shared_cursor() as cur:
            ledger_sql.mark_reported(cur, key, at)

    def ledger_requeue(self, key: LedgerKey) -> LedgerEntry:
        with self._shared_cursor() as cur:
            return ledger_sql.requeue(cur, key)

    # -- overrides and command mails (issue 13; SQL in sqlite_overrides.py) ----------

    def add_override(self, account: str, override: StoredOverride) -> bool:
        with self._shared_cursor() as cur:
            return overrides_sql.insert_override(cur, account, override)

    def overrides(self, account: str, *, include_undone: bool = False) -> list[StoredOverride]:
        with self._shared_cursor() as cur:
            return overrides_sql.select_overrides(cur, account, include_undone)

    def undo_override(
        self, account: str, emails: Iterable[str], at: int
    ) -> StoredOverride | None:
        with self._shared_cursor() as cur:
            return overrides_sql.undo_latest(cur, account, emails, at)

    def pending_commands(self, account: str) -> list[StoredCommand]:
        with self._shared_cursor() as cur:
            return overrides_sql.select_commands(cur, account, pending=True)

    def processed_commands(self, account: str, since: int) -> list[StoredCommand]:
        with self._shared_cursor() as cur:
            return overrides_sql.select_commands(cur, account, pending=False, since=since)

    def settle_command(
        self,
        account: str,
        command: StoredCommand,
        override: StoredOverride | None,
        replayed: str,
    ) -> StoredCommand:
        with self._shared_cursor() as cur:
            return overrides_sql.settle_command(cur, account, command, override, replayed)
