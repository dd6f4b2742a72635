"""NUL characters never reach a store (issue 10 follow-up, item 3).

SQLite stores U+0000 in text; PostgreSQL refuses it, and one such character in a
header would fail a whole batch there. Both backends run every batch through
:func:`nul_free` first, so they store the same thing: each NUL in any text of
the batch (ids, headers, names, skipped-input reasons, cursor, connector state)
becomes U+FFFD, the character Unicode keeps for "something unrepresentable was
here". Replacing rather than deleting keeps ``a\\0b`` and ``ab`` apart.

The check is one pass over each record's text; a batch without NUL (all of
them, in practice) is returned as it is.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from peerpulse.connectors.records import EventInstance, MessageMeta, SyncBatch

NUL = "\x00"
REPLACEMENT = "\ufffd"

T = TypeVar("T")


def _message_text(m: MessageMeta) -> str:
    return (f"{m.source_id}{m.message_id}{m.thread_id}{m.sender}{''.join(m.to)}"
            f"{''.join(m.cc)}{''.join(m.bcc)}{m.in_reply_to}{''.join(m.references)}"
            f"{m.list_id}{m.auto_submitted}{m.precedence}{m.subject}{m.sender_name}")


def _event_text(e: EventInstance) -> str:
    people = "".join(f"{a.email}{a.name}" for a in e.attendees)
    return f"{e.source_id}{e.series_id}{e.organizer}{e.original_tz}{e.title}{people}"


def _has_nul(batch: SyncBatch) -> bool:
    for record in batch.upserts:
        cls = record.__class__
        if cls is MessageMeta:
            text = _message_text(record)  # type: ignore[arg-type]
        elif cls is EventInstance:
            text = _event_text(record)  # type: ignore[arg-type]
        else:
            # People and command mails are few: their repr is cheap enough, and it
            # shows a NUL as a backslash escape (a literal "\\x00" in the text
            # only sends the batch through the exact replacement, which finds none).
            text = "\0" if "\\x00" in repr(record) else ""
        if NUL in text:
            return True
    rest = (batch.deletions, batch.skipped, batch.state, batch.cursor, batch.scope,
            batch.run_id)
    return "\\x00" in repr(rest)


def _clean(value: T) -> T:
    """``value`` with every NUL in its text replaced, through tuples, lists and
    dataclasses (enums, numbers and times are left as they are)."""
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT) if NUL in value else value  # type: ignore[return-value]
    if isinstance(value, tuple | list):
        return type(value)(_clean(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes: dict[str, Any] = {
            f.name: _clean(getattr(value, f.name))
            for f in dataclasses.fields(value) if f.init
        }
        return dataclasses.replace(value, **changes)
    return value


def nul_free_text(text: str | None) -> str | None:
    """``text`` with each NUL replaced: for the store's other writes of outside text
    (a sync run's error message quotes file names and header values)."""
    return _clean(text)


def nul_free(batch: SyncBatch) -> SyncBatch:
    """``batch`` itself when no text in it holds NUL, else a copy with each NUL
    replaced by U+FFFD."""
    return _clean(batch) if _has_nul(batch) else batch
