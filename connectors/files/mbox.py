"""Splitting an mbox into messages by byte offset, reading only what we need.

We do not use :mod:`mailbox`: it parses whole messages, and it cannot tell us
the byte offset after each message, which is what lets a later run read only
the messages appended since (Thunderbird and Takeout append) or resume a run
that was killed halfway. The scanner keeps one chunk plus the current message
header in memory, whatever the size of the mailbox.

A separator is a line starting with ``From `` that is followed by a header
line (``Name:``), as in the stdlib's and mutt's readers. Requiring the header
line keeps unescaped ``From Russia with love`` body lines (mboxo, "unmunged"
files) from splitting a message; Takeout and Vault exports have no blank line
before their separators, so one is not required.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1 << 20
MAX_HEADER = 1 << 20  # a header block beyond 1 MiB is cut there (flanker's long-header is 209 KB)

_SEPARATOR = re.compile(rb"^From [^\n]*\n[!-9;-~]+[ \t]*:", re.M)
# Patterns that start with a literal are searched with a fast scan for that byte;
# ``^`` (and a leading ``\r?``) make the regex engine try every position, which
# cost more than the rest of the scanner. These find the same matches (see below).
_NEXT_SEPARATOR = re.compile(rb"\nFrom [^\n]*\n[!-9;-~]+[ \t]*:")
_HEADER_END = re.compile(rb"\n\r?\n")  # the leftmost ``\r?\n\r?\n`` starts here or 1 before
# Part headers announcing a calendar invitation anywhere in the message.
CALENDAR_PART = re.compile(rb"^content-type:[ \t]*(?:\r?\n[ \t]+)?text/calendar", re.M | re.I)


def search_separator(buf: bytes, pos: int, endpos: int | None = None) -> re.Match[bytes] | None:
    """``_SEPARATOR.search(buf, pos, endpos)``, without trying the regex at every byte."""
    end = len(buf) if endpos is None else endpos
    if pos == 0 or buf[pos - 1 : pos] == b"\n":
        match = _SEPARATOR.match(buf, pos, end)
        if match is not None:
            return match
    found = _NEXT_SEPARATOR.search(buf, pos, end)
    return None if found is None else _SEPARATOR.match(buf, found.start() + 1, end)


def header_end(buf: bytes, start: int) -> tuple[int, int] | None:
    """The span of the first blank line (``\\r?\\n\\r?\\n``) from ``start``, if any."""
    match = _HEADER_END.search(buf, start)
    if match is None:
        return None
    blank = match.start()
    if blank > start and buf[blank - 1] == 13:  # "\r\n\r?\n" starts at the CR
        blank -= 1
    return blank, match.end()


def has_calendar_part(buf: bytes, start: int, end: int) -> bool:
    """``CALENDAR_PART.search(buf, start, end)``, skipping the regex when no
    ``text/calendar`` (any case) is there at all, which is nearly always."""
    if b"text/calendar" not in buf[start:end].lower():
        return False
    return CALENDAR_PART.search(buf, start, end) is not None


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One mbox message: where it is, its envelope line and its header block."""

    offset: int  # byte offset of its ``From `` line
    end: int  # byte offset just after it (where the next message starts)
    envelope: bytes  # the ``From `` line, without line ending
    header: bytes  # the header block, without the blank line that ends it
    has_calendar_part: bool  # a ``Content-Type: text/calendar`` part header was seen


class MboxScanner:
    """Yields :class:`RawMessage` from ``start`` (which should be a separator or EOF).

    The buffer is only compacted when more data is read, never per message:
    slicing a 1 MiB buffer for every message cost more than parsing it.
    """

    def __init__(self, handle: BinaryIO, start: int = 0) -> None:
        self._fh = handle
        self._base = start  # file offset of _buf[0]
        self._buf = b""
        self._pos = 0  # current position in _buf
        self._eof = False
        if start:
            handle.seek(start)

    def _fill(self) -> bool:
        """Read one more chunk, dropping what lies before the current position."""
        if self._eof:
            return False
        chunk = self._fh.read(CHUNK)
        if self._pos:
            self._base += self._pos
            self._buf = self._buf[self._pos :]
            self._pos = 0
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        return True

    def _ready(self, match: re.Match[bytes] | None) -> bool:
        """A match is trustworthy once more data follows it (or the file ended)."""
        return match is not None and (match.end() < len(self._buf) or self._eof)

    def starts_with_message(self) -> bool:
        """Whether the data at the start offset is a separator (or the end of file)."""
        while len(self._buf) - self._pos < 4096 and self._fill():
            pass
        stripped = self._buf[self._pos : self._pos + 4096].lstrip(b"\r\n")
        return not stripped or _SEPARATOR.match(stripped) is not None

    def __iter__(self) -> Iterator[RawMessage]:
        self.starts_with_message()
        # Blank lines between the previous message and this separator belong to it.
        while self._buf[self._pos : self._pos + 1] in (b"\n", b"\r"):
            self._pos += 1
        while True:
            if self._pos >= len(self._buf) and not self._fill():
                return
            if _SEPARATOR.match(self._buf, self._pos) is None and not self._skip_to_separator():
                return
            yield self._read_one()

    def _skip_to_separator(self) -> bool:
        """Skip junk before the next separator (not an mbox, or garbage at the start)."""
        while True:
            match = search_separator(self._buf, self._pos + 1)
            if self._ready(match):
                assert match is not None
                self._pos = match.start()
                return True
            if self._eof:
                self._pos = len(self._buf)
                return False
            self._pos = max(self._pos, self._buf.rfind(b"\n", 0, len(self._buf) - 1024) + 1)
            self._fill()

    def _read_one(self) -> RawMessage:
        offset = self._base + self._pos
        line_end = self._buf.find(b"\n", self._pos)
        while line_end < 0 and self._fill():
            line_end = self._buf.find(b"\n", self._pos)
        if line_end < 0:
            line_end = len(self._buf)
        envelope = self._buf[self._pos : line_end].rstrip(b"\r")
        header, body_start = self._header_block(line_end + 1)
        calendar = False
        while True:
            nxt = search_separator(self._buf, body_start)
            if self._ready(nxt):
                assert nxt is not None
                end = nxt.start()
                break
            if self._eof:
                end = len(self._buf)
                break
            # A large body: look at what we have and keep only a tail for patterns
            # cut by the chunk boundary, so memory stays at about one chunk.
            keep = self._buf.rfind(b"\n", body_start, max(body_start, len(self._buf) - 256)) + 1
            if keep > body_start:
                calendar = calendar or has_calendar_part(self._buf, body_start, keep)
                self._pos = keep
            shift = self._pos
            self._fill()
            body_start = max(0, body_start - shift) if keep <= body_start else 0
        calendar = calendar or has_calendar_part(self._buf, body_start, end)
        self._pos = end
        return RawMessage(offset, self._base + end, envelope, header, calendar)

    def _header_block(self, start: int) -> tuple[bytes, int]:
        """The header block from ``start`` and the position where the body starts.

        ``start`` is relative to the buffer, which may be compacted while reading:
        the returned position is relative to the buffer as it is on return.
        """
        while True:
            buf = self._buf
            if buf.startswith(b"\n", start) or buf.startswith(b"\r\n", start):
                return b"", buf.index(b"\n", start) + 1  # empty header block
            match = header_end(buf, start)
            limit = match[0] + 2 if match is not None else len(buf)
            sep = search_separator(buf, start, limit)
            if sep is not None and (sep.end() < len(buf) or self._eof):
                # No body: the next message starts right after the headers.
                return buf[start : sep.start()].rstrip(b"\r\n"), sep.start()
            if match is not None:
                return buf[start : match[0]], match[1]
            if len(buf) - start > MAX_HEADER or self._eof:
                cut = min(len(buf), start + MAX_HEADER)
                return buf[start:cut].rstrip(b"\r\n"), cut
            shift = self._pos
            self._fill()
            start -= shift
