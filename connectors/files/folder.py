"""What a message folder (Maildir, folder of .eml files) held when it was last read.

A folder grows by a few messages a day, loses some when the user deletes or
moves mail, and has its files renamed whenever a flag changes (``:2,S``, new/ →
cur/). To read only what is new and delete only what went, the source keeps an
*index* in its keyed connector state (:mod:`connectors.state`): for each message
file read, one key and the ``source_id`` of the record it gave ("" for a file
that gave a skip). The store deletes by ``source_id`` and a removed file cannot
be read again, so the id is kept verbatim.

* The file key is an 8-byte BLAKE2b of the file's stable name (its path with
  the Maildir flags and the cur/new distinction removed) and its size, so a
  flag change keeps the key and a rewritten file gets a new one (read again).
* State keys are ``idx/<label as JSON>/<run>/<file key hex>``: the JSON quotes
  make one label's prefix never a prefix of another's, and the run id scopes
  the index to the read that wrote it, as the store scopes records: a whole
  re-read writes under its new run and drops the older runs' keys only in its
  last batch, so a re-read that yields nothing but skips can keep the old index.
* Each batch stages the keys of the files it read, so the index travels with
  the records in one transaction; reads stream the index in key order and
  never hold more of it than the set of keys the listing already holds.

Before cursor version 2 the index was packed into the cursor (zlib + Base64 of
(key, length, source_id) chunks); :func:`legacy_index` reads it once so an
existing install moves it into keyed state without reading any message again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from peerpulse.connectors.files.inputs import scan_messages
from peerpulse.connectors.state import StagedState

KEY_BYTES = 8
_LENGTH = struct.Struct(">H")

Index = dict[bytes, str]


def file_key(stable_name: str, size: int) -> bytes:
    return hashlib.blake2b(f"{stable_name}\0{size}".encode(), digest_size=KEY_BYTES).digest()


def listing(folder: Path, specials: list[Path] | None = None) -> list[tuple[bytes, Path]]:
    """The folder's message files as (key, path), in stable-name order, one per key.

    FIFOs, sockets and device files go to ``specials`` (see :func:`scan_messages`).
    """
    seen: set[bytes] = set()
    entries: list[tuple[bytes, Path]] = []
    for name, path, size in scan_messages(folder, specials):
        key = file_key(name, size)
        if key not in seen:
            seen.add(key)
            entries.append((key, path))
    return entries


def listing_digest(entries: list[tuple[bytes, Path]]) -> str:
    """One digest of the set of keys: equal digests mean nothing to read or delete."""
    return hashlib.sha256(b"".join(sorted(key for key, _ in entries))).hexdigest()[:32]


def decode(text: str) -> Index | None:
    """One packed version-1 chunk, or None when the text is not one of ours (then the
    folder is re-read)."""
    try:
        data = zlib.decompress(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, zlib.error):
        return None
    index: Index = {}
    pos, end = 0, len(data)
    while pos < end:
        key = data[pos : pos + KEY_BYTES]
        if len(key) < KEY_BYTES or pos + KEY_BYTES + _LENGTH.size > end:
            return None
        (length,) = _LENGTH.unpack_from(data, pos + KEY_BYTES)
        start = pos + KEY_BYTES + _LENGTH.size
        pos = start + length
        if pos > end:
            return None
        index[key] = data[start:pos].decode("utf-8", "replace")
    return index


def legacy_index(value: object) -> Index | None:
    """The index a version-1 cursor packed into its chunk list, or None when unreadable."""
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        return None
    entries: Index = {}
    for chunk in value:
        part = decode(chunk)
        if part is None:
            return None
        entries.update(part)
    return entries


def label_prefix(label: str) -> str:
    """The state key prefix of every index entry of input ``label``, whatever the run."""
    return f"idx/{json.dumps(label)}/"


def drop_label(state: StagedState, label: str, *, except_run: str | None = None) -> None:
    """Stage the deletion of ``label``'s index entries (all runs, or all but one)."""
    prefix = label_prefix(label)
    keep = f"{prefix}{except_run}/" if except_run is not None else None
    doomed = [k for k, _ in state.iter_prefix(prefix) if keep is None or not k.startswith(keep)]
    for key in doomed:
        state.delete(key)


def drop_all(state: StagedState) -> None:
    """Stage the deletion of every folder index entry (a source starting from no cursor)."""
    doomed = [k for k, _ in state.iter_prefix("idx/")]
    for key in doomed:
        state.delete(key)


class FolderIndex:
    """The index of one folder under one run, read and written through keyed state."""

    def __init__(self, state: StagedState, label: str, run: str) -> None:
        self._state = state
        self._label = label
        self._run = run
        self._prefix = f"{label_prefix(label)}{run}/"

    def _entries(self) -> Iterator[tuple[bytes, str]]:
        cut = len(self._prefix)
        for key, source_id in self._state.iter_prefix(self._prefix):
            yield bytes.fromhex(key[cut:]), source_id

    def scan(self, current: set[bytes]) -> tuple[set[bytes], int]:
        """The keys of ``current`` the index holds, and how many entries it has (streamed)."""
        present: set[bytes] = set()
        size = 0
        for key, _ in self._entries():
            size += 1
            if key in current:
                present.add(key)
        return present, size

    def add(self, key: bytes, source_id: str) -> None:
        """A file read: the id of its record, or "" when it gave a skip."""
        self._state.put(self._prefix + key.hex(), source_id)

    def put_all(self, entries: Index) -> None:
        for key, source_id in entries.items():
            self.add(key, source_id)

    def drop(self) -> None:
        """Forget this run's entries (a re-read that is given up)."""
        doomed = [k for k, _ in self._state.iter_prefix(self._prefix)]
        for key in doomed:
            self._state.delete(key)

    def drop_other_runs(self) -> None:
        """A whole re-read finished: the entries of the runs before it go."""
        drop_label(self._state, self._label, except_run=self._run)

    def finish(self, current: set[bytes]) -> list[str]:
        """Drop the files that went; the ids no remaining file still gives, to delete.

        A message in two files (Gmail's INBOX and All Mail over IMAP, or moved
        between folders) keeps its record while one file still holds it.
        """
        gone = [(key, sid) for key, sid in self._entries() if key not in current]
        if not gone:
            return []
        candidates = {sid for _, sid in gone} - {""}
        kept = (
            {sid for key, sid in self._entries() if sid in candidates and key in current}
            if candidates
            else set()
        )
        for key, _ in gone:
            self._state.delete(self._prefix + key.hex())
        return sorted(candidates - kept)
