"""The normalized records every connector produces.

These types are the one contract between sources (ICS/mbox exports, Google,
Microsoft) and everything downstream (store, rules, digest). They are plain
frozen dataclasses so that the pure rule engine can import them without pulling
in any provider library, and so that millions of them stay cheap in memory.

Times are always timezone-aware and in UTC; the zone the source used is kept
as a name (``original_tz``) for display and for all-day/floating semantics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from peerpulse.connectors.state import StateChange


class ResponseStatus(StrEnum):
    """An attendee's answer to an invitation (RFC 5545 PARTSTAT, Google responseStatus)."""

    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"
    NEEDS_ACTION = "needs-action"


class EventStatus(StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class Transparency(StrEnum):
    """Whether the event blocks time (busy) or not (free / TRANSP:TRANSPARENT)."""

    BUSY = "busy"
    FREE = "free"


class EventType(StrEnum):
    """Google's eventType / Graph's showAs=oof, reduced to what the rules need."""

    DEFAULT = "default"
    OUT_OF_OFFICE = "out-of-office"
    FOCUS_TIME = "focus-time"
    WORKING_LOCATION = "working-location"


class Direction(StrEnum):
    """A message's direction relative to the account owner."""

    SENT = "sent"  # the owner (or one of their aliases) is the sender
    RECEIVED = "received"  # the owner is a direct To/Cc/Bcc recipient
    SELF = "self"  # the owner wrote to themselves only
    OTHER = "other"  # neither: list traffic, Bcc'd, forwarded copies


class RecordKind(StrEnum):
    EVENT = "event"
    MESSAGE = "message"
    PERSON = "person"
    COMMAND = "command"


@dataclass(frozen=True, slots=True)
class Attendee:
    email: str
    name: str = ""
    response: ResponseStatus = ResponseStatus.NEEDS_ACTION
    is_organizer: bool = False
    is_resource: bool = False  # rooms and equipment are never people


@dataclass(frozen=True, slots=True)
class EventInstance:
    """One occurrence of a calendar event (recurring series are expanded).

    ``source_id`` is unique per (account, source) and stable across syncs; for
    an occurrence of a series it is ``<uid>@<original start>`` so that an
    override (RECURRENCE-ID) replaces exactly the occurrence it modifies.
    """

    source_id: str
    series_id: str
    start: datetime
    end: datetime
    organizer: str | None = None
    attendees: tuple[Attendee, ...] = ()
    attendee_count: int = 0  # may exceed len(attendees) when the source truncates the list
    all_day: bool = False
    original_tz: str | None = None
    title: str | None = None  # subject of the meeting; None when the privacy setting drops it
    status: EventStatus = EventStatus.CONFIRMED
    transparency: Transparency = Transparency.BUSY
    event_type: EventType = EventType.DEFAULT
    recurring: bool = False
    self_response: ResponseStatus | None = None  # the account owner's own answer, if known

    kind = RecordKind.EVENT


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """Header metadata of one mail message. Bodies never reach this type."""

    source_id: str
    message_id: str | None
    thread_id: str | None
    timestamp: datetime
    sender: str | None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()  # only known (and kept) for the owner's own sent mail
    direction: Direction = Direction.OTHER
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    list_id: str | None = None
    list_unsubscribe: bool = False
    auto_submitted: str | None = None
    precedence: str | None = None
    is_invitation: bool = False
    subject: str | None = None  # None, a hash, or the text, per the privacy setting
    sender_name: str = ""

    kind = RecordKind.MESSAGE

    @property
    def recipient_count(self) -> int:
        return len(self.to) + len(self.cc) + len(self.bcc)


@dataclass(frozen=True, slots=True)
class Person:
    """A directory entry: who someone is in the organization."""

    email: str
    name: str = ""
    aliases: tuple[str, ...] = ()
    department: str | None = None
    title: str | None = None
    manager: str | None = None  # the manager's email
    manages_anyone: bool = False
    tags: tuple[str, ...] = ()
    team_size: int | None = None

    kind = RecordKind.PERSON

    @property
    def source_id(self) -> str:
        return self.email


@dataclass(frozen=True, slots=True)
class MailCommand:
    """A digest action link the owner used: mail from the owner to the owner only,
    whose subject starts with :data:`COMMAND_MARKER` (issue 13, item 2).

    Connectors recognise it while mapping headers, *before* the subject is hashed
    or dropped for privacy, and yield this record instead of a
    :class:`MessageMeta`, so it never counts as an interaction. ``command`` is the
    subject after the marker, verbatim; the worker parses it and checks its
    signature, so a connector needs no key.
    """

    source_id: str
    timestamp: datetime
    command: str
    thread_id: str | None = None

    kind = RecordKind.COMMAND


#: How a command subject starts: ``peerpulse: snooze lee@example.com 4w 2026-W48 <token>``.
COMMAND_MARKER = "peerpulse:"


def command_text(subject: str | None) -> str | None:
    """The command after :data:`COMMAND_MARKER` (case-insensitive), or None."""
    if not subject:
        return None
    text = subject.strip()
    if text[: len(COMMAND_MARKER)].lower() != COMMAND_MARKER:
        return None
    return " ".join(text[len(COMMAND_MARKER):].split())


Record = EventInstance | MessageMeta | Person | MailCommand


@dataclass(frozen=True, slots=True)
class RecordKey:
    """Identifies a stored record for deletion: kind plus the source's native id."""

    kind: RecordKind
    source_id: str


@dataclass(frozen=True, slots=True)
class SkippedInput:
    """An input the connector could not read; reported and counted, never fatal."""

    location: str  # "path/to/file.ics:VEVENT #12" or "mbox offset 1234"
    reason: str


@dataclass(slots=True)
class SyncBatch:
    """One page of a sync: records to upsert and delete, and the cursor after them.

    The worker commits a batch's records and its cursor in one transaction, so a
    run killed between two batches resumes from the last committed cursor and
    neither loses nor duplicates anything.

    ``scope`` groups records that are replaced together (one ICS file, one Google
    calendar). When ``prune_scope`` is set, every stored record of that scope not
    stamped with ``run_id`` is deleted in the same transaction: this is how an
    event removed from an export, or a stale instance after a full resync,
    disappears.
    """

    upserts: list[Record] = field(default_factory=list)
    deletions: list[RecordKey] = field(default_factory=list)
    cursor: str | None = None
    scope: str = ""
    run_id: str = ""
    prune_scope: bool = False
    skipped: list[SkippedInput] = field(default_factory=list)
    # Connector state changes (connectors.state.StateChange) committed with this batch.
    state: list[StateChange] = field(default_factory=list)


# -- subjects -------------------------------------------------------------------

HASHED = "sha256:"  # a hashed subject or title: HASHED + 16 hex digits
HASHED_REPLY = "sha256:re:"  # ... of a subject that carried a Re:/AW:/SV: prefix

_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|antw|vs)\s*(?:\[\d+\])?\s*:\s*", re.IGNORECASE)


def split_reply_prefix(subject: str) -> tuple[bool, str]:
    """(had a reply prefix, the subject without any Re:/RE :/AW:/SV: prefixes, casefolded).

    Exports that lost In-Reply-To/References (Enron) still carry "Re:" in the
    subject; matched to an earlier subject in the same pair it marks a reply. Part
    of the record contract: connectors hash the stripped subject (``HASHED_REPLY``
    marks one that had a prefix), so the match also works with hashed subjects.
    """
    stripped = subject
    had = False
    while True:
        m = _REPLY_PREFIX.match(stripped)
        if not m:
            break
        had = True
        stripped = stripped[m.end():]
    return had, " ".join(stripped.split()).casefold()
