"""Normalizing header values the same way in every connector.

Addresses are the join key between calendars, mail and the people directory,
so ``Alice@Example.COM``, ``mailto:alice@example.com`` and
``"Smith, Alice" <alice@example.com>`` must all become ``alice@example.com``.
This runs on millions of headers: simple values take a hand-written fast path,
only values with quotes, comments, groups or encoded words reach the slower
stdlib parsers, and results are cached (mail headers repeat a lot). Nothing
here raises on bad input: malformed addresses are counted and dropped.

It also holds the two other normalizations every connector shares: Message-IDs
and the privacy treatment of subjects/titles (``off`` / ``hashed`` / ``kept``).
"""

from __future__ import annotations

import hashlib
import re
from email.header import decode_header, make_header
from email.policy import default as _default_policy
from email.utils import getaddresses
from functools import lru_cache
from typing import NamedTuple

from peerpulse.connectors.records import HASHED, HASHED_REPLY, split_reply_prefix

__all__ = [
    "AddressList",
    "Mailbox",
    "single_line",
    "decode_words",
    "normalize_address",
    "normalize_message_id",
    "parse_address_header",
    "parse_message_ids",
    "private_text",
]


class Mailbox(NamedTuple):
    email: str  # lowercase addr-spec
    name: str = ""  # decoded, single-line display name


class AddressList(NamedTuple):
    mailboxes: tuple[Mailbox, ...]
    malformed: int  # entries that were not a usable address (counted, never raised)

    @property
    def emails(self) -> tuple[str, ...]:
        return tuple(m.email for m in self.mailboxes)


EMPTY = AddressList((), 0)

# A usable addr-spec: one "@", no whitespace, no specials that betray a mis-parse,
# no control characters or lone surrogates (SQLite refuses to store those).
_ADDR_CHAR = r"[^\s@<>(),;:\"\\\[\]\x00-\x1f\x7f-\x9f\ud800-\udfff]"
_VALID = re.compile(_ADDR_CHAR + "+@" + _ADDR_CHAR + "+")
# Values without these characters are split by hand (quoted names, comments,
# groups and encoded words need a real parser).
_NEEDS_PARSER = re.compile(r"[\"()\\:;]|=\?")
# C0 and C1 controls (CR/LF, NUL, the 8-bit CSI terminal escape) and Unicode line breaks.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Lone surrogates (JSON can carry "\udcff") cannot be encoded, stored or hashed.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Above this length the stdlib parsers turn quadratic (comments, backslashes):
# a 20,000-character value took seconds. Longer values are split by hand.
_PARSER_LIMIT = 16 * 1024
_SPACES = re.compile(r"\s{2,}")
_MSGID_CHARS = r"[^<>\s\x00-\x1f\x7f-\x9f\ud800-\udfff]+"
_MSGID = re.compile(f"<({_MSGID_CHARS})>")
_BARE_MSGID = re.compile(_MSGID_CHARS)


def single_line(text: str) -> str:
    """One line of text: control characters (CR/LF included) become spaces, runs collapse.

    Lone surrogates become U+FFFD, so the result can always be encoded and stored.

    Decoded encoded words may carry ``=0A`` (header injection); nothing that
    leaves here can split a header or a log line.
    """
    # Fast path: every character _CONTROL or _SURROGATE matches is non-printable.
    if text.isprintable() and "  " not in text:
        return text.strip()
    if _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    if "  " in text:
        text = _SPACES.sub(" ", text)
    return text.strip()


def decode_words(text: str) -> str:
    """Decode RFC 2047 encoded words (``=?utf-8?q?...?=``); leave plain text alone."""
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:  # unknown charset, broken base64: keep the raw text
        return text


def _valid(addr: str) -> str | None:
    addr = addr.strip().strip("<>").strip()
    if addr[:7].lower() == "mailto:":
        addr = addr[7:].strip().strip("<>")
    addr = addr.lower()
    if _VALID.fullmatch(addr):
        return addr
    return None


def normalize_address(value: str | None) -> str | None:
    """One address (``mailto:`` URIs and angle brackets allowed) → lowercase, or None."""
    if not value:
        return None
    return _valid(value)


def _fast_split(value: str) -> AddressList:
    mailboxes: list[Mailbox] = []
    bad = 0
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        if "<" in part:
            name, _, rest = part.partition("<")
            addr = _valid(rest.partition(">")[0])
            name = single_line(name)
        else:
            addr, name = _valid(part), ""
        if addr is None:
            bad += 1
        else:
            mailboxes.append(Mailbox(addr, name))
    return AddressList(tuple(mailboxes), bad)


def _registry_parse(value: str) -> AddressList:
    """The stdlib's RFC 5322 parser: groups, comments, quoted names, encoded words."""
    try:
        header = _default_policy.header_factory("to", value)
        found = header.addresses
    except Exception:
        # headerregistry refuses display names that decode to CR/LF (header
        # injection attempts); the simpler parser reads them, single_line defuses them.
        return _quoted_parse(value)
    mailboxes: list[Mailbox] = []
    bad = 0
    for address in found:
        addr = _valid(address.addr_spec) if address.addr_spec else None
        if addr is None:
            bad += 1
        else:
            mailboxes.append(Mailbox(addr, single_line(address.display_name or "")))
    return AddressList(tuple(mailboxes), bad)


def _quoted_parse(value: str) -> AddressList:
    """Quoted names and encoded words without comments/groups: getaddresses is enough."""
    try:
        found = getaddresses([value])
    except Exception:  # deeply nested comments: RecursionError in email._parseaddr
        return AddressList((), 1)
    mailboxes: list[Mailbox] = []
    bad = 0
    for name, raw in found:
        addr = _valid(raw) if raw else None
        if addr is None:
            bad += 1
        else:
            mailboxes.append(Mailbox(addr, single_line(decode_words(name))))
    return AddressList(tuple(mailboxes), bad)


@lru_cache(maxsize=65536)
def parse_address_header(value: str | None) -> AddressList:
    """All mailboxes of an address header (From/To/Cc/Bcc/Reply-To/Delivered-To).

    Group syntax (``Team: a@x, b@x;``, ``undisclosed-recipients:;``) yields its
    members; entries without a usable addr-spec are counted in ``malformed``.
    """
    if not value or not value.strip():
        return EMPTY
    if len(value) > _PARSER_LIMIT or not _NEEDS_PARSER.search(value):
        return _fast_split(value)
    if "(" in value or "\\" in value or ":" in value or ";" in value:
        # Comments and groups: getaddresses mis-parses crafted ones (CVE-2023-27043).
        return _registry_parse(value)
    return _quoted_parse(value)


def normalize_message_id(value: str | None) -> str | None:
    """The first ``<id>`` of a header, without brackets; bare ids are accepted."""
    if not value:
        return None
    match = _MSGID.search(value)
    if match:
        return match.group(1)
    bare = value.strip()
    if bare and len(bare) < 1000 and _BARE_MSGID.fullmatch(bare):
        return bare
    return None


def parse_message_ids(value: str | None) -> tuple[str, ...]:
    """Every ``<id>`` of a References / In-Reply-To header, in order."""
    if not value:
        return ()
    found = tuple(_MSGID.findall(value))
    if found:
        return found
    single = normalize_message_id(value)
    return (single,) if single else ()


def private_text(text: str | None, mode: str) -> str | None:
    """A subject or event title as the privacy setting allows it to be stored.

    ``off`` → None; ``hashed`` → ``sha256:`` (``sha256:re:`` after a reply prefix)
    + 16 hex digits of the casefolded single-line text without its reply prefixes
    (equal subjects stay comparable without being readable);
    ``kept`` → the single-line text. Empty text is None in every mode.
    """
    if text is None or mode == "off":
        return None
    line = single_line(text)
    if not line:
        return None
    if mode == "hashed":
        # Hash the subject without its Re:/AW:/SV: prefixes and mark the prefix, so a
        # reply still matches its thread's first mail in exports that lost their
        # reply headers (the subject itself stays unreadable).
        had_prefix, bare = split_reply_prefix(line)
        digest = hashlib.sha256(bare.encode("utf-8")).hexdigest()[:16]
        return (HASHED_REPLY if had_prefix else HASHED) + digest
    return line
