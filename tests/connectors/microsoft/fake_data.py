"""Graph-shaped events, messages and users for the fake server (our own, small)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.connectors.microsoft.fake_graph import FakeGraph

USER = "alice@contoso.com"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _graph_time(when: datetime) -> dict[str, str]:
    return {"dateTime": when.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


def person(address: str, name: str = "") -> dict[str, Any]:
    return {"emailAddress": {"name": name or address.split("@")[0].title(), "address": address}}


def event(n: int, *, days: int = 1, guests: int = 2, **extra: Any) -> dict[str, Any]:
    start = NOW + timedelta(days=days, hours=n % 8)
    item: dict[str, Any] = {
        "id": f"AAMkEvent{n:05d}=",
        "iCalUId": f"040000008200E00074C5B7101A82E008000000{n:05d}",
        "subject": f"Meeting {n}",
        "bodyPreview": "",
        "type": "singleInstance",
        "isAllDay": False,
        "isCancelled": False,
        "isOrganizer": True,
        "showAs": "busy",
        "sensitivity": "normal",
        "start": _graph_time(start),
        "end": _graph_time(start + timedelta(minutes=30)),
        "originalStartTimeZone": "W. Europe Standard Time",
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "organizer": person(USER, "Alice"),
        "attendees": [
            {"type": "required", "status": {"response": "accepted", "time": "2026-05-01T00:00:00Z"},
             **person(f"peer{n % 7 + g}@contoso.com")}
            for g in range(guests)
        ],
    }
    item.update(extra)
    return item


def message(
    n: int,
    *,
    sender: str = "bob@contoso.com",
    to: tuple[str, ...] = (USER,),
    minutes_ago: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    when = NOW - timedelta(minutes=minutes_ago if minutes_ago is not None else 10 + n)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    item: dict[str, Any] = {
        "id": f"AAkALgMsg{n:07d}=",
        "conversationId": f"AAQkConv{n // 3:06d}=",
        "internetMessageId": f"<msg{n}@contoso.com>",
        "receivedDateTime": stamp,
        "sentDateTime": stamp,
        "from": person(sender),
        "sender": person(sender),
        "toRecipients": [person(a) for a in to],
        "ccRecipients": [],
        "bccRecipients": [],
        "subject": f"Subject {n}",
        "isDraft": False,
        "isRead": True,
        "inferenceClassification": "focused",
        "body": {"contentType": "text", "content": "secret body"},
        "bodyPreview": "secret body",
    }
    item.update(extra)
    return item


def fill_mailbox(fake: FakeGraph, inbox: int, sent: int, user: str = USER) -> None:
    fake.mailbox(user)
    for n in range(inbox):
        fake.folders[(user, "inbox")].put(message(n))
    for n in range(inbox, inbox + sent):
        fake.folders[(user, "sentitems")].put(
            message(n, sender=user, to=("bob@contoso.com",))
        )
