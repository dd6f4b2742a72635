"""Address, Message-ID and subject normalization shared by every connector."""

from __future__ import annotations

import pytest
from peerpulse.connectors.addresses import (
    normalize_address,
    normalize_message_id,
    parse_address_header,
    parse_message_ids,
    private_text,
)


@pytest.mark.parametrize(
    ("header", "mailboxes", "malformed"),
    [
        ("Alice <Alice@Example.COM>", [("alice@example.com", "Alice")], 0),
        (
            '"Smith, Alice" <alice@example.com>, bob@example.com',
            [("alice@example.com", "Smith, Alice"), ("bob@example.com", "")],
            0,
        ),
        (
            "=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>",
            [("jm@example.de", "Jürgen Müller")],
            0,
        ),
        ("=?ISO-8859-1?B?QW5kcuk=?= <andre@example.fr>", [("andre@example.fr", "André")], 0),
        (
            "Team: a@example.com, B <b@example.com>;",
            [("a@example.com", ""), ("b@example.com", "B")],
            0,
        ),
        ("undisclosed-recipients:;", [], 0),
        ("alice@example.org(<bob@example.org>", [("alice@example.org", "")], 0),  # CVE-2023-27043
        (
            '"=?UTF-8?Q?hi=0ABcc:_x@evil.com?=" <h@example.com>',
            [("h@example.com", "hi Bcc: x@evil.com")],
            0,
        ),
        ("not an address, ok@example.com", [("ok@example.com", "")], 1),
        ("", [], 0),
        (None, [], 0),
    ],
)
def test_address_headers_normalize(header: str | None, mailboxes: list, malformed: int) -> None:
    parsed = parse_address_header(header)
    assert [tuple(m) for m in parsed.mailboxes] == mailboxes
    assert parsed.malformed == malformed


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mailto:Bob@Example.com", "bob@example.com"),
        ("MAILTO:<bob@example.com>", "bob@example.com"),
        ("bob@example.com", "bob@example.com"),
        ("mailto:Conference Room 1", None),
        ("", None),
        ("@example.com", None),
    ],
)
def test_single_addresses_normalize(value: str, expected: str | None) -> None:
    assert normalize_address(value) == expected


def test_message_ids_lose_brackets_and_keep_order() -> None:
    assert normalize_message_id(" <abc@x.example>\r\n") == "abc@x.example"
    assert normalize_message_id("bare@id") == "bare@id"
    assert normalize_message_id("") is None
    assert parse_message_ids("<a@x> <b@x>\n\t<c@x>") == ("a@x", "b@x", "c@x")


@pytest.mark.parametrize(
    ("mode", "text", "expected"),
    [
        ("off", "Budget", None),
        ("kept", "Budget\r\nBcc: x@example.com\x00", "Budget Bcc: x@example.com"),
        ("kept", "   ", None),
        ("hashed", "Budget", "sha256:" + __import__("hashlib").sha256(b"budget").hexdigest()[:16]),
    ],
)
def test_subjects_follow_the_privacy_setting(mode: str, text: str, expected: str | None) -> None:
    assert private_text(text, mode) == expected


def test_hashed_subjects_compare_equal_regardless_of_case() -> None:
    assert private_text("Budget Review", "hashed") == private_text("budget review", "hashed")
