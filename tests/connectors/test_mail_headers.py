"""Mail header blocks → MessageMeta: the tricky shapes real mailboxes contain."""

from __future__ import annotations

import hashlib
import io
import random
from datetime import UTC, datetime

import pytest
from peerpulse.connectors.files import mbox as mbox_module
from peerpulse.connectors.files.mail import MailOwner, MalformedMessage, message_meta
from peerpulse.connectors.files.mbox import MboxScanner
from peerpulse.connectors.records import Direction

OWNER = MailOwner(frozenset({"owner@example.com", "owner.alias@example.com"}))
BASE = "Message-ID: <m1@example.com>\nDate: Tue, 05 Mar 2024 10:00:00 +0100\n"


def meta(headers: str, owner: MailOwner = OWNER, **kwargs):  # type: ignore[no-untyped-def]
    return message_meta(headers.encode("utf-8"), owner, **kwargs)


@pytest.mark.parametrize(
    ("name", "headers", "expected"),
    [
        (
            "received mail",
            BASE + "From: Bob <bob@example.com>\nTo: owner@example.com\n",
            {
                "direction": Direction.RECEIVED,
                "sender": "bob@example.com",
                "sender_name": "Bob",
                "timestamp": datetime(2024, 3, 5, 9, tzinfo=UTC),
                "source_id": "m1@example.com",
            },
        ),
        (
            "rfc 2047 sender name",
            BASE
            + "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <JM@Example.de>\nTo: owner@example.com\n",
            {"sender": "jm@example.de", "sender_name": "Jürgen Müller"},
        ),
        (
            "group syntax recipients",
            BASE + "From: owner@example.com\nTo: Peers: a@example.com, b@example.com;\n",
            {"to": ("a@example.com", "b@example.com"), "direction": Direction.SENT},
        ),
        (
            "alias sender is the owner",
            BASE + "From: Owner <Owner.Alias@example.com>\nTo: carol@example.com\n",
            {"direction": Direction.SENT},
        ),
        (
            "bcc kept on sent mail",
            BASE + "From: owner@example.com\nTo: a@example.com\nBcc: secret@example.com\n",
            {"bcc": ("secret@example.com",)},
        ),
        (
            "bcc dropped on received mail",
            BASE + "From: x@example.com\nTo: owner@example.com\nBcc: other@example.com\n",
            {"bcc": ()},
        ),
        (
            "note to self",
            BASE + "From: owner@example.com\nTo: owner.alias@example.com\n",
            {"direction": Direction.SELF},
        ),
        (
            "delivered-to makes it received",
            BASE + "From: list@example.org\nTo: list@example.org\n"
            "Delivered-To: owner@example.com\n",
            {"direction": Direction.RECEIVED},
        ),
        (
            "neither owner nor recipient",
            BASE + "From: a@example.com\nTo: b@example.com\n",
            {"direction": Direction.OTHER},
        ),
        (
            "mailing list",
            BASE + "From: a@example.com\nTo: list@example.org\nList-Id: Dev <dev.example.org>\n"
            "List-Unsubscribe: <mailto:unsub@example.org>\nPrecedence: LIST\n",
            {"list_id": "dev.example.org", "list_unsubscribe": True, "precedence": "list"},
        ),
        (
            "auto-submitted",
            BASE + "From: a@example.com\nAuto-Submitted: Auto-Replied\n",
            {"auto_submitted": "auto-replied"},
        ),
        (
            "calendar content type",
            BASE + "From: a@example.com\nContent-Type: text/calendar; method=REQUEST\n",
            {"is_invitation": True},
        ),
        (
            "invitation subject",
            BASE + "From: a@example.com\nSubject: Invitation: 1:1 @ Tue\n",
            {"is_invitation": True},
        ),
        (
            "accepted subject",
            BASE + "From: a@example.com\nSubject: Accepted: Sync\n",
            {"is_invitation": True},
        ),
        (
            "plain subject",
            BASE + "From: a@example.com\nSubject: Re: invitation list\n",
            {"is_invitation": False, "subject": "Re: invitation list"},
        ),
        (
            "header injection in encoded subject",
            BASE + "From: a@example.com\nSubject: =?UTF-8?Q?hi=0D=0ABcc:_victim@example.com?=\n",
            {"subject": "hi Bcc: victim@example.com"},
        ),
        (
            "folded subject",
            BASE + "From: a@example.com\nSubject: a long\n  subject\n",
            {"subject": "a long subject"},
        ),
        (
            "threading from references",
            BASE + "From: a@example.com\nIn-Reply-To: <p@x>\nReferences: <root@x> <p@x>\n",
            {"thread_id": "root@x", "in_reply_to": "p@x", "references": ("root@x", "p@x")},
        ),
        (
            "gmail thread id",
            BASE + "X-GM-THRID: 1628424719502045299\nFrom: a@example.com\n",
            {"thread_id": format(1628424719502045299, "x")},
        ),
        (
            "own id is the thread root",
            BASE + "From: a@example.com\n",
            {"thread_id": "m1@example.com"},
        ),
        (
            "crlf header block",
            (BASE + "From: a@example.com\nTo: b@example.com\n").replace("\n", "\r\n"),
            {"to": ("b@example.com",), "sender": "a@example.com"},
        ),
    ],
)
def test_header_fields(name: str, headers: str, expected: dict) -> None:
    record = meta(headers)
    for field, value in expected.items():
        assert getattr(record, field) == value, (name, field)


def test_missing_message_id_hashes_the_header_block_stably() -> None:
    headers = "Date: Tue, 05 Mar 2024 10:00:00 +0000\nFrom: a@example.com\n"
    first, second = meta(headers), meta(headers)
    assert first.message_id is None
    digest = hashlib.sha256(headers.encode()).hexdigest()[:32]
    assert first.source_id == second.source_id == "sha256:" + digest


def test_missing_date_falls_back_to_the_mbox_envelope() -> None:
    record = meta(
        "From: a@example.com\nMessage-ID: <x@y>\n",
        envelope=b"From a@example.com Tue Mar 19 09:13:51 +0000 2019",
    )
    assert record.timestamp == datetime(2019, 3, 19, 9, 13, 51, tzinfo=UTC)


@pytest.mark.parametrize(
    "envelope",
    [b"", b"From mboxrd@z Thu Jan  1 00:00:00 1970", b"From nobody Mon Sep 17 00:00:00 2001"],
)
def test_missing_date_without_a_real_envelope_is_malformed(envelope: bytes) -> None:
    with pytest.raises(MalformedMessage, match="Date"):
        meta("From: a@example.com\nDate: yesterday-ish\n", envelope=envelope)


def test_a_block_without_header_fields_is_malformed() -> None:
    with pytest.raises(MalformedMessage):
        message_meta(b"\xd0\xcf\x11\xe0 binary outlook msg", OWNER)


def test_subject_privacy_applies_to_mail() -> None:
    hashed = meta(
        BASE + "From: a@example.com\nSubject: Salary\n", MailOwner(OWNER.addresses, "hashed")
    )
    off = meta(BASE + "From: a@example.com\nSubject: Salary\n", MailOwner(OWNER.addresses, "off"))
    assert hashed.subject is not None and hashed.subject.startswith("sha256:")
    assert off.subject is None


def _mbox(count: int, seed: int) -> bytes:
    rng = random.Random(seed)
    parts = []
    for i in range(count):
        body = "".join(
            rng.choice(
                [
                    "line\n",
                    "From the team\nbye\n",
                    ">From quoted\n",
                    "\n",
                    "Content-Type: text/calendar\n" if i % 7 == 0 else "x\n",
                ]
            )
            for _ in range(rng.randint(0, 40))
        )
        parts.append(
            f"From sender{i}@example.com Mon Mar  4 10:00:00 2024\n"
            f"Message-ID: <m{i}@x>\nFrom: s{i}@example.com\n\n{body}\n"
        )
    return "".join(parts).encode()


@pytest.mark.parametrize("chunk", [7, 64, 1000, 1 << 20])
def test_mbox_scanner_finds_the_same_messages_whatever_the_chunk_size(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _mbox(60, seed=3)
    monkeypatch.setattr(mbox_module, "CHUNK", chunk)
    messages = list(MboxScanner(io.BytesIO(data)))
    assert len(messages) == 60
    assert [m.header.split(b"\n")[0] for m in messages] == [
        f"Message-ID: <m{i}@x>".encode() for i in range(60)
    ]
    assert [m.has_calendar_part for m in messages] == [
        b"Content-Type: text/calendar" in data[m.offset : m.end] for m in messages
    ]
    assert messages[-1].end == len(data)
    # Resuming at any message offset yields exactly the remaining messages.
    resumed = list(MboxScanner(io.BytesIO(data), messages[25].offset))
    assert resumed == messages[25:]


def test_from_lines_in_bodies_do_not_split_messages() -> None:
    data = (
        b"From a Mon Mar  4 10:00:00 2024\nFrom: a@x\n\nFrom Russia with love\n\n"
        b"From b Mon Mar  4 10:00:00 2024\nFrom: b@x\n\nbye\n"
    )
    assert len(list(MboxScanner(io.BytesIO(data)))) == 2
