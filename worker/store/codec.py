"""Converting records to and from flat rows.

Kept apart from the SQL so that a PostgreSQL backend reuses it unchanged. Lists
of addresses are joined with the ASCII unit separator (which cannot occur in a
normalized address) rather than JSON: splitting a string is several times
cheaper than decoding JSON, and the digest reads a million of them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from connectors.records import (
    Attendee,
    Direction,
    EventInstance,
    EventStatus,
    EventType,
    MessageMeta,
    Person,
    ResponseStatus,
    Transparency,
)

SEP = "\x1f"

EVENT_COLUMNS = (
    "series_id", "start_ts", "end_ts", "organizer", "attendees", "attendee_count", "all_day",
    "original_tz", "title", "status", "transparency", "event_type", "recurring", "self_response",
)
MESSAGE_COLUMNS = (
    "message_id", "thread_id", "ts", "sender", "to_addrs", "cc_addrs", "bcc_addrs", "direction",
    "in_reply_to", "refs", "list_id", "list_unsubscribe", "auto_submitted", "precedence",
    "is_invitation", "subject", "sender_name",
)
PERSON_COLUMNS = (
    "email", "name", "aliases", "department", "title", "manager", "manages_anyone", "tags",
    "team_size",
)


def _join(values: tuple[str, ...]) -> str:
    return SEP.join(values)


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(value.split(SEP)) if value else ()


def to_epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def event_row(event: EventInstance) -> tuple[Any, ...]:
    attendees = json.dumps(
        [
            [a.email, a.name, a.response.value, int(a.is_organizer), int(a.is_resource)]
            for a in event.attendees
        ],
        separators=(",", ":"),
    )
    return (
        event.series_id, to_epoch(event.start), to_epoch(event.end), event.organizer, attendees,
        event.attendee_count, int(event.all_day), event.original_tz, event.title,
        event.status.value, event.transparency.value, event.event_type.value,
        int(event.recurring), event.self_response.value if event.self_response else None,
    )


def event_from_row(source_id: str, row: tuple[Any, ...]) -> EventInstance:
    (series_id, start_ts, end_ts, organizer, attendees, attendee_count, all_day, original_tz,
     title, status, transparency, event_type, recurring, self_response) = row
    return EventInstance(
        source_id=source_id,
        series_id=series_id,
        start=from_epoch(start_ts),
        end=from_epoch(end_ts),
        organizer=organizer,
        attendees=tuple(
            Attendee(email, name, ResponseStatus(response), bool(org), bool(res))
            for email, name, response, org, res in json.loads(attendees)
        ),
        attendee_count=attendee_count,
        all_day=bool(all_day),
        original_tz=original_tz,
        title=title,
        status=EventStatus(status),
        transparency=Transparency(transparency),
        event_type=EventType(event_type),
        recurring=bool(recurring),
        self_response=ResponseStatus(self_response) if self_response else None,
    )


def message_row(message: MessageMeta) -> tuple[Any, ...]:
    return (
        message.message_id, message.thread_id, to_epoch(message.timestamp), message.sender,
        _join(message.to), _join(message.cc), _join(message.bcc), message.direction.value,
        message.in_reply_to, _join(message.references), message.list_id,
        int(message.list_unsubscribe), message.auto_submitted, message.precedence,
        int(message.is_invitation), message.subject, message.sender_name,
    )


_DIRECTIONS = {d.value: d for d in Direction}


def message_from_row(source_id: str, row: tuple[Any, ...]) -> MessageMeta:
    (message_id, thread_id, ts, sender, to_addrs, cc_addrs, bcc_addrs, direction, in_reply_to,
     refs, list_id, list_unsubscribe, auto_submitted, precedence, is_invitation, subject,
     sender_name) = row
    return MessageMeta(
        source_id, message_id, thread_id, from_epoch(ts), sender, _split(to_addrs),
        _split(cc_addrs), _split(bcc_addrs), _DIRECTIONS[direction], in_reply_to, _split(refs),
        list_id, bool(list_unsubscribe), auto_submitted, precedence, bool(is_invitation),
        subject, sender_name or "",
    )


def person_row(person: Person) -> tuple[Any, ...]:
    return (
        person.email, person.name, _join(person.aliases), person.department, person.title,
        person.manager, int(person.manages_anyone), _join(person.tags), person.team_size,
    )


def person_from_row(row: tuple[Any, ...]) -> Person:
    email, name, aliases, department, title, manager, manages_anyone, tags, team_size = row
    return Person(
        email=email, name=name or "", aliases=_split(aliases), department=department,
        title=title, manager=manager, manages_anyone=bool(manages_anyone), tags=_split(tags),
        team_size=team_size,
    )
