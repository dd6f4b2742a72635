"""Real-shaped Graph payloads from the shared corpora (read in place, never copied):
Microsoft's documented delta pages and Nango's recorded Outlook responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from peerpulse.connectors.microsoft.normalize import event_instance, message_meta
from peerpulse.connectors.records import Direction

pytestmark = pytest.mark.corpus

OWNER = frozenset({"samanthab@contoso.onmicrosoft.com"})


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_documented_calendar_view_delta_pages(corpora):
    docs = corpora / "api-json-msgraph-docs"
    first = _load(docs / "calendarview-delta-round1-page1.json")
    assert first["@odata.nextLink"].startswith("https://graph.microsoft.com/")
    events = [event_instance(i, account_zone="UTC", subjects="kept") for i in first["value"]]
    assert [e.title for e in events if e] == ["Plan shopping list", "Pick up car"]
    assert all(e and e.organizer == "samanthab@contoso.onmicrosoft.com" for e in events)
    assert events[0] and events[0].start.isoformat() == "2016-12-09T20:30:00+00:00"
    second = _load(docs / "calendarview-delta-round2-with-removed.json")
    removed = [i["id"] for i in second["value"] if "@removed" in i]
    assert removed == ["AAMkADk0MGFkODE3LWE4MmYtNDRhOS04OGQLkRkXbBznTvAADb6ytyAAA="]
    assert "@odata.deltaLink" in second


def test_documented_message_delta_pages_without_times_are_skipped_not_fatal(corpora):
    docs = corpora / "api-json-msgraph-docs"
    for name in ("messages-delta-round1-page1.json", "messages-delta-round2-with-removed.json"):
        page = _load(docs / name)
        for item in page["value"]:
            # the documented $select has no receivedDateTime: nothing to place in time
            assert message_meta(item, OWNER, "kept") is None


def test_recorded_outlook_events_normalize(corpora):
    root = corpora / "api-json-nango-recordings/historical-mocks/outlook/mocks/nango/get/proxy"
    files = sorted((root / "v1.0/me/events/events").glob("*.json"))
    if not files:
        pytest.skip("no recorded Outlook events")
    seen = 0
    for path in files:
        for item in _load(path)["response"].get("value", []):
            instance = event_instance(item, account_zone="Europe/Berlin", subjects="hashed")
            if item.get("isCancelled"):
                assert instance is None
                continue
            assert instance is not None, item.get("id")
            assert instance.start.utcoffset().total_seconds() == 0
            assert instance.end >= instance.start
            assert instance.title is None or instance.title.startswith("sha256:")
            assert all(a.email == a.email.lower() for a in instance.attendees)
            seen += 1
    assert seen > 0


def test_recorded_outlook_messages_normalize_without_bodies(corpora):
    path = (corpora / "api-json-nango-recordings/historical-mocks/outlook/mocks/nango/get/proxy"
            / "v1.0/me/messages/emails.json")
    if not path.exists():
        pytest.skip("no recorded Outlook messages")
    items = _load(path)["value"]  # a bare Graph page, not a request/response pair
    metas = [message_meta(i, frozenset(), "off") for i in items]
    assert metas and all(m is not None for m in metas)
    for meta, item in zip(metas, items, strict=True):
        assert meta.subject is None  # subjects off
        assert meta.thread_id == item["conversationId"]
        assert meta.direction in (Direction.OTHER, Direction.RECEIVED)
        assert not hasattr(meta, "body")
