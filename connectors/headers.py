"""Mail header fields → :class:`MessageMeta`, the one mapping every mail connector shares.

Connectors differ in how they *get* headers (an mbox header block, a Gmail
``format=metadata`` payload) but not in what the headers *mean*: direction,
threading, list/automation markers and invitations are decided here once, so a
message reads the same whichever source delivered it and the rules engine
(:mod:`rules.noise`) sees one convention.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache

from peerpulse.connectors.addresses import (
    decode_words,
    normalize_message_id,
    parse_address_header,
    parse_message_ids,
    private_text,
    single_line,
)
from peerpulse.connectors.records import Direction, MailCommand, MessageMeta, command_text

__all__ = ["ADDRESS_HEADERS", "message_meta_from_headers"]

# Address headers whose repeated occurrences add up rather than the first one winning.
ADDRESS_HEADERS = frozenset({"to", "cc", "bcc", "delivered-to"})

# Subjects calendar systems put on iTIP mail (Google, Outlook, Apple; RFC 6047 carriers).
_INVITE_SUBJECT = re.compile(
    r"^(?:invitation|updated invitation(?: with note)?|invitation updated|accepted|declined|"
    r"tentatively accepted|tentative|canceled event|cancelled event|canceled|cancelled|"
    r"new time proposed|event canceled)(?: \([^)]*\))?:",
    re.I,
)
# An iTIP ``method=`` parameter (RFC 5546 §1.4) on the Content-Type, not inside a boundary.
_ITIP_METHOD = re.compile(r";\s*method\s*=", re.I)
_LIST_ID = re.compile(r"<([^<>]*)>")
_SENT = frozenset({Direction.SENT, Direction.SELF})


def message_meta_from_headers(
    headers: Mapping[str, str],
    *,
    source_id: str,
    timestamp: datetime,
    owner: frozenset[str],
    subjects: str = "kept",
    thread_id: str | None = None,
    calendar_part: bool = False,
    sent_label: bool = False,
) -> MessageMeta | MailCommand:
    """Map header fields (lowercased names → raw unfolded values) to a record.

    ``source_id``, ``timestamp`` and the ``thread_id`` hint come from the
    connector because each source has its own (Gmail ids and internalDate, the
    Message-ID or a hash of the header block and the Date/envelope). Without a
    hint the thread is the first References id, else In-Reply-To, else the
    message's own id. ``calendar_part`` says a ``text/calendar`` part was seen
    beyond the top-level header; ``sent_label`` that the provider filed the
    message as sent (Gmail's SENT label), which catches aliases the config does
    not list.

    Conventions (both connectors rely on them, and :mod:`rules.noise` reads them):

    * ``direction``: SENT when the sender is an owner address or ``sent_label``;
      SELF when sent and every To/Cc/Bcc recipient is an owner address;
      RECEIVED when an owner address is in To/Cc/Bcc/Delivered-To; else OTHER.
    * ``bcc`` is kept only on SENT/SELF mail (a Bcc seen on received mail is not ours).
    * ``auto_submitted``: the lowercased keyword; ``no`` (RFC 3834: written by a
      person) becomes None, so any value present means automated.
    * ``list_id``: the lowercased identifier inside ``<...>`` (RFC 2919), the
      cleaned lowercased value when there are no brackets.
    * ``in_reply_to``: the first normalized id of the header.
    * ``is_invitation``: a ``text/calendar`` content type, an iTIP ``method=``
      parameter, a calendar part, or a calendar system's subject
      (``Invitation:``, ``Accepted:``, ``Canceled event:`` …).
    * ``subject`` goes through :func:`connectors.addresses.private_text` (``subjects`` mode).
    * Mail from the owner to the owner only (SELF) whose subject starts with
      ``peerpulse:`` is a digest action link the owner used: a
      :class:`MailCommand`, recognised before the subject is hashed or dropped,
      never a message (so never an interaction).
    """
    get = headers.get
    sender_email, sender_name, to, cc, bcc, direction = _addressing(
        get("from"), get("sender"), get("to"), get("cc"), get("bcc"), get("delivered-to"),
        owner, sent_label,
    )
    message_id = normalize_message_id(get("message-id"))
    references = parse_message_ids(get("references"))
    in_reply_to = normalize_message_id(get("in-reply-to"))
    subject, stored_subject = _subject(get("subject"), subjects)
    if direction is Direction.SELF and (command := command_text(subject)) is not None:
        return MailCommand(source_id, timestamp, command, thread_id or message_id)
    return MessageMeta(
        source_id=source_id,
        message_id=message_id,
        thread_id=thread_id or (references[0] if references else in_reply_to or message_id),
        timestamp=timestamp,
        sender=sender_email,
        to=to,
        cc=cc,
        bcc=bcc,
        direction=direction,
        in_reply_to=in_reply_to,
        references=references,
        list_id=list_id(get("list-id")),
        list_unsubscribe=bool(get("list-unsubscribe", "").strip()),
        auto_submitted=auto_submitted(get("auto-submitted")),
        precedence=_lowered(get("precedence")),
        is_invitation=calendar_part or is_invitation(get("content-type"), subject),
        subject=stored_subject,
        sender_name=sender_name,
    )


@lru_cache(maxsize=16384)
def _addressing(
    from_: str | None,
    sender_field: str | None,
    to_field: str | None,
    cc_field: str | None,
    bcc_field: str | None,
    delivered_to: str | None,
    owner: frozenset[str],
    sent_label: bool,
) -> tuple[str | None, str, tuple[str, ...], tuple[str, ...], tuple[str, ...], Direction]:
    """Sender (address, name), To, Cc, kept Bcc and direction of the address fields.

    Cached: mail between the same people repeats the same fields, thread after
    thread, and the answer depends on nothing else.
    """
    sender_list = parse_address_header(from_)
    if not sender_list.mailboxes and sender_field:
        sender_list = parse_address_header(sender_field)
    sender = sender_list.mailboxes[0] if sender_list.mailboxes else None
    sender_email = sender.email if sender else None
    to = parse_address_header(to_field).emails
    cc = parse_address_header(cc_field).emails
    bcc = parse_address_header(bcc_field).emails
    direction = _direction(sender_email, to, cc, bcc, delivered_to, owner, sent_label)
    if direction not in _SENT:
        bcc = ()
    return sender_email, sender.name if sender else "", to, cc, bcc, direction


@lru_cache(maxsize=16384)
def _subject(raw: str | None, mode: str) -> tuple[str | None, str | None]:
    """The decoded single-line subject (for commands and invitations) and what is stored."""
    subject = single_line(decode_words(raw)) if raw is not None else None
    return subject, private_text(subject, mode)


def list_id(value: str | None) -> str | None:
    """RFC 2919 ``"Name" <id.example.org>`` → ``id.example.org``; no brackets → the value."""
    if not value:
        return None
    match = _LIST_ID.search(value)
    inner = match.group(1) if match and match.group(1).strip() else decode_words(value)
    return single_line(inner).lower() or None


def auto_submitted(value: str | None) -> str | None:
    """The lowercased Auto-Submitted value; None when absent or ``no`` (a person wrote it)."""
    text = _lowered(value)
    if text is None or text.partition(";")[0].strip() == "no":
        return None
    return text


def is_invitation(content_type: str | None, subject: str | None) -> bool:
    """Whether the top-level Content-Type or the subject betrays an iTIP message."""
    if content_type:
        lowered = content_type.lower()
        if "text/calendar" in lowered or ("method" in lowered and _ITIP_METHOD.search(lowered)):
            return True
    return bool(subject and _INVITE_SUBJECT.match(subject))


def _lowered(value: str | None) -> str | None:
    return (single_line(value).lower() or None) if value else None


def _direction(
    sender: str | None,
    to: tuple[str, ...],
    cc: tuple[str, ...],
    bcc: tuple[str, ...],
    delivered_to: str | None,
    owner: frozenset[str],
    sent_label: bool,
) -> Direction:
    if sent_label or (sender is not None and sender in owner):
        recipients = to + cc + bcc
        if recipients and all(r in owner for r in recipients):
            return Direction.SELF
        return Direction.SENT
    if any(r in owner for r in to) or any(r in owner for r in cc) or any(
        r in owner for r in bcc
    ):
        return Direction.RECEIVED
    if delivered_to and any(r in owner for r in parse_address_header(delivered_to).emails):
        return Direction.RECEIVED
    return Direction.OTHER
