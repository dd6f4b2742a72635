"""Cleaning strings that came from other people before they reach the digest.

Names, departments, meeting titles and subjects are attacker-controlled: anyone
can email the manager or invite them to a meeting. HTML escaping is Jinja2's job
(autoescape is on); this module makes every value one printable line of bounded
length, and makes header values inert:

- control characters (C0, C1, DEL) and Unicode line/paragraph separators
  become spaces, so no value carries a CR/LF into a header or fakes a line in
  the text part;
- invisible characters are removed: zero-width spaces and joiners, word joiner,
  Arabic letter mark, Mongolian vowel separator, byte order mark, directional
  marks, embeddings, overrides and isolates, and every other format character
  (Unicode category Cf). They make a name look like another
  (``Al\u200bice``) or reverse what a line appears to say (U+202E), in the page,
  the text part, the Subject and ``explain``'s terminal output alike;
- ``=?`` is broken up in header values: Python 3.11.7 (this project's floor
  machine) decodes an RFC 2047 encoded word even in a plain ``str`` header value
  and then emits its decoded newline verbatim, which is CVE-2024-6923;
- long values are cut with an ellipsis, so a 10 KB display name cannot blow up
  the subject or the layout.
"""

from __future__ import annotations

import re
import unicodedata

# Lone surrogates too: no encoder accepts them (the .ics hold raised
# UnicodeEncodeError on one; found by tests/fuzz/test_fuzz_render.py).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_INVISIBLE = re.compile(
    "[\u200b-\u200f\u2060\u061c\u180e\ufeff\u202a-\u202e\u2066-\u2069]"
)
_SPACES = re.compile(r"\s+")
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251})$"
)

NAME_LIMIT = 80
LINE_LIMIT = 240
SUBJECT_LIMIT = 140


def printable_line(value: object, limit: int = LINE_LIMIT) -> str:
    """One printable line: unsafe characters become spaces, whitespace collapses,
    and the result is at most ``limit`` characters (ending in an ellipsis if cut)."""
    if value is None:
        return ""
    text = _SPACES.sub(" ", _UNSAFE.sub(" ", strip_invisible(str(value)))).strip()
    if len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "\u2026"
    return text


def strip_invisible(text: str) -> str:
    """``text`` without invisible and bidirectional-control characters: the list
    above, and every other Unicode *format* character (category Cf: soft hyphen,
    invisible operators, tag characters U+E0000-E007F...), which a reader cannot
    see either (the renderer property test found them)."""
    text = _INVISIBLE.sub("", text)
    if text.isascii():
        return text
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def terminal_text(text: str) -> str:
    """Multi-line text safe for a terminal: each line keeps its indentation, loses
    invisible characters, and has control characters (escape sequences) as spaces."""
    return "\n".join(
        _UNSAFE.sub(" ", strip_invisible(line)).rstrip() for line in text.splitlines()
    )


def header_text(value: object, limit: int = SUBJECT_LIMIT) -> str:
    """A value safe to put in a header: :func:`printable_line` plus no encoded-word opener."""
    text = printable_line(value, limit)
    while "=?" in text:
        text = text.replace("=?", "= ?")
    return text


def clean_address(value: str) -> str:
    """A plain ``local@domain`` address, or ValueError (it goes into headers and the envelope)."""
    address = value.strip()
    if not _ADDRESS.match(address) or ".." in address.split("@", 1)[1]:
        raise ValueError(f"not a usable email address: {printable_line(value, 80)!r}")
    return address


def address_domain(value: str) -> str:
    return clean_address(value).rsplit("@", 1)[1].lower()
