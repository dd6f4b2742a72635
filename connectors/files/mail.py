"""One message's header block → :class:`MessageMeta`, and the mail inputs that yield them.

Only header blocks are parsed; bodies are scanned for a ``text/calendar`` part
header (to recognize invitations) and dropped. Header fields are split with
one regular expression instead of :class:`email.parser.BytesHeaderParser`, and
only the fields records use are decoded, with fast paths for the common case:
a header block that is valid UTF-8 is decoded once (not field by field) and a
canonical RFC 5322 date is read by one regex (anything else goes to
``parsedate_tz``); address fields and subjects go through cached mappings
(:mod:`connectors.headers`, :mod:`connectors.addresses`). ``plain=True`` turns
the fast paths off: the tests compare both on every corpus message, so they
cannot drift. ``make bench-mail`` compares the whole path with the standard
library (issue 14, item 2).
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_tz
from pathlib import Path
from typing import TypeAlias

from peerpulse.connectors.addresses import decode_words, normalize_message_id
from peerpulse.connectors.files.mbox import MboxScanner, RawMessage, has_calendar_part
from peerpulse.connectors.headers import ADDRESS_HEADERS, message_meta_from_headers
from peerpulse.connectors.records import MailCommand, MessageMeta, SkippedInput

_WANTED = (
    "message-id", "date", "from", "to", "cc", "bcc", "subject", "in-reply-to", "references",
    "list-id", "list-unsubscribe", "auto-submitted", "precedence", "content-type", "x-gm-thrid",
    "delivered-to", "sender", "x-gmail-labels",
)
# Only the fields we keep, with their folded continuation lines; the regex engine
# skips Received/DKIM lines far faster than a Python loop over every field.
_FIELD = re.compile(
    rb"^(" + b"|".join(re.escape(n.encode()) for n in _WANTED) + rb")[ \t]*:[ \t]*"
    rb"([^\n]*(?:\n[ \t][^\n]*)*)",
    re.M | re.I,
)
# The same on a header block decoded at once (re.A: ASCII-only case folding, as on bytes).
_FIELD_TEXT = re.compile(_FIELD.pattern.decode("ascii"), re.M | re.I | re.A)
_ENVELOPE_DATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\w* +(\w{3}) +(\d{1,2}) +(\d{1,2}):(\d\d):(\d\d)"
    r"(?: +([+-]\d{4}))?(?: +[A-Z]{3,5})? +(\d{4})"
)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
# RFC 5322 §3.3's date-time without obsolete forms; after the zone, a space and anything
# (``(PDT)``): parsedate_tz reads only the first five words.
_RFC5322_DATE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?([0-9]{1,2}) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([0-9]{4}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})(?: [^\n]*)?"
)
_ZONES: dict[int, timezone] = {}
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_THREAD_DIGITS = re.compile(r"[0-9]{1,20}")
# Placeholder envelope dates: mboxrd@z's epoch and git format-patch's magic date.
_PLACEHOLDER_DATES = {datetime(1970, 1, 1, tzinfo=UTC), datetime(2001, 9, 17, tzinfo=UTC)}


class MalformedMessage(ValueError):
    """This message cannot become a record (no headers, no usable date)."""


@dataclass(frozen=True, slots=True)
class MailOwner:
    """What mapping needs to know about the account: its addresses and privacy."""

    addresses: frozenset[str]
    subjects: str = "kept"


def split_fields(header: bytes) -> dict[str, str]:
    """The first occurrence of each wanted field, unfolded and decoded to text.

    Fast path: a block that is valid UTF-8 as a whole (nearly all mail) is decoded
    once and split with ``findall``, instead of one match object and one decode per
    field; every field of such a block decodes to the same text either way (fields
    split at ASCII bytes). Other blocks take :func:`split_fields_plain`, which
    falls back to Latin-1 field by field.
    """
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError:
        return split_fields_plain(header)
    fields: dict[str, str] = {}
    for name, value in _FIELD_TEXT.findall(text):
        key = name.lower()
        if "\n" in value or "\r" in value:
            value = value.replace("\r", "").replace("\n", "")
        value = value.strip()
        if key in fields:
            if key in ADDRESS_HEADERS:  # duplicated address headers add up
                fields[key] += ", " + value
            continue
        fields[key] = value
    return fields


def split_fields_plain(header: bytes) -> dict[str, str]:
    """:func:`split_fields` field by field: each one UTF-8, else Latin-1 (the reference)."""
    fields: dict[str, str] = {}
    for match in _FIELD.finditer(header):
        key = match.group(1).decode("ascii").lower()
        if key in fields:
            if key in ADDRESS_HEADERS:  # duplicated address headers add up
                fields[key] += ", " + _text(match.group(2))
            continue
        fields[key] = _text(match.group(2))
    return fields


def _text(raw: bytes) -> str:
    raw = raw.replace(b"\r", b"").replace(b"\n", b"")
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


def parse_date(value: str | None) -> datetime | None:
    """An RFC 5322 date → aware UTC, or None when absent or garbled.

    The canonical form (``Mon, 26 Oct 2026 09:17:00 +0100``, optionally followed by
    a comment) is read by one regular expression; anything else goes through
    :func:`email.utils.parsedate_tz` (:func:`parse_date_plain`), which gives the
    same moment for the canonical form (tested on every corpus date).
    """
    if not value:
        return None
    match = _RFC5322_DATE.fullmatch(value)
    if match is None:
        return parse_date_plain(value)
    day, month, year, hour, minute, second, sign, tz_hours, tz_minutes = match.groups()
    offset = int(tz_hours) * 3600 + int(tz_minutes) * 60
    try:
        zone = _ZONES.get(offset if sign == "+" else -offset)
        if zone is None:
            zone = _zone(offset if sign == "+" else -offset)
        moment = datetime(int(year), _MONTHS[month.lower()], int(day), int(hour), int(minute),
                          int(second), tzinfo=zone)
    except (ValueError, OverflowError):
        return None
    if not 1971 <= moment.year <= 2200:
        return None
    return moment.astimezone(UTC)


def _zone(offset: int) -> timezone:
    zone = timezone(timedelta(seconds=offset))  # ValueError beyond ±24 h, as in the plain path
    if len(_ZONES) < 4096:
        _ZONES[offset] = zone
    return zone


def parse_date_plain(value: str | None) -> datetime | None:
    """:func:`parse_date` by :func:`email.utils.parsedate_tz` alone (every form it reads)."""
    if not value:
        return None
    try:
        parts = parsedate_tz(value)
        if parts is None:
            return None
        offset = parts[9] or 0
        moment = datetime(*parts[:6], tzinfo=timezone(timedelta(seconds=offset)))
    except (ValueError, OverflowError, TypeError):
        return None
    if not 1971 <= moment.year <= 2200:
        return None
    return moment.astimezone(UTC)


def envelope_date(envelope: bytes) -> datetime | None:
    """The asctime date of an mbox ``From `` line, if it is a real one."""
    match = _ENVELOPE_DATE.search(envelope.decode("latin-1"))
    if match is None:
        return None
    month = _MONTHS.get(match.group(1).lower())
    if month is None:
        return None
    try:
        offset = match.group(6)
        tz = UTC
        if offset:
            sign = -1 if offset[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
        moment = datetime(int(match.group(7)), month, int(match.group(2)), int(match.group(3)),
                          int(match.group(4)), int(match.group(5)), tzinfo=tz).astimezone(UTC)
    except ValueError:
        return None
    if moment.replace(hour=0, minute=0, second=0) in _PLACEHOLDER_DATES or moment.year < 1971:
        return None
    return moment


def message_meta(
    header: bytes,
    owner: MailOwner,
    *,
    envelope: bytes = b"",
    calendar_part: bool = False,
    plain: bool = False,
) -> MessageMeta | MailCommand:
    """Map one header block; raises :class:`MalformedMessage` when it cannot be a record.

    The meaning of the fields is :func:`connectors.headers.message_meta_from_headers`'s;
    this only supplies what an mbox knows: the time (Date, else the envelope), an id
    (Message-ID, else a hash of the block), Takeout's ``X-GM-THRID`` thread and
    its ``X-Gmail-Labels`` Sent label (mail sent from an alias the config omits).
    ``plain`` decodes without the fast paths (the reference the tests compare with).
    """
    fields = split_fields_plain(header) if plain else split_fields(header)
    if not fields.keys() & {"from", "date", "message-id", "to"}:
        raise MalformedMessage("no RFC 5322 header fields (not a mail message)")
    date = fields.get("date")
    timestamp = (parse_date_plain(date) if plain else parse_date(date)) or envelope_date(envelope)
    if timestamp is None:
        raise MalformedMessage(f"no usable Date header ({fields.get('date', 'missing')!r})")
    return message_meta_from_headers(
        fields,
        source_id=normalize_message_id(fields.get("message-id"))
        or "sha256:" + hashlib.sha256(header).hexdigest()[:32],
        timestamp=timestamp,
        owner=owner.addresses,
        subjects=owner.subjects,
        thread_id=_gmail_thread(fields.get("x-gm-thrid")),
        calendar_part=calendar_part,
        sent_label=gmail_sent_label(fields.get("x-gmail-labels")),
    )


def gmail_sent_label(labels: str | None) -> bool:
    """Whether Takeout's ``X-Gmail-Labels`` (``Archived,Sent,Opened``) holds the Sent label.

    Labels are comma-separated, a label holding a comma is double-quoted, and
    non-ASCII label lists come as RFC 2047 encoded words; only the exact system
    label counts (a user label ``Sent/Old`` is not Gmail's SENT).
    """
    if not labels:
        return False
    text = decode_words(labels)
    if "Sent" not in text:
        return False
    try:
        row = next(csv.reader([text.replace("\n", " ")], skipinitialspace=True), [])
    except csv.Error:  # a stray quote or NUL: plain commas then
        row = text.split(",")
    return any(label.strip() == "Sent" for label in row)


def _gmail_thread(gm_thrid: str | None) -> str | None:
    """Takeout's X-GM-THRID is the decimal form of the Gmail API's hex threadId."""
    # ASCII digits only ("²".isdigit() is true, int("²") fails), and at most the
    # 20 digits of a 64-bit id (int() refuses strings beyond 4,300 digits).
    value = (gm_thrid or "").strip()
    if _THREAD_DIGITS.fullmatch(value):
        return format(int(value), "x")
    return None


# -- inputs ------------------------------------------------------------------------


MailItem: TypeAlias = MessageMeta | MailCommand | SkippedInput


def mbox_items(
    path: Path, label: str, owner: MailOwner, start: int = 0
) -> Iterator[tuple[MailItem, int]]:
    """Each message of an mbox from byte ``start``, with the offset just after it."""
    opener = _open_gz if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for number, raw in enumerate(MboxScanner(handle, start), 1):
            yield _map_raw(raw, label, number, owner), raw.end


def mbox_starts_at(path: Path, offset: int) -> bool:
    """Whether a new message starts at ``offset`` (so reading on from there is sound)."""
    opener = _open_gz if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        return MboxScanner(handle, offset).starts_with_message()


def _open_gz(path: Path, mode: str):
    import gzip

    return gzip.open(path, mode)


def _map_raw(raw: RawMessage, label: str, number: int, owner: MailOwner) -> MailItem:
    try:
        return message_meta(
            raw.header, owner, envelope=raw.envelope, calendar_part=raw.has_calendar_part
        )
    except MalformedMessage as exc:
        return SkippedInput(f"{label}: message at byte {raw.offset}", str(exc))
    except Exception as exc:  # a parser bug on hostile input must not stop the mailbox
        return SkippedInput(f"{label}: message at byte {raw.offset}", f"unreadable: {exc!r}")


def message_file_item(path: Path, label: str, owner: MailOwner) -> MailItem:
    """One ``.eml`` / Maildir file → a record or a skip (its body is scanned, never kept)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return SkippedInput(label, f"cannot read: {exc.strerror or exc}")
    envelope, header, calendar_part = message_file_parts(data)
    try:
        return message_meta(header, owner, envelope=envelope, calendar_part=calendar_part)
    except MalformedMessage as exc:
        return SkippedInput(label, str(exc))
    except Exception as exc:
        return SkippedInput(label, f"unreadable: {exc!r}")


def message_file_parts(data: bytes) -> tuple[bytes, bytes, bool]:
    """A whole message file → its mbox envelope (if any), header block, calendar part seen."""
    envelope = b""
    if data.startswith(b"From ") and b"\n" in data:  # some .eml files keep an mbox envelope
        envelope, _, data = data.partition(b"\n")
    match = _BLANK_LINE.search(data)
    header, body_start = (data[: match.start()], match.end()) if match else (data, len(data))
    if data[:1] in (b"\n", b"\r"):
        header, body_start = b"", 0
    return envelope, header, has_calendar_part(data, body_start, len(data))
