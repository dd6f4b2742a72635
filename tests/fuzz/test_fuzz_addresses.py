"""Header values from hostile mail never raise and never leave control characters."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given
from hypothesis import strategies as st
from peerpulse.connectors.addresses import (
    decode_words,
    normalize_address,
    normalize_message_id,
    parse_address_header,
    parse_message_ids,
    private_text,
    single_line,
)

from tests.fuzz.budget import budget
from tests.fuzz.strategies import any_text, header_value, huge_value

_HASHED = re.compile(r"sha256:[0-9a-f]{16}")


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" or c in "\u2028\u2029" for c in text)


def _storable(text: str) -> bool:
    """SQLite (and every encoder) refuses lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _assert_address(address: str) -> None:
    assert address == address.lower()
    assert address.count("@") == 1
    assert not any(c.isspace() for c in address)
    assert not _has_control(address)
    assert _storable(address)


header_or_huge = st.one_of(header_value, header_value, header_value, huge_value)


@budget(400)
@given(header_or_huge)
@example("(" * 2000)  # nested comments: RecursionError in both stdlib parsers
@example("a@b.example, (" * 300)
@example("\\" * 50000)  # quadratic in headerregistry: must stay fast
@example("lee@corp.example\x00, \x01ana@corp.example")
def test_address_headers_never_raise_and_yield_clean_lowercase_addresses(value: str) -> None:
    parsed = parse_address_header(value)
    assert parsed.malformed >= 0
    for mailbox in parsed.mailboxes:
        _assert_address(mailbox.email)
        assert not _has_control(mailbox.name)
        assert _storable(mailbox.name)
        assert mailbox.name == mailbox.name.strip()


@budget(300)
@given(header_value)
@example("MAILTO:<Lee@Corp.Example>")
@example("lee\x00@corp.example")
def test_one_address_is_lowercase_or_none(value: str) -> None:
    address = normalize_address(value)
    if address is not None:
        _assert_address(address)


@budget(300)
@given(header_or_huge)
@example("<id\x00@host>")
@example("bare-\udcff-id")
def test_message_ids_have_no_whitespace_or_brackets(value: str) -> None:
    for found in (normalize_message_id(value), *parse_message_ids(value)):
        if found is None:
            continue
        assert found
        assert not any(c.isspace() for c in found)
        assert "<" not in found and ">" not in found
        assert not _has_control(found) and _storable(found)


@budget(300)
@given(header_value)
@example("=?utf-8?b?////?=")
@example("=?x-unknown?q?abc?=")
def test_decoding_encoded_words_never_raises(value: str) -> None:
    assert isinstance(decode_words(value), str)


@budget(300)
@given(st.one_of(header_value, any_text))
@example("a\x9b31mb")  # C1 control (8-bit CSI): a terminal escape in a digest or a log
@example("hi\r\nBcc: victim@example.com")
def test_single_line_is_one_line_without_control_characters(value: str) -> None:
    line = single_line(value)
    assert not _has_control(line)
    assert _storable(line)
    assert line == line.strip()
    assert "  " not in line


@budget(300)
@given(st.one_of(header_value, any_text), st.sampled_from(["off", "hashed", "kept"]))
@example("\udcff", "hashed")  # a lone surrogate (JSON "\udcff") cannot be UTF-8 encoded
def test_private_text_obeys_the_privacy_mode(value: str, mode: str) -> None:
    stored = private_text(value, mode)
    if mode == "off" or stored is None:
        assert mode == "off" or not single_line(value)
        assert stored is None
    elif mode == "hashed":
        assert _HASHED.fullmatch(stored)
    else:
        assert stored == single_line(value)
        assert not _has_control(stored)
