"""Any text in a digest's fields: the renderer and the MIME message never fail and
never let markup, a header or an invisible character through (issue 10, item 10)."""

from __future__ import annotations

import email
import email.policy
import re
import unicodedata
from collections import Counter
from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st
from peerpulse.worker.digest.ics_hold import build_hold
from peerpulse.worker.digest.message import build_message, message_bytes, new_message_id
from peerpulse.worker.digest.render import render_digest

from tests.fuzz.budget import budget
from tests.fuzz.strategies import any_text, header_value
from tests.worker.digest_builders import full_digest
from tests.worker.payloads import PAYLOADS

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
HEADERS = {
    "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "X-Auto-Response-Suppress",
    "X-Peerpulse-Period", "X-Peerpulse-Account", "MIME-Version", "Content-Type",
}
# What a person must never receive: Unicode format characters (zero-width, bidi,
# BOM...) and controls other than line breaks and tabs.
def _hidden(text: str) -> set[str]:
    return {f"U+{ord(c):04X}" for c in text
            if unicodedata.category(c) in {"Cf", "Cs"}
            or (unicodedata.category(c) == "Cc" and c not in "\r\n\t")}


hostile = st.one_of(st.sampled_from(PAYLOADS), header_value, any_text,
                    st.lists(st.sampled_from(PAYLOADS), max_size=4).map("".join))


def _wire(digest) -> tuple[bytes, str]:
    rendered = render_digest(digest, recipient="sam@example.com", sender="sam@example.com",
                             now=NOW, hold_attached=True)
    hold = build_hold(digest, organizer="sam@example.com", now=NOW)
    message = build_message(rendered, account="work",
                            message_id=new_message_id(digest.period, "sam@example.com"),
                            date=NOW, hold=hold)
    return message_bytes(message), rendered.html


def _tags(html: str) -> Counter[str]:
    return Counter(t.lower() for t in re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9]*)", html))


BENIGN_TAGS = _tags(_wire(full_digest())[1])


@budget(60)
@given(hostile, hostile, hostile, hostile)
@example("\u202eEve\r\nBcc: x@evil.example", "<script>", "\ud800", "=?utf-8?q?a=0Ab?=")
@example("Al\u00adice\U000e0041\u2062", "Dir\ufff9ector", "ok", "Sync\U000e007f")
def test_any_text_renders_to_a_safe_message(name, title, reason, meeting_title):
    digest = full_digest(name=name, department=title, title=title, reason=reason,
                         meeting_title=meeting_title, celebrate=reason)
    raw, html = _wire(digest)
    assert len(raw) < 400_000
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert set(parsed.keys()) == HEADERS and len(parsed.keys()) == len(HEADERS)
    assert str(parsed["X-Peerpulse-Period"]) == "2026-W48"
    assert not _tags(html) - BENIGN_TAGS
    subject = str(parsed["Subject"])
    assert "\n" not in subject and "\r" not in subject
    for where, content in (("subject", subject), ("html", html),
                           ("text", parsed.get_body(("plain",)).get_content())):
        assert not _hidden(content), f"{where}: {sorted(_hidden(content))}"
