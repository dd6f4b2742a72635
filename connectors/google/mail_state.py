"""The Gmail source's state: a small JSON cursor plus an on-disk index of known ids.

The cursor (committed with each batch) says where the sync stands:

- ``phase`` ``sent`` -> ``rest`` -> ``live``: the initial sync lists the SENT
  label first (a first digest is possible long before a big inbox is done),
  then everything else; ``live`` is history.list increments; ``resync`` lists
  ids after the history cursor expired (HTTP 404).
- ``sent_pages`` is how many more SENT list pages the ``sent`` phase may spend
  (see :func:`sent_page_budget`); ``None`` means unbounded.
- ``page`` is the list page token to resume at, so an initial sync stopped by
  the time budget continues in the next run.
- ``carry`` holds the few listed ids (fewer than one batch) left over from a
  page, so that every batch sent is full: the API's request floor assumes so.
- ``history`` is the historyId taken from getProfile *before* listing: the
  first increment replays the overlap, and upserts deduplicate.

The connector cannot read the store, yet two steps must know which messages
it already has: the ``rest`` phase must not fetch SENT messages again, and a
404 resync must fetch only unknown ids (research §7: listing 100k ids costs
1,000 units, fetching them 500,000). Those ids live in a small SQLite file,
``<state_dir>/google/<account>/known-<gen>.sqlite3``, and are looked up one
list page (500 ids) at a time, so memory stays flat however big the mailbox
is. Ids are added only *after* the worker committed the batch that stored
them: a crash before that commit leaves them unknown (they are fetched
again, never lost), a crash between commit and add costs one re-fetch. Every
add is its own SQLite transaction, so a crash never leaves the index torn.
``gen`` is in the cursor: a fresh cursor (``None``) starts a fresh file, so a
wiped database never trusts old ids.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from peerpulse.connectors.file_modes import make_private_dir

LIST_PAGE = 500  # messages.list / threads.list maxResults
FETCH_BATCH = 50  # gets per batch (Gmail batch guide)
_CHUNK = 500  # ids per SQL ``IN (...)``: well under SQLite's variable limit


@dataclass
class MailCursor:
    phase: str = "sent"  # sent | rest | live | resync
    history: str | None = None
    page: str | None = None
    window_start: int = 0  # epoch seconds; the initial sync stops at older mail
    method: str = "messages"  # messages | threads (the cheaper for this mailbox)
    gen: str = ""
    carry: list[str] = field(default_factory=list)  # < 50 listed ids waiting for a full batch
    sent_pages: int | None = None  # SENT list pages the sent phase may still spend
    v: int = 1

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def load(cls, text: str | None) -> MailCursor | None:
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("v") != 1:
            return None
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def but(self, **changes: object) -> MailCursor:
        return MailCursor(**{**asdict(self), **changes})


def new_generation() -> str:
    return secrets.token_hex(4)


def sent_page_budget(items: int, share: float) -> int:
    """SENT list pages the initial sync may spend before listing everything.

    Gmail cannot list "everything but SENT" without ``q`` (forbidden under
    gmail.metadata), so every SENT page is listed twice: once in the SENT
    phase, once in the full listing. Those pages are pure overhead on the
    floor of ``ceil(items/500)`` list pages plus ``ceil(items/50)`` batches
    (research §7), so they are capped at ``share`` of that floor, and at least
    one page (the newest 500 SENT items, enough for a first digest) unless
    ``share`` is 0, which turns the SENT phase off. That one page is more than
    ``share`` only for mailboxes under ~1,700 items, where it is one request.
    """
    if share <= 0:
        return 0
    floor = math.ceil(items / LIST_PAGE) + math.ceil(items / FETCH_BATCH)
    return max(1, int(share * floor))


class KnownIds:
    """The index of ids already committed to the store (see the module docstring)."""

    def __init__(self, state_dir: str | Path, account: str, gen: str) -> None:
        self.folder = Path(state_dir) / "google" / account
        self.path = self.folder / f"known-{gen}.sqlite3"
        self._db: sqlite3.Connection | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            make_private_dir(self.folder)
            # One source uses this at a time, but the worker may drive it from any thread.
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o600)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS known (id TEXT PRIMARY KEY, thread TEXT NOT NULL, "
                "seen INTEGER NOT NULL DEFAULT 1) WITHOUT ROWID"
            )
            db.execute("CREATE INDEX IF NOT EXISTS known_thread ON known (thread)")
            self._db = db
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def start_fresh(self) -> None:
        """A new generation: drop every older index of this account."""
        self.close()
        if self.folder.is_dir():
            for old in self.folder.glob("known-*"):
                old.unlink(missing_ok=True)
        self._conn()

    # -- writes (each one transaction) ----------------------------------------------------

    def add(self, pairs: Iterable[tuple[str, str | None]]) -> None:
        """Record committed messages as (message id, thread id)."""
        rows = [(m, t or "") for m, t in pairs]
        if rows:
            with self._transaction() as db:
                db.executemany(
                    "INSERT INTO known (id, thread, seen) VALUES (?, ?, 1) "
                    "ON CONFLICT (id) DO UPDATE SET thread = excluded.thread, seen = 1",
                    rows,
                )

    def begin_sweep(self) -> None:
        """Start a resync's sweep: every id is unseen until listed again."""
        with self._transaction() as db:
            db.execute("UPDATE known SET seen = 0")

    def mark_seen(self, ids: Iterable[str]) -> None:
        with self._transaction() as db:
            for chunk in _chunks(list(ids)):
                db.execute(f"UPDATE known SET seen = 1 WHERE id IN ({_marks(chunk)})", chunk)

    def forget(self, ids: Sequence[str]) -> None:
        with self._transaction() as db:
            for chunk in _chunks(list(ids)):
                db.execute(f"DELETE FROM known WHERE id IN ({_marks(chunk)})", chunk)

    # -- reads ----------------------------------------------------------------------------

    def known_messages(self, ids: Sequence[str]) -> set[str]:
        """The message ids among ``ids`` that are known."""
        return self._select("SELECT id FROM known WHERE id IN ({})", ids)

    def known_threads(self, ids: Sequence[str]) -> set[str]:
        """The thread ids among ``ids`` with at least one known message."""
        return self._select("SELECT DISTINCT thread FROM known WHERE thread IN ({})", ids)

    def unseen(self) -> list[str]:
        """Ids not listed since :meth:`begin_sweep` (messages gone from the mailbox)."""
        return [row[0] for row in self._conn().execute("SELECT id FROM known WHERE seen = 0")]

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM known").fetchone()[0])

    # -- plumbing -------------------------------------------------------------------------

    def _select(self, sql: str, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        db = self._conn()
        for chunk in _chunks(list(ids)):
            found.update(row[0] for row in db.execute(sql.format(_marks(chunk)), chunk))
        return found

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _marks(chunk: list[str]) -> str:
    return ",".join("?" * len(chunk))
