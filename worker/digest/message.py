"""The digest as an RFC 5322 message, and back from stored bytes.

Headers are built only from strings we cleaned (sanitize.py) and from
``email.headerregistry.Address`` objects, never copied from inbound mail
(CVE-2024-6923). Bodies use quoted-printable and attachments base64, so the
serialized message is plain ASCII: the ledger stores it as text and every retry
sends exactly those bytes (``StoredMessage`` serializes back to them verbatim).
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from peerpulse.worker.digest.ics_hold import FILENAME as HOLD_FILENAME
from peerpulse.worker.digest.render import RenderedDigest
from peerpulse.worker.digest.sanitize import address_domain, clean_address, header_text
from peerpulse.worker.schedule import parse_period

POLICY = email.policy.SMTP
SENDER_NAME = "peerpulse"
PERIOD_HEADER = "X-Peerpulse-Period"
ACCOUNT_HEADER = "X-Peerpulse-Account"
_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# A header line plus its folded continuation lines (long Message-IDs are folded).
_HEADER = {
    name: re.compile(rb"(?mi)^" + name.encode() + rb":[^\r\n]*(?:\r\n[ \t][^\r\n]*)*")
    for name in ("Message-ID", "Date")
}


def new_message_id(period: str, owner: str) -> str:
    """A fresh ``<...@owner-domain>`` id, chosen before anything is sent.

    No idstring: a short id stays on one header line for common domains (folding
    is legal, but a few parsers keep the fold's space in the value).
    """
    parse_period(period)
    return make_msgid(domain=address_domain(owner))


def build_message(
    rendered: RenderedDigest,
    *,
    account: str,
    message_id: str,
    date: datetime,
    hold: bytes | None = None,
) -> EmailMessage:
    """multipart/alternative (text, HTML), inside multipart/mixed when a hold is attached."""
    if not _ACCOUNT.match(account):
        raise ValueError(f"account name not usable in a header: {account!r}")
    parse_period(rendered.period)
    message = EmailMessage(policy=POLICY)
    message["From"] = Address(display_name=SENDER_NAME, addr_spec=clean_address(rendered.sender))
    message["To"] = Address(addr_spec=clean_address(rendered.recipient))
    message["Subject"] = header_text(rendered.subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = _checked_message_id(message_id)
    # RFC 3834: vacation responders and our own sync must treat this as automated.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"  # Exchange/Outlook's equivalent
    message[PERIOD_HEADER] = rendered.period
    message[ACCOUNT_HEADER] = account
    message.set_content(rendered.text, cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    if hold is not None:
        message.add_attachment(
            hold, maintype="text", subtype="calendar", filename=HOLD_FILENAME,
            params={"method": "PUBLISH"},
        )
    return message


def message_bytes(message: EmailMessage) -> bytes:
    """The exact bytes that go on the wire and into the ledger (ASCII, CRLF)."""
    raw = message.as_bytes(policy=POLICY)
    raw.decode("ascii")  # UnicodeDecodeError here is a bug in build_message
    return raw


class StoredMessage(EmailMessage):
    """A message read back from the ledger that serializes to exactly the stored bytes.

    Re-generating a parsed message is usually byte-identical but not promised by
    the email package; a retry must send what was rendered, so we keep the bytes.
    """

    _stored: bytes | None = None

    def as_bytes(self, unixfrom: bool = False, policy: Any = None) -> bytes:
        if self._stored is not None and not unixfrom and policy in (None, self.policy):
            return self._stored
        return super().as_bytes(unixfrom, policy)

    def __bytes__(self) -> bytes:
        return self.as_bytes()


def parse_stored(raw: bytes) -> StoredMessage:
    message = email.message_from_bytes(raw, _class=StoredMessage, policy=POLICY)
    assert isinstance(message, StoredMessage)
    message._stored = raw
    return message


def with_new_identity(raw: bytes, *, message_id: str, date: datetime) -> bytes:
    """The same digest bytes with a new Message-ID and Date (a deliberate resend)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    new_id = _checked_message_id(message_id).encode("ascii")
    head, ids = _HEADER["Message-ID"].subn(b"Message-ID: " + new_id, head)
    head, dates = _HEADER["Date"].subn(b"Date: " + format_datetime(date).encode("ascii"), head)
    if ids != 1 or dates != 1 or not sep:
        raise ValueError("stored digest has no single Message-ID/Date header")
    return head + sep + body


def _checked_message_id(value: str) -> str:
    if not re.fullmatch(r"<[!-;=?-~]{1,200}@[A-Za-z0-9.-]{1,253}>", value):
        raise ValueError(f"not a usable Message-ID: {value[:80]!r}")
    return value
