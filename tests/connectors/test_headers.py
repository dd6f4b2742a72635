"""One header mapping for every mail connector: the rules, and files == Google."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from peerpulse.connectors.addresses import private_text
from peerpulse.connectors.files.mail import MailOwner
from peerpulse.connectors.files.mail import message_meta as files_meta
from peerpulse.connectors.google.normalize import message_meta as google_meta
from peerpulse.connectors.headers import message_meta_from_headers
from peerpulse.connectors.records import Direction, MessageMeta

OWNER = frozenset({"owner@example.com", "owner.alias@example.com"})
WHEN = datetime(2024, 3, 5, 9, tzinfo=UTC)
BASE = {
    "message-id": "<m1@example.com>",
    "from": "Bob <bob@example.com>",
    "to": "owner@example.com",
}


def mapped(headers: dict[str, str], **context: Any) -> MessageMeta:
    merged = {k: v for k, v in {**BASE, **headers}.items() if v is not None}
    options: dict[str, Any] = {"source_id": "s1", "timestamp": WHEN, "owner": OWNER}
    return message_meta_from_headers(merged, **(options | context))


INVITE_SUBJECTS = [
    "Invitation: 1:1 @ Tue 5 Mar",
    "Updated invitation: Sync @ Wed",
    "Accepted: Sync @ Wed (bob@example.com)",
    "Declined: Sync",
    "Tentatively accepted: Sync",
    "Canceled event: Sync",
]


@pytest.mark.parametrize(
    ("rule", "headers", "context", "expected"),
    [
        ("list id is the lowercased id inside brackets",
         {"list-id": '"Dev Team" <Dev.Example.ORG>'}, {}, {"list_id": "dev.example.org"}),
        ("list id with an encoded name keeps only the id",
         {"list-id": "=?utf-8?q?D=C3=A9v?= <dev.example.org>"}, {},
         {"list_id": "dev.example.org"}),
        ("list id without brackets is the cleaned value",
         {"list-id": "  Dev.Example.org "}, {}, {"list_id": "dev.example.org"}),
        ("no list id is none", {}, {}, {"list_id": None}),
        ("empty list-unsubscribe is not a list", {"list-unsubscribe": " "}, {},
         {"list_unsubscribe": False}),
        ("list-unsubscribe marks a list", {"list-unsubscribe": "<mailto:u@example.org>"}, {},
         {"list_unsubscribe": True}),
        ("auto-submitted no means a person wrote it", {"auto-submitted": "No"}, {},
         {"auto_submitted": None}),
        ("auto-submitted no with a parameter means a person", {"auto-submitted": "no; x=1"}, {},
         {"auto_submitted": None}),
        ("auto-submitted values are lowercased", {"auto-submitted": " Auto-Replied "}, {},
         {"auto_submitted": "auto-replied"}),
        ("precedence is lowercased", {"precedence": "BULK"}, {}, {"precedence": "bulk"}),
        ("a calendar content type is an invitation",
         {"content-type": 'Text/Calendar; charset="utf-8"'}, {}, {"is_invitation": True}),
        ("an itip method parameter is an invitation",
         {"content-type": "application/ics; method=REQUEST"}, {}, {"is_invitation": True}),
        ("a method inside a boundary is not an invitation",
         {"content-type": 'multipart/mixed; boundary="method=x"'}, {}, {"is_invitation": False}),
        ("a calendar part is an invitation", {"content-type": "multipart/mixed"},
         {"calendar_part": True}, {"is_invitation": True}),
        *[
            (f"subject {s!r} is an invitation", {"subject": s}, {}, {"is_invitation": True})
            for s in INVITE_SUBJECTS
        ],
        ("a reply about invitations is not one", {"subject": "Re: Invitation: list"}, {},
         {"is_invitation": False}),
        ("an encoded invitation subject is recognized",
         {"subject": "=?utf-8?q?Invitation=3A_Caf=C3=A9?="}, {"subjects": "off"},
         {"is_invitation": True, "subject": None}),
        ("in-reply-to is the first normalized id", {"in-reply-to": "<a@x> <b@x>"}, {},
         {"in_reply_to": "a@x"}),
        ("a bare in-reply-to id is accepted", {"in-reply-to": " a@x "}, {},
         {"in_reply_to": "a@x"}),
        ("mail from an owner address is sent",
         {"from": "Owner.Alias@example.com", "to": "carol@example.com"}, {},
         {"direction": Direction.SENT}),
        ("the sent label makes unknown-alias mail sent",
         {"from": "old.alias@example.com", "to": "carol@example.com"}, {"sent_label": True},
         {"direction": Direction.SENT}),
        ("sent to owner addresses only is self",
         {"from": "owner@example.com", "to": "owner.alias@example.com"}, {},
         {"direction": Direction.SELF}),
        ("an owner in cc makes it received", {"to": "carol@example.com", "cc": "owner@example.com"},
         {}, {"direction": Direction.RECEIVED}),
        ("an owner in delivered-to makes it received",
         {"to": "list@example.org", "delivered-to": "owner@example.com"}, {},
         {"direction": Direction.RECEIVED}),
        ("no owner anywhere is other", {"to": "carol@example.com"}, {},
         {"direction": Direction.OTHER}),
        ("bcc is kept on sent mail",
         {"from": "owner@example.com", "to": "a@example.com", "bcc": "b@example.com"}, {},
         {"bcc": ("b@example.com",)}),
        ("bcc is dropped on received mail", {"bcc": "b@example.com, owner@example.com"}, {},
         {"bcc": (), "direction": Direction.RECEIVED}),
        ("the sender header stands in for a missing from",
         {"from": "undisclosed", "sender": "Carol <carol@example.com>"}, {},
         {"sender": "carol@example.com", "sender_name": "Carol"}),
        ("subjects are kept as one line", {"subject": "Budget\t  review"}, {},
         {"subject": "Budget review"}),
        ("subjects can be hashed", {"subject": "Salary"}, {"subjects": "hashed"},
         {"subject": private_text("Salary", "hashed")}),
        ("subjects can be dropped", {"subject": "Salary"}, {"subjects": "off"}, {"subject": None}),
        ("the thread hint wins", {"references": "<root@x>"}, {"thread_id": "t9"},
         {"thread_id": "t9"}),
        ("without a hint the thread is the first reference",
         {"references": "<root@x> <p@x>", "in-reply-to": "<p@x>"}, {}, {"thread_id": "root@x"}),
        ("without references the thread is in-reply-to", {"in-reply-to": "<p@x>"}, {},
         {"thread_id": "p@x"}),
        ("a thread root is its own thread", {}, {}, {"thread_id": "m1@example.com"}),
    ],
)
def test_header_rule(
    rule: str, headers: dict[str, str], context: dict[str, Any], expected: dict[str, Any]
) -> None:
    record = mapped(headers, **context)
    for field, value in expected.items():
        assert getattr(record, field) == value, (rule, field)


HEADER_SETS: list[list[tuple[str, str]]] = [
    [("From", "Bob <bob@example.com>"), ("To", "owner@example.com, carol@example.com"),
     ("Cc", "dave@example.com"), ("Bcc", "eve@example.com"), ("Subject", "Quarterly plan")],
    [("From", "Owner <owner@example.com>"), ("To", "carol@example.com"),
     ("Bcc", "boss@example.com"), ("In-Reply-To", "<p@x> <q@x>"),
     ("References", "<root@x> <p@x>"), ("Subject", "Re: plan")],
    [("From", "owner@example.com"), ("To", "owner.alias@example.com"), ("Subject", "note")],
    [("From", "list@example.org"), ("To", "list@example.org"),
     ("Delivered-To", "owner@example.com"), ("List-Id", "Dev <Dev.Example.org>"),
     ("List-Unsubscribe", "<mailto:u@example.org>"), ("Precedence", "List")],
    [("From", "Carol <carol@example.com>"), ("To", "owner@example.com"),
     ("Auto-Submitted", "no"), ("Subject", "Lunch?")],
    [("From", "calendar@example.com"), ("To", "owner@example.com"),
     ("Auto-Submitted", "auto-generated"), ("Subject", "Accepted: Sync @ Wed")],
    [("From", "Carol <carol@example.com>"), ("To", "owner@example.com"),
     ("Content-Type", "text/calendar; method=REQUEST; charset=utf-8"),
     ("Subject", "=?utf-8?q?Caf=C3=A9_sync?=")],
    [("From", "=?utf-8?q?J=C3=BCrgen?= <jm@example.de>"), ("To", "Peers: a@x.example, "
     "owner@example.com;"), ("Subject", "group")],
]


@pytest.mark.parametrize("subjects", ["kept", "hashed"])
@pytest.mark.parametrize("extra", HEADER_SETS, ids=lambda h: h[-1][1][:20])
def test_files_and_google_map_the_same_headers_to_the_same_record(
    extra: list[tuple[str, str]], subjects: str
) -> None:
    headers = [
        ("Message-ID", "<m1@example.com>"),
        ("Date", "Tue, 05 Mar 2024 10:00:00 +0100"),
        *extra,
    ]
    block = "".join(f"{name}: {value}\n" for name, value in headers).encode()
    from_files = files_meta(block, MailOwner(OWNER, subjects))
    gmail = {
        "id": "g1",
        "threadId": "18e0",
        "labelIds": ["INBOX"],
        "internalDate": str(int(WHEN.timestamp() * 1000)),
        "payload": {"headers": [{"name": n, "value": v} for n, v in headers]},
    }
    from_google = google_meta(gmail, OWNER, subjects)
    assert from_google is not None
    assert from_files.timestamp == WHEN
    assert replace(from_files, source_id="", thread_id=None) == replace(
        from_google, source_id="", thread_id=None
    )
