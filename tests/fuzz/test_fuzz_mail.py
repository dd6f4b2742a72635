"""Arbitrary bytes as a header block, an .eml file or an mbox: a record or a skip, never a crash."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from peerpulse.connectors.addresses import single_line
from peerpulse.connectors.files.mail import (
    MailOwner,
    MalformedMessage,
    mbox_items,
    message_file_item,
    message_meta,
    parse_date,
    parse_date_plain,
    split_fields,
    split_fields_plain,
)
from peerpulse.connectors.files.mbox import (
    _SEPARATOR,
    CALENDAR_PART,
    has_calendar_part,
    header_end,
    search_separator,
)
from peerpulse.connectors.records import MessageMeta, SkippedInput

from tests.fuzz.budget import budget

OWNER = MailOwner(frozenset({"me@corp.example"}), subjects="hashed")

LINES = (
    b"From ", b"From lee@corp.example Mon Jan  6 09:00:00 2025", b"From MAILER-DAEMON Thu Jan  1 "
    b"00:00:00 1970", b"From: Lee <lee@corp.example>", b"To: me@corp.example, (((",
    b"Cc: =?utf-8?q?J=C3=BCrgen?= <j@corp.example>", b"Date: Mon, 6 Jan 2025 09:00:00 +0100",
    b"Date: Mon, 6 Jan 0000 09:00:00 +9999", b"Date: 99 Feb 2025 25:61:61 -2400", b"Date: ",
    b"Date: Mon, 6 Jan 99999999999999999999 09:00:00 +0000", b"Message-ID: <a@b>",
    b"Message-ID:", b"Subject: =?UTF-8?Q?hi=0Athere?=", b"Subject: \xff\xfe\x00",
    b"X-GM-THRID: 1234567890123456789", b"X-GM-THRID: 99999999999999999999999999999999999",
    b"Content-Type: text/calendar; method=REQUEST", b"References: <a@b> <c@d>", b" folded",
    b"\tfolded", b"", b"\r", b"Auto-Submitted: auto-replied", b"List-Id: <l.corp.example>",
    b"body line", b">From escaped", b"\x00\x01\x02", b"Sender: x@y",
)
header_block = st.lists(
    st.one_of(st.sampled_from(LINES), st.binary(max_size=40)), max_size=16
).map(lambda lines: b"\n".join(lines))
crlf_block = header_block.map(lambda block: block.replace(b"\n", b"\r\n"))
any_block = st.one_of(header_block, header_block, crlf_block, st.binary(max_size=300))


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def _assert_record(record: MessageMeta) -> None:
    assert record.timestamp.tzinfo is not None
    assert record.timestamp.utcoffset() == timedelta(0)
    assert record.source_id
    if record.subject is not None:
        assert record.subject.startswith("sha256:")


@budget(400)
@given(any_block, any_block)
@example(b"From: a@b\nDate: Mon, 6 Jan 2025 09:00:00 +0000\nX-GM-THRID: 1" + b"0" * 5000, b"")
@example("From: a@b\nDate: 6 Jan 2025 09:00 +0000\nX-GM-THRID: \u00b2".encode(), b"")
@example(b"From: a@b\nDate: Mon, 6 Jan 99999999999999999999 09:00:00 +0000", b"")
@example(b"From: a@b\nDate: 1 Jan 1970 00:00:00 +9999", b"From x Thu Jan  1 00:00:00 1970")
def test_a_header_block_is_a_record_or_a_malformed_message(header: bytes, envelope: bytes) -> None:
    fields = split_fields(header)
    assert all(key == key.lower() for key in fields)
    try:
        record = message_meta(header, OWNER, envelope=envelope)
    except MalformedMessage:
        return
    _assert_record(record)


@budget(200)
@given(any_block, st.binary(max_size=200))
@example(b"From x Mon Jan  6 09:00:00 2025", b"")
@example(b"\n\n", b"BEGIN:VCALENDAR")
def test_an_eml_file_is_a_record_or_a_skip(folder: Path, header: bytes, body: bytes) -> None:
    path = folder / "message.eml"
    path.write_bytes(header + b"\n\n" + body)
    item = message_file_item(path, "message.eml", OWNER)
    assert isinstance(item, MessageMeta | SkippedInput)
    if isinstance(item, MessageMeta):
        _assert_record(item)
        assert not str(item).startswith("unreadable")
    else:
        assert "unreadable" not in item.reason, item.reason  # a parser bug, not bad input


mbox_bytes = st.lists(
    st.one_of(st.sampled_from(LINES), st.sampled_from(LINES), st.binary(max_size=30)), max_size=40
).map(lambda lines: b"\n".join(lines))


@budget(200)
@given(st.one_of(mbox_bytes, mbox_bytes.map(lambda b: b.replace(b"\n", b"\r\n"))))
@example(b"From x Mon Jan  6 09:00:00 2025\nFrom: a@b\n\nFrom x Mon Jan  6 09:00:00 2025\nTo: c")
@example(b"garbage\nFrom \nFrom: a@b")
def test_every_mbox_message_is_a_record_or_a_skip(folder: Path, data: bytes) -> None:
    path = folder / "mail.mbox"
    path.write_bytes(data)
    previous = 0
    for item, end in mbox_items(path, "mail.mbox", OWNER):
        assert isinstance(item, MessageMeta | SkippedInput)
        if isinstance(item, MessageMeta):
            _assert_record(item)
        else:
            assert "unreadable" not in item.reason, item.reason
        assert previous < end <= len(data)
        previous = end


# -- fast paths against the plain decoding (issue 14, item 2) ------------------------

_HEADER_END_PLAIN = re.compile(rb"\r?\n\r?\n")


def _outcome(header: bytes, envelope: bytes, plain: bool) -> object:
    try:
        return message_meta(header, OWNER, envelope=envelope, plain=plain)
    except MalformedMessage as exc:
        return str(exc)


@budget(300)
@given(any_block, any_block)
@example("Subject: caf\u00e9\nFrom: a@b\nTo: \xff".encode("latin-1"), b"")
@example(b"From: a@b\r\nDate: Mon, 6 Jan 2025 09:00:00 -0000 (UTC)\r\n folded", b"")
def test_fast_decoding_gives_the_plain_record(header: bytes, envelope: bytes) -> None:
    assert split_fields(header) == split_fields_plain(header)
    assert _outcome(header, envelope, False) == _outcome(header, envelope, True)


_DATE_WORDS = st.sampled_from(
    ["Mon, ", "Sun, ", "", "mon, ", "Xyz, ", "1", "6", "31", "32", "00", " ", "  ", "Jan", "jan",
     "Feb", "Dec", "Foo", "2025", "1970", "0000", "99", "9999", "09:00:00", "24:00:00",
     "23:59:60", "9:00:00", "+0000", "-0000", "+0100", "-0930", "+2400", "+9999", "+0160",
     "UT", "GMT", "EST", "(PDT)", "\t", ",", ":", "\u00a0"]
)
date_text = st.one_of(
    st.lists(_DATE_WORDS, max_size=12).map("".join),
    st.tuples(_DATE_WORDS, st.integers(0, 40), _DATE_WORDS, st.integers(0, 10000), _DATE_WORDS,
              st.integers(0, 99), st.integers(0, 99), st.integers(0, 99), st.sampled_from("+-"),
              st.integers(0, 9999), st.sampled_from(["", " (UTC)", " x", ",", "  "])).map(
        lambda t: f"{t[0]}{t[1]} {t[2]} {t[3]:04d} {t[5]:02d}:{t[6]:02d}:{t[7]:02d} "
                  f"{t[8]}{t[9]:04d}{t[10]}"),
    st.text(max_size=40),
)


@budget(500)
@given(date_text)
@example("Mon, 26 Oct 2026 09:17:00 +0100")
@example("26 Oct 2026 09:17:00 -0000")
@example("Tue, 1 Feb 2000 24:00:00 +0000")
@example("Tue, 31 Feb 2000 10:00:00 +2400")
def test_the_date_fast_path_reads_what_parsedate_tz_reads(value: str) -> None:
    assert parse_date(value) == parse_date_plain(value)


@budget(300)
@given(st.one_of(mbox_bytes, mbox_bytes.map(lambda b: b.replace(b"\n", b"\r\n"))),
       st.integers(0, 400), st.integers(0, 400))
@example(b"From x\nA: b\nFrom y\nC: d", 0, 400)
@example(b"\nFrom x\nA: b", 1, 400)
@example(b"A: b\r\n\r\nbody", 0, 400)
@example(b"\r\n\nbody", 1, 400)
def test_scanner_searches_match_the_plain_patterns(data: bytes, pos: int, end: int) -> None:
    pos = min(pos, len(data))
    end = max(pos, min(end, len(data)))
    plain = _SEPARATOR.search(data, pos, end)
    fast = search_separator(data, pos, end)
    assert (fast and fast.span()) == (plain and plain.span())
    blank = _HEADER_END_PLAIN.search(data, pos)
    assert header_end(data, pos) == (blank and blank.span())
    lowered = data.replace(b"Content-Type", b"content-TYPE")
    for buf in (data, lowered, b"Content-Type: TEXT/Calendar\n" + data):
        assert has_calendar_part(buf, pos, end) == (CALENDAR_PART.search(buf, pos, end) is not None)


def _single_line_plain(text: str) -> str:
    """single_line before its fast path (runs of whitespace collapse where two spaces are)."""
    text = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", text)
    text = re.sub(r"[\ud800-\udfff]", "\ufffd", text)
    return (re.sub(r"\s{2,}", " ", text) if "  " in text else text).strip()


@budget(500)
@given(st.text(alphabet=st.sampled_from(" \t\n\r\x00\x1f\x7f\x85\x9f\xa0\u2028\u2029\u3000"
                                        "\ud800a\u00e9Z"), max_size=20) | st.text(max_size=20))
@example("a \u3000 b")
def test_single_line_fast_path_matches_the_patterns(text: str) -> None:
    assert single_line(text) == _single_line_plain(text)
