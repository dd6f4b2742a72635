"""What the worker needs from persistent state, independent of the database.

:class:`Store` is the seam between the worker and its backend:
:class:`~peerpulse.worker.store.sqlite.SqliteStore` (one manager) and
``PostgresStore`` (postgres.py, organization mode) implement it and pass the
same contract tests (tests/worker/test_store_contract.py, test_store_overrides.py).
Callers in worker/ annotate with ``Store`` so they cannot reach for SQLite
specifics, and no module outside worker/store/ writes SQL
(tests/test_architecture.py).

Guarantees every implementation gives:

* ``apply_batch`` is one transaction: upserts, deletions, pruning, skipped
  inputs, connector state changes and the cursor commit together or not at all.
* Each ``ledger_*`` write is one transaction; the exactly-once decisions
  (which transition, when) stay in worker/ledger.py.
* Times passed in as ``at``/``created_at`` are epoch seconds from the caller's
  clock, so ``--now`` is honoured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from peerpulse.connectors.records import EventInstance, MessageMeta, Person, SyncBatch
from peerpulse.worker.store.rows import (
    AccountCounts,
    BatchOutcome,
    DigestCheckpoint,
    LedgerEntry,
    LedgerKey,
    LedgerState,
    LedgerSummary,
    SourceStatus,
    StoredCommand,
    StoredOverride,
    TitleChange,
)


class Store(Protocol):
    """Records, cursors, connector state, the digest ledger and history."""

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None: ...

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc: object) -> None: ...

    read_only: bool
    """Opened for reading only (``status``, ``digest --dry-run``): writes fail."""

    upgrade_pending: tuple[int, int] | None
    """(schema stored, schema this version needs) when a reader found the store one
    or more migrations behind and reads an upgraded copy; None otherwise."""

    def schema_version(self) -> int:
        """The newest applied migration."""
        ...

    # -- identity and health (the marker beside the store, ``status``) --------------

    def store_id(self, *, create: bool = True) -> str | None:
        """This store's identity, made on a writer's first ask; None if absent and
        ``create`` is False (or the store is read-only)."""
        ...

    def newest_sent_periods(self) -> dict[str, str]:
        """Per account, the newest period the ledger records as sent."""
        ...

    def record_labels(self, account: str, record_ids: Iterable[str]) -> dict[str, str]:
        """Stored subjects / meeting titles of these records, by record id."""
        ...

    def quick_check(self, limit: int = 10) -> list[str]:
        """Problems an integrity check finds (empty when healthy)."""
        ...

    # -- sync: records, cursors, connector state ------------------------------------

    def cursor(self, account: str, source: str) -> str | None:
        """The committed cursor of (account, source), or None before the first sync."""
        ...

    def apply_batch(
        self, account: str, source: str, batch: SyncBatch, *, now: datetime | None = None
    ) -> BatchOutcome:
        """Apply one batch atomically (see the module docstring)."""
        ...

    def state_get(self, account: str, source: str, key: str) -> str | None:
        """One committed connector state value, or None."""
        ...

    def state_iter_prefix(
        self, account: str, source: str, prefix: str
    ) -> Iterator[tuple[str, str]]:
        """Committed (key, value) pairs whose key starts with ``prefix``, in key order."""
        ...

    def begin_sync_run(self, account: str, source: str) -> int:
        """Record a run as started; returns its id for ``finish_sync_run``."""
        ...

    def finish_sync_run(
        self,
        run: int,
        outcome: str,
        upserted: int,
        deleted: int,
        skipped: int,
        error: str | None = None,
    ) -> None: ...

    # -- reading records -----------------------------------------------------------

    def iter_events(
        self, account: str, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[EventInstance]:
        """Event instances overlapping [since, until), oldest first, streamed."""
        ...

    def iter_messages(
        self, account: str, since: datetime | None = None, until: datetime | None = None,
        *, naming: Callable[[str], bool] | None = None,
    ) -> Iterator[MessageMeta]:
        """Messages in [since, until), oldest first, streamed; with ``naming``, only those
        with a sender, To or Cc address it holds true for, tested on the stored row
        before decoding (a re-base reads again only the mail of a few people on a day:
        ``rules.rebase``)."""
        ...

    def iter_raw_rows(
        self, account: str, since: datetime | None = None
    ) -> Iterator[tuple[Any, ...]]:
        """Undecoded rows of ``iter_events`` then ``iter_messages`` (same columns, same
        order): the benchmark's baseline only."""
        ...

    def iter_events_starting(
        self, account: str, start_from: int | None, start_before: int | None,
        since: datetime | None = None, *, recurring_only: bool = False,
    ) -> Iterator[EventInstance]:
        """Event instances with start_from <= start < start_before (epoch seconds; None:
        unbounded) ending at or after ``since`` (and recurring, with ``recurring_only``),
        in ``iter_events``' order: the parts the incremental digest reads before and
        after its checkpoint, and the team meeting's candidates."""
        ...

    # -- the digest's inference checkpoint (issue 14, item 1) ----------------------

    def digest_checkpoint(self, account: str, part: str = "both") -> DigestCheckpoint | None:
        """The stored checkpoint (None: none, or a backend that keeps none): both states,
        the first only ("first") or the second as a checkpoint of its own ("ahead";
        None without one): each state is megabytes, a digest reads the one it resumes."""
        ...

    def begin_digest_checkpoint(self, account: str) -> int | None:
        """Make sure the checkpoint row exists (so that writes from now on mark it) and
        return its generation; None when read-only or the backend keeps none."""
        ...

    def save_digest_checkpoint(
        self, account: str, checkpoint: DigestCheckpoint, generation: int
    ) -> bool:
        """Replace the checkpoint (``dirty_from`` cleared) if no record was written since
        ``generation`` was read; False (nothing saved) otherwise."""
        ...

    def records_leaving(self, account: str, since_from: int, since_to: int) -> bool:
        """Whether a stored record leaves the retention window when its start moves from
        ``since_from`` to ``since_to``: a message dated, or an event ending, in between."""
        ...

    def people(self, account: str) -> list[Person]: ...

    def database_key(self) -> str:
        """Which database this store reads: every store opened on it (a worker opens
        one per job) gives the same key, so what is kept per database is shared."""
        ...

    def people_stamp(self, account: str) -> str | None:
        """A value that changes with every write to ``account``'s people (triggers set
        it in the writing transaction); None when no write has set one yet. Read it
        before :meth:`people` to key a cache of what those rows resolve to."""
        ...

    def title_changes(self, account: str, since: datetime) -> list[TitleChange]: ...

    # -- recommendation history ----------------------------------------------------

    def record_recommendations(
        self, account: str, period: str, section: str, emails: Iterable[str]
    ) -> None: ...

    def recommendation_history(self, account: str, section: str) -> list[tuple[str, str]]:
        """(period, email) pairs named in ``section``, oldest period first."""
        ...

    # -- overrides and command mails (issue 13) ------------------------------------

    def add_override(self, account: str, override: StoredOverride) -> bool:
        """Store one snooze / done / never; False (nothing stored) when its token
        was already used: a signed command applies once."""
        ...

    def overrides(self, account: str, *, include_undone: bool = False) -> list[StoredOverride]:
        """Overrides oldest first; undone ones only with ``include_undone``."""
        ...

    def undo_override(
        self, account: str, emails: Iterable[str], at: int
    ) -> StoredOverride | None:
        """Mark the newest active override of any of ``emails`` undone at ``at``;
        returns it (with ``undone_at``), or None if there was none."""
        ...

    def pending_commands(self, account: str) -> list[StoredCommand]:
        """Command mails synced but not processed yet, oldest first.

        They arrive through ``apply_batch`` (``MailCommand`` records); a command
        seen again on a resync keeps its outcome and is never processed twice."""
        ...

    def processed_commands(self, account: str, since: int) -> list[StoredCommand]:
        """Processed command mails sent at or after ``since`` (epoch seconds)."""
        ...

    def settle_command(
        self,
        account: str,
        command: StoredCommand,
        override: StoredOverride | None,
        replayed: str,
    ) -> StoredCommand:
        """One transaction: store ``override`` (if any) and the command's outcome,
        with ``command.command`` replacing the text read from the mail (the caller
        hashes or drops it as the privacy setting says). When the override's token
        is already used, nothing is applied and the outcome becomes ``ignored``
        with ``replayed`` as its detail."""
        ...

    # -- maintenance and status ----------------------------------------------------

    def purge_before(self, account: str, cutoff: datetime) -> dict[str, int]:
        """Delete events, messages and command mails older than ``cutoff`` (counts
        under ``events``, ``messages``, ``commands``); every source that lost events
        or messages keeps ``cutoff`` as its purge horizon (the newest one wins)."""
        ...

    def reopen_purged(self, account: str, cutoff: datetime) -> list[str]:
        """Drop the cursor and connector state of the sources whose purge horizon is
        after ``cutoff`` (and the horizon): their next sync re-reads them whole.
        Returns those sources, sorted."""
        ...

    def count_before(self, account: str, cutoff: datetime) -> dict[str, int]:
        """The events and messages ``purge_before(cutoff)`` would delete."""
        ...

    def counts(self, account: str) -> AccountCounts: ...

    def newest_record_times(
        self, account: str, until: datetime
    ) -> tuple[datetime | None, datetime | None]:
        """The newest stored mail and the newest event start at or before ``until``
        (None when there is none): an indexed lookup, cheap enough for every digest."""
        ...

    def source_statuses(self, account: str) -> list[SourceStatus]: ...

    def skipped_inputs(self, account: str, limit: int = 20) -> list[tuple[str, str, str]]: ...

    # -- digest ledger -------------------------------------------------------------

    def ledger_latest(self, account: str, recipient: str, period: str) -> LedgerEntry | None:
        """The period's row with the highest seq."""
        ...

    def ledger_entries(self, account: str) -> list[LedgerEntry]:
        """Every row, ordered by period, seq, recipient."""
        ...

    def ledger_last_summary(self, account: str) -> LedgerSummary | None: ...

    def ledger_insert_first(
        self,
        key: LedgerKey,
        *,
        message_id: str,
        subject: str,
        message: bytes,
        state: LedgerState,
        created_at: int,
        picks: Mapping[str, Iterable[str]],
    ) -> LedgerEntry:
        """Insert ``key`` unless it exists, with ``picks`` in the same transaction
        (recorded only when the row is new); returns the stored row either way."""
        ...

    def ledger_insert_next(
        self, previous: LedgerEntry, *, message_id: str, message: bytes, created_at: int
    ) -> LedgerEntry:
        """A pending row with seq one above the period's highest."""
        ...

    def ledger_claim(self, key: LedgerKey, at: int) -> LedgerEntry | None:
        """pending -> sending (attempts + 1); None if the row was not pending."""
        ...

    def ledger_finish(
        self,
        key: LedgerKey,
        state: LedgerState,
        error: str | None,
        location: str | None,
        at: int,
    ) -> LedgerEntry:
        """sending -> ``state``; a row not in sending is left as it is."""
        ...

    def ledger_settle_sending(self, account: str, at: int, error: str) -> list[LedgerEntry]:
        """Every sending row -> unknown, unreported, with ``error``."""
        ...

    def ledger_expire_pending(
        self, account: str, before_period: str, at: int, reason: str
    ) -> list[LedgerEntry]:
        """Pending rows of periods before ``before_period`` -> failed, unreported,
        error ``"<reason> (<previous error or 'no attempt'>)"``."""
        ...

    def ledger_unreported(self, account: str) -> list[LedgerEntry]:
        """Failed or unknown rows not yet reported, by period and seq."""
        ...

    def ledger_mark_reported(self, key: LedgerKey, at: int) -> None: ...

    def ledger_requeue(self, key: LedgerKey) -> LedgerEntry:
        """unknown, failed or empty -> pending and unreported; other rows unchanged."""
        ...
