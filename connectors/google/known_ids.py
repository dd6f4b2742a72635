"""Which Gmail messages the store already holds, kept in keyed connector state.

The connector cannot read the store, yet three steps must know which messages
it already has: the ``rest`` phase must not fetch SENT messages again, an
increment must not fetch again what the initial sync stored (the first
history.list replays the overlap), and a 404 resync must fetch only unknown
ids and delete those no longer listed (listing 100k ids costs
1,000 units, fetching them 500,000).

Keys, all under the cursor's generation ``<gen>/`` (a fresh cursor starts a
new generation and drops the older ones, so a reset sync never trusts old ids):

- ``<gen>/m/<message id>`` -> ``[?]<thread id>[\\t<sweep>]``: ``?`` marks an id
  *adopted* by the version-1 upgrade (listed in Gmail, maybe not stored: it
  counts for deletions but is still fetched when asked for); ``<sweep>`` is the
  last resync that listed it.
- ``<gen>/t/<thread id>`` -> ``""``: a thread with a stored message, written in
  threads mode during the initial sync (the only time threads are looked up;
  increments and resyncs work on message ids).

Every change is staged and committed with the batch of records it describes
(``SyncBatch.state``): a crash before the commit leaves the ids unknown (they
are fetched again, never lost), a crash after it leaves records and ids in
agreement. Lookups go one list page (500 ids) at a time and the sweep's
``unseen`` streams the keys, so memory stays flat in the mailbox size.

Version 1 kept these ids in ``<state_dir>/google/<account>/known-<gen>.sqlite3``;
:func:`remove_side_files` deletes such files (never read: see
:meth:`connectors.google.mail_cursor.MailCursor.upgraded`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from peerpulse.connectors.state import StagedState, StateChange


def _value(thread: str, *, adopted: bool = False, sweep: str = "") -> str:
    return ("?" if adopted else "") + thread + (f"\t{sweep}" if sweep else "")


def _parse(value: str) -> tuple[str, bool, str]:
    """(thread id, adopted, sweep) of one ``m/`` value."""
    adopted = value.startswith("?")
    thread, _, sweep = value[1 if adopted else 0 :].partition("\t")
    return thread, adopted, sweep


class KnownIds:
    """The known ids of one generation, read and staged through keyed state."""

    def __init__(self, state: StagedState, gen: str) -> None:
        self._state = state
        self._gen = gen
        self._messages = f"{gen}/m/"
        self._threads = f"{gen}/t/"

    def changes(self) -> list[StateChange]:
        """What to commit with the batch about to be yielded."""
        return self._state.take_changes()

    def drop_other_generations(self) -> None:
        """A new generation: stage the deletion of every key of older ones."""
        mine = f"{self._gen}/"
        doomed = [k for k, _ in self._state.iter_prefix("") if not k.startswith(mine)]
        for key in doomed:
            self._state.delete(key)

    # -- writes (staged) ----------------------------------------------------------------

    def add(
        self, pairs: Iterable[tuple[str, str | None]], *, threads: bool = False, sweep: str = ""
    ) -> None:
        """Messages stored by this batch, as (message id, thread id); ``threads`` also
        records their threads (initial sync in threads mode)."""
        for message, thread in pairs:
            self._state.put(self._messages + message, _value(thread or "", sweep=sweep))
            if threads and thread:
                self._state.put(self._threads + thread, "")

    def adopt(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Listed ids the upgrade takes as present (kept if already known)."""
        for message, thread in pairs:
            if self._state.get(self._messages + message) is None:
                self._state.put(self._messages + message, _value(thread, adopted=True))

    def mark_seen(self, ids: Iterable[str], sweep: str) -> None:
        """Listed again by the resync ``sweep``."""
        for message in ids:
            value = self._state.get(self._messages + message)
            if value is not None:
                thread, adopted, _ = _parse(value)
                self._state.put(self._messages + message, _value(thread, adopted=adopted,
                                                                 sweep=sweep))

    def forget(self, ids: Sequence[str]) -> None:
        for message in ids:
            self._state.delete(self._messages + message)

    # -- reads --------------------------------------------------------------------------

    def lookup(self, ids: Sequence[str]) -> dict[str, bool]:
        """The ids among ``ids`` that are known: True when stored, False when only adopted."""
        cut = len(self._messages)
        values = self._state.get_many([self._messages + message for message in ids])
        return {key[cut:]: not value.startswith("?") for key, value in values.items()}

    def known_messages(self, ids: Sequence[str]) -> set[str]:
        """The message ids among ``ids`` that the store holds (adopted ones excluded)."""
        return {m for m, stored in self.lookup(ids).items() if stored}

    def known_threads(self, ids: Sequence[str]) -> set[str]:
        """The thread ids among ``ids`` with a message stored by the initial sync."""
        cut = len(self._threads)
        return {key[cut:] for key in self._state.get_many([self._threads + t for t in ids])}

    def unseen(self, sweep: str) -> list[str]:
        """Ids the resync ``sweep`` did not list (messages gone from the mailbox), streamed."""
        cut = len(self._messages)
        return [
            key[cut:]
            for key, value in self._state.iter_prefix(self._messages)
            if _parse(value)[2] != sweep
        ]

    def __len__(self) -> int:
        return sum(1 for _ in self._state.iter_prefix(self._messages))


def remove_side_files(state_dir: str | Path, account: str) -> list[Path]:
    """Delete version 1's known-ids SQLite files of ``account`` (and their WAL files)."""
    folder = Path(state_dir) / "google" / account
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in sorted(folder.glob("known-*.sqlite3*")):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    for empty in (folder, folder.parent):
        with contextlib.suppress(OSError):
            empty.rmdir()  # only when nothing else lives there
    return removed
