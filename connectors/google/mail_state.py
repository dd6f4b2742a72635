"""The Gmail source's state: a small JSON cursor plus a side file of known ids.

The cursor (committed with each batch) says where the sync stands:

- ``phase`` ``sent`` -> ``rest`` -> ``live``: the initial sync lists the SENT
  label first (a first digest is possible long before a big inbox is done),
  then everything else; ``live`` is history.list increments; ``resync`` lists
  ids after the history cursor expired (HTTP 404).
- ``page`` is the list page token to resume at, so an initial sync stopped by
  the time budget continues in the next run.
- ``carry`` holds the few listed ids (fewer than one batch) left over from a
  page, so that every batch sent is full: the API's request floor assumes so.
- ``history`` is the historyId taken from getProfile *before* listing: the
  first increment replays the overlap, and upserts deduplicate.

The connector cannot read the store, yet two steps must know which messages
it already has: the ``rest`` phase must not fetch SENT messages again, and a
404 resync must fetch only unknown ids (research §7: listing 100k ids costs
1,000 units, fetching them 500,000). Those ids live in a side file,
``<state_dir>/google/<account>-<gen>.ids`` (one ``message thread`` pair a
line), appended only *after* the worker committed the batch that stored them.
A crash between commit and append leaves an id out, which costs one
re-fetch, never a lost message. ``gen`` is in the cursor: a fresh cursor
(``None``) starts a fresh file, so a wiped database never trusts old ids.
"""

from __future__ import annotations

import json
import os
import secrets
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class MailCursor:
    phase: str = "sent"  # sent | rest | live | resync
    history: str | None = None
    page: str | None = None
    window_start: int = 0  # epoch seconds; the initial sync stops at older mail
    method: str = "messages"  # messages | threads (the cheaper for this mailbox)
    gen: str = ""
    carry: list[str] = field(default_factory=list)  # < 50 listed ids waiting for a full batch
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


class IdSet:
    """A compact set of Gmail ids: 16-hex-digit ids as sorted 64-bit ints, others as str."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        numbers: list[int] = []
        self._other: set[str] = set()
        for value in ids:
            number = _as_int(value)
            if number is None:
                self._other.add(value)
            else:
                numbers.append(number)
        numbers.sort()
        self._numbers = array("Q", numbers)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        number = _as_int(value)
        if number is None:
            return value in self._other
        i = bisect_left(self._numbers, number)
        return i < len(self._numbers) and self._numbers[i] == number

    def __len__(self) -> int:
        return len(self._numbers) + len(self._other)

    def __iter__(self):
        for number in self._numbers:
            yield f"{number:x}"
        yield from self._other


def _as_int(value: str) -> int | None:
    # Gmail ids are lowercase hex; keep the exact spelling round-trippable.
    if 0 < len(value) <= 16 and value == value.lower() and value[0] != "0":
        try:
            return int(value, 16)
        except ValueError:
            return None
    return None


class KnownIds:
    """The side file of ids already committed to the store (see module docstring)."""

    def __init__(self, state_dir: str | Path, account: str, gen: str) -> None:
        self.folder = Path(state_dir) / "google"
        self.account = account
        self.path = self.folder / f"{account}-{gen}.ids"

    def start_fresh(self) -> None:
        """A new generation: drop every older file of this account."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for old in self.folder.glob(f"{self.account}-*.ids"):
            if old != self.path:
                old.unlink(missing_ok=True)
        self.path.touch(mode=0o600)

    def append(self, pairs: Iterable[tuple[str, str | None]]) -> None:
        lines = "".join(f"{m} {t or '-'}\n" for m, t in pairs)
        if not lines:
            return
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.path, "a", encoding="ascii") as handle:
            handle.write(lines)

    def _pairs(self) -> Iterable[tuple[str, str]]:
        try:
            with open(self.path, encoding="ascii") as handle:
                for line in handle:
                    message, _, thread = line.rstrip("\n").partition(" ")
                    if message:
                        yield message, thread
        except FileNotFoundError:
            return

    def messages(self) -> IdSet:
        return IdSet(m for m, _ in self._pairs())

    def threads(self) -> IdSet:
        return IdSet(t for _, t in self._pairs() if t and t != "-")

    def rewrite(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Replace the file (after a resync committed: only ids that still exist)."""
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="ascii") as handle:
            handle.writelines(f"{m} {t}\n" for m, t in pairs)
        os.replace(tmp, self.path)
