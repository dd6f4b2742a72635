"""Command subjects (digest action links) in the shared header mapping (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from peerpulse.connectors.headers import message_meta_from_headers
from peerpulse.connectors.records import MailCommand, MessageMeta, command_text

OWNER = frozenset({"dana@example.com", "dana.r@example.com"})
WHEN = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SUBJECT = "peerpulse: snooze lee@example.com 4w 2026-W48 0123456789abcdef"


def _map(subjects: str = "hashed", **headers: str) -> MessageMeta | MailCommand:
    fields = {"from": "Dana <dana@example.com>", "to": "dana@example.com",
              "subject": SUBJECT, "message-id": "<c1@example.com>"}
    fields.update({k.replace("_", "-"): v for k, v in headers.items()})
    return message_meta_from_headers(fields, source_id="c1", timestamp=WHEN, owner=OWNER,
                                     subjects=subjects)


@pytest.mark.parametrize("subjects", ["kept", "hashed", "off"])
def test_a_mail_to_oneself_with_a_command_subject_is_a_command_in_every_privacy_mode(
        subjects: str) -> None:
    record = _map(subjects)
    assert isinstance(record, MailCommand)
    assert record.command == "snooze lee@example.com 4w 2026-W48 0123456789abcdef"
    assert record.timestamp == WHEN and record.source_id == "c1"


def test_an_encoded_subject_to_an_alias_is_recognised() -> None:
    encoded = "=?utf-8?q?peerpulse=3A_done_lee=40example=2Ecom_2026-W48_0123456789abcdef?="
    record = _map(subject=encoded, to="Dana R <dana.r@example.com>")
    assert isinstance(record, MailCommand)
    assert record.command == "done lee@example.com 2026-W48 0123456789abcdef"


@pytest.mark.parametrize("headers", [
    {"to": "dana@example.com, lee@example.com"},  # also sent to someone: a real mail
    {"from": "Mallory <mallory@example.com>"},  # not from the owner
    {"subject": "Re: peerpulse: snooze lee"},  # a reply about peerpulse, not a link
])
def test_other_mail_with_such_a_subject_stays_a_message(headers: dict[str, str]) -> None:
    record = _map(**headers)
    assert isinstance(record, MessageMeta)
    assert record.subject is not None and record.subject.startswith("sha256:")


def test_command_text_needs_the_marker_at_the_start() -> None:
    assert command_text("  PeerPulse:   never  x@y.z 2026-W01 00 ") == "never x@y.z 2026-W01 00"
    assert command_text("About peerpulse: hello") is None
    assert command_text(None) is None
