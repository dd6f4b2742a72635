"""Real recorded Google responses (nango recordings) through the normalizers and the fake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from peerpulse.connectors.google.connector import GoogleConnector
from peerpulse.connectors.google.normalize import event_instance, message_meta
from peerpulse.connectors.records import Direction

from tests.connectors.google.conftest import READ_SCOPES, drain, make_context, write_token
from tests.connectors.google.fake_data import Msg

pytestmark = pytest.mark.corpus
OWNER = frozenset({"api@nango.dev"})


def recordings(corpora: Path, folder: str, pattern: str) -> list[dict]:
    base = corpora / "api-json-nango-recordings" / "extracted-responses" / folder
    return [json.loads(p.read_text()) for p in sorted(base.glob(pattern))]


def test_recorded_metadata_messages_normalize(corpora):
    messages = recordings(corpora, "google-mail", "messages__GET__gmail_v1_users_me_messages_19*")
    assert len(messages) > 50
    metas = [message_meta(m, OWNER, "hashed") for m in messages]
    assert all(m is not None for m in metas)
    assert all(m.timestamp.tzinfo is not None and m.sender for m in metas)
    assert any(m.direction == Direction.RECEIVED for m in metas)
    assert all(m.subject is None or m.subject.startswith("sha256:") for m in metas)


def test_recorded_events_normalize(corpora):
    (page,) = recordings(corpora, "google-calendar", "list-upcoming-events__*")
    instances = [
        event_instance(i, calendar_zone=page["timeZone"], account_zone="UTC", subjects="kept")
        for i in page["items"]
    ]
    assert len(instances) == 250 and all(i is not None for i in instances)
    assert sum(i.recurring for i in instances) == 239
    assert all(i.start.utcoffset().total_seconds() == 0 and i.end >= i.start for i in instances)


def test_recorded_messages_sync_through_the_fake(corpora, fake, state_dir, store):
    messages = recordings(corpora, "google-mail", "messages__GET__gmail_v1_users_me_messages_19*")
    box = fake.mailboxes["alice@example.com"]
    for raw in messages:
        box.messages.append(
            Msg(
                raw["id"],
                raw["threadId"],
                int(raw["internalDate"]),
                tuple(raw.get("labelIds", [])),
                "",
                "",
                "",
                raw=raw,
            )
        )
    box.sort()
    write_token(state_dir, fake, READ_SCOPES)
    context = make_context(
        fake, state_dir, store, calendars=[], window_past_days=3650, mail_fetch="messages"
    )
    drain(store, GoogleConnector(*context).sources()[0])
    stored = list(store.iter_messages("alice"))
    kept = [m for m in messages if not {"DRAFT", "SPAM", "TRASH"} & set(m.get("labelIds", []))]
    assert len(stored) == len(kept)
