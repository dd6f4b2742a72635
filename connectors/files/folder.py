"""What a message folder (Maildir, folder of .eml files) held when it was last read.

A folder grows by a few messages a day, loses some when the user deletes or
moves mail, and has its files renamed whenever a flag changes (``:2,S``, new/ →
cur/). To read only what is new and delete only what went, the cursor keeps an
*index*: for each message file read, a key and the ``source_id`` of the record
it gave ("" for a file that gave a skip).

* The key is an 8-byte BLAKE2b of the file's stable name (its path with the
  Maildir flags and the cur/new distinction removed) and its size, so a flag
  change keeps the key and a rewritten file gets a new one (read again).
* The index is packed (key, length, source_id), zlib-compressed and Base64
  encoded: a JSON list of names and ids is ~180 bytes a message (~9 MB for
  50,000), packed it is ~50 bytes, most of it the Message-IDs a deletion needs
  verbatim (the store deletes by ``source_id``; a removed file cannot be read
  again). Base85 would be 6% smaller but is pure Python and 100x slower.
* It is a list of chunks: each batch appends the chunk of what it read, so
  writing the cursor after a batch costs that batch, not the whole folder;
  the last batch of a run merges them when something went or they are many.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from pathlib import Path

from peerpulse.connectors.files.inputs import scan_messages

KEY_BYTES = 8
MAX_CHUNKS = 16
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


def encode(index: Index) -> str:
    parts: list[bytes] = []
    for key in sorted(index):
        sid = index[key].encode()[:0xFFFF]
        parts.append(key + _LENGTH.pack(len(sid)) + sid)
    return base64.b64encode(zlib.compress(b"".join(parts), 6)).decode("ascii")


def decode(text: str) -> Index | None:
    """The index, or None when the text is not one of ours (then the folder is re-read)."""
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


class FolderIndex:
    """The index of one folder as a run reads it: entries plus their encoded chunks."""

    def __init__(self, chunks: list[str] | None = None, entries: Index | None = None) -> None:
        self._chunks = list(chunks or [])
        self._entries: Index = entries or {}
        self._fresh: Index = {}

    @classmethod
    def load(cls, value: object) -> FolderIndex | None:
        """The index a cursor holds, or None when it holds none we can read."""
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            return None
        entries: Index = {}
        for chunk in value:
            part = decode(chunk)
            if part is None:
                return None
            entries.update(part)
        return cls(value, entries)

    def __contains__(self, key: bytes) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, key: bytes, source_id: str) -> None:
        """A file read: the id of its record, or "" when it gave a skip."""
        self._entries[key] = source_id
        self._fresh[key] = source_id

    def chunks(self) -> list[str]:
        """The encoded index now (what a batch's cursor carries)."""
        if self._fresh:
            self._chunks.append(encode(self._fresh))
            self._fresh = {}
        return list(self._chunks)

    def finish(self, current: set[bytes]) -> list[str]:
        """Drop the files that went; the ids no remaining file still gives, to delete.

        A message in two files (Gmail's INBOX and All Mail over IMAP, or moved
        between folders) keeps its record while one file still holds it.
        """
        gone = [key for key in self._entries if key not in current]
        if not gone and len(self._chunks) + bool(self._fresh) <= MAX_CHUNKS:
            return []
        kept = {self._entries[key] for key in current if key in self._entries}
        deleted = {self._entries[key] for key in gone} - kept - {""}
        for key in gone:
            del self._entries[key]
        self._chunks, self._fresh = [encode(self._entries)], {}
        return sorted(deleted)
