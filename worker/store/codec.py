"""Converting records to and from flat rows.

Kept apart from the SQL so that a PostgreSQL backend reuses it unchanged. Lists
of addresses are joined with the ASCII unit separator (which cannot occur in a
normalized address) rather than JSON: splitting a string is several times
cheaper than decoding JSON, and the digest reads a million of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from peerpulse.connectors.records import (
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


def _fast_constructor(cls: type) -> Callable[..., Any]:
    """A positional constructor for a frozen, slotted record that skips ``__init__``.

    Why: a frozen dataclass's generated ``__init__`` assigns every field through
    ``object.__setattr__``, which costs about 2.2x a plain constructor (1.4 us
    for a MessageMeta here); decoding is the hot path of scoring a million
    stored messages. Rows come from our own table, already validated on the way
    in, so the slots are filled directly through their descriptors. The result
    is an ordinary, equal, immutable instance of ``cls``.
    """
    names = list(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    setters = {f"_set_{n}": getattr(cls, n).__set__ for n in names}
    body = "".join(f"    _set_{n}(o, {n})\n" for n in names)
    source = f"def construct({', '.join(names)}):\n    o = _new(_cls)\n{body}    return o\n"
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, **setters}
    exec(source, namespace)  # noqa: S102 - generated from field names only, like dataclasses
    constructor: Callable[..., Any] = namespace["construct"]
    return constructor


_new_event = _fast_constructor(EventInstance)
_new_message = _fast_constructor(MessageMeta)
_new_attendee = _fast_constructor(Attendee)
_RESPONSES = {r.value: r for r in ResponseStatus}
_STATUSES = {s.value: s for s in EventStatus}
_TRANSPARENCIES = {t.value: t for t in Transparency}
_EVENT_TYPES = {t.value: t for t in EventType}
_DIRECTIONS = {d.value: d for d in Direction}
_loads = json.loads


_ATTENDEES: dict[tuple[Any, ...], Attendee] = {}
_ATTENDEES_KEPT = 50_000


def _attendee(item: list[Any]) -> Attendee:
    """Attendees repeat across thousands of events (the same colleagues, the same
    answers): each distinct one is built once and shared, which is safe because
    records are immutable."""
    key = tuple(item)
    found = _ATTENDEES.get(key)
    if found is None:
        if len(_ATTENDEES) >= _ATTENDEES_KEPT:
            _ATTENDEES.clear()
        email, name, response, org, res = item
        found = _ATTENDEES[key] = _new_attendee(
            email, name, _RESPONSES[response], bool(org), bool(res)
        )
    return found


def event_from_row(row: tuple[Any, ...]) -> EventInstance:
    """A stored event row (``source_id`` first, then EVENT_COLUMNS) as a record."""
    (source_id, series_id, start_ts, end_ts, organizer, attendees, attendee_count, all_day,
     original_tz, title, status, transparency, event_type, recurring, self_response) = row
    event: EventInstance = _new_event(
        source_id, series_id, from_epoch(start_ts), from_epoch(end_ts), organizer,
        tuple(map(_attendee, _loads(attendees))),
        attendee_count, bool(all_day), original_tz, title, _STATUSES[status],
        _TRANSPARENCIES[transparency], _EVENT_TYPES[event_type], bool(recurring),
        _RESPONSES[self_response] if self_response else None,
    )
    return event


def message_row(message: MessageMeta) -> tuple[Any, ...]:
    return (
        message.message_id, message.thread_id, to_epoch(message.timestamp), message.sender,
        _join(message.to), _join(message.cc), _join(message.bcc), message.direction.value,
        message.in_reply_to, _join(message.references), message.list_id,
        int(message.list_unsubscribe), message.auto_submitted, message.precedence,
        int(message.is_invitation), message.subject, message.sender_name,
    )


def message_from_row(row: tuple[Any, ...]) -> MessageMeta:
    """A stored message row (``source_id`` first, then MESSAGE_COLUMNS) as a record."""
    (source_id, message_id, thread_id, ts, sender, to_addrs, cc_addrs, bcc_addrs, direction,
     in_reply_to, refs, list_id, list_unsubscribe, auto_submitted, precedence, is_invitation,
     subject, sender_name) = row
    # Splits inlined: four function calls per message are measurable at a million rows.
    message: MessageMeta = _new_message(
        source_id, message_id, thread_id, _fromtimestamp(ts, UTC), sender,
        tuple(to_addrs.split(SEP)) if to_addrs else (),
        tuple(cc_addrs.split(SEP)) if cc_addrs else (),
        tuple(bcc_addrs.split(SEP)) if bcc_addrs else (),
        _DIRECTIONS[direction], in_reply_to,
        tuple(refs.split(SEP)) if refs else (),
        list_id, bool(list_unsubscribe), auto_submitted, precedence, bool(is_invitation),
        subject, sender_name or "",
    )
    return message


_fromtimestamp = datetime.fromtimestamp


def names_any(row: tuple[Any, ...], naming: Callable[[str], bool]) -> bool:
    """Whether a stored message row (``source_id`` first, then MESSAGE_COLUMNS) has a
    sender, To or Cc address ``naming`` holds true for: the addresses as decoding would
    give them, without decoding the rest of the row."""
    sender, to_addrs, cc_addrs = row[4], row[5], row[6]
    if sender and naming(sender):
        return True
    return any(naming(a) for a in (*(to_addrs.split(SEP) if to_addrs else ()),
                                   *(cc_addrs.split(SEP) if cc_addrs else ())))


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
