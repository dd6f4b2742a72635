"""exchangelib items -> normalized records. Pure: attribute access only, no I/O, no clock.

EWS gives what Mail.ReadBasic hides: In-Reply-To, References and the Internet
headers, so messages map through :mod:`connectors.headers` exactly like mbox.
Calendar items come from a CalendarView (occurrences and exceptions expanded
by the server).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from email.utils import formataddr
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from peerpulse.connectors.addresses import normalize_address, private_text, single_line
from peerpulse.connectors.headers import message_meta_from_headers
from peerpulse.connectors.records import (
    Attendee,
    EventInstance,
    EventStatus,
    EventType,
    MailCommand,
    MessageMeta,
    ResponseStatus,
    Transparency,
)

CALENDAR_FIELDS = (
    "uid", "subject", "sensitivity", "start", "end", "is_all_day", "legacy_free_busy_status",
    "is_cancelled", "type", "my_response_type", "organizer", "required_attendees",
    "optional_attendees", "resources", "_start_timezone", "_end_timezone",
)
MESSAGE_FIELDS = (
    "item_class", "subject", "datetime_received", "datetime_sent", "in_reply_to", "is_draft",
    "headers", "conversation_id", "sender", "author", "to_recipients", "cc_recipients",
    "bcc_recipients", "message_id", "references",
)
_RESPONSES = {
    "Accept": ResponseStatus.ACCEPTED,
    "Organizer": ResponseStatus.ACCEPTED,
    "Tentative": ResponseStatus.TENTATIVE,
    "Decline": ResponseStatus.DECLINED,
}
# The Internet headers worth keeping (the rest never reach a record).
_KEPT_HEADERS = {"list-id", "list-unsubscribe", "auto-submitted", "precedence", "delivered-to"}


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return datetime(*value.timetuple()[:6], value.microsecond, tzinfo=UTC)
    # a plain datetime: EWSDateTime refuses the stdlib's UTC in astimezone()
    return datetime.fromtimestamp(value.timestamp(), UTC)


def _mailbox(box: Any) -> tuple[str | None, str]:
    if box is None:
        return None, ""
    return normalize_address(getattr(box, "email_address", None)), single_line(
        str(getattr(box, "name", "") or "")
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def event_instance(item: Any, *, account_zone: str, subjects: str) -> EventInstance | None:
    """A CalendarView item as EventInstance; None for cancelled, masters or unusable items."""
    item_id = getattr(item, "id", None)
    if not item_id or getattr(item, "is_cancelled", False):
        return None
    if getattr(item, "type", None) == "RecurringMaster":
        return None
    all_day = bool(getattr(item, "is_all_day", False))
    start, end = getattr(item, "start", None), getattr(item, "end", None)
    start_utc: datetime | None
    end_utc: datetime | None
    if all_day:
        # exchangelib turns an all-day item's bounds into dates in the meeting's own zone,
        # the end *inclusive* (the last day); anchor them at local midnight like Google's.
        zone = _zone(account_zone)
        first = start.astimezone(zone).date() if isinstance(start, datetime) else start
        last = end.astimezone(zone).date() if isinstance(end, datetime) else end
        if not isinstance(first, date) or not isinstance(last, date):
            return None
        exclusive = last if isinstance(end, datetime) else last + timedelta(days=1)
        start_utc = datetime.combine(first, time(0), zone).astimezone(UTC)
        end_utc = datetime.combine(exclusive, time(0), zone).astimezone(UTC)
    else:
        start_utc, end_utc = _utc(start), _utc(end)
    if start_utc is None or end_utc is None:
        return None
    organizer, organizer_name = _mailbox(getattr(item, "organizer", None))
    attendees: list[Attendee] = []
    for kind in ("required_attendees", "optional_attendees", "resources"):
        for raw in getattr(item, kind, None) or []:
            email, name = _mailbox(getattr(raw, "mailbox", None))
            if email is None:
                continue
            answer = str(getattr(raw, "response_type", "") or "")
            attendees.append(
                Attendee(email, name, _RESPONSES.get(answer, ResponseStatus.NEEDS_ACTION),
                         is_organizer=email == organizer, is_resource=kind == "resources")
            )
    if attendees and organizer and not any(a.email == organizer for a in attendees):
        attendees.insert(
            0, Attendee(organizer, organizer_name, ResponseStatus.ACCEPTED, is_organizer=True)
        )
    busy = str(getattr(item, "legacy_free_busy_status", "") or "Busy")
    own = _RESPONSES.get(str(getattr(item, "my_response_type", "") or ""))
    subject = getattr(item, "subject", None)
    private = str(getattr(item, "sensitivity", "") or "") in ("Private", "Confidential")
    kind = str(getattr(item, "type", "") or "Single")
    return EventInstance(
        source_id=str(item_id),
        series_id=str(getattr(item, "uid", None) or item_id),
        start=start_utc,
        end=max(start_utc, end_utc),
        organizer=organizer,
        attendees=tuple(attendees),
        attendee_count=sum(1 for a in attendees if not a.is_resource),
        all_day=all_day,
        title=None if subject is None or private else private_text(str(subject), subjects),
        status=EventStatus.TENTATIVE if busy == "Tentative" else EventStatus.CONFIRMED,
        transparency=Transparency.FREE if busy == "Free" else Transparency.BUSY,
        event_type=EventType.OUT_OF_OFFICE
        if busy == "OOF"
        else EventType.WORKING_LOCATION
        if busy == "WorkingElsewhere"
        else EventType.DEFAULT,
        recurring=kind in ("Occurrence", "Exception"),
        self_response=own,
    )


def _addresses(boxes: Iterable[Any] | None) -> str:
    out = []
    for box in boxes or []:
        address = getattr(box, "email_address", None)
        if address:
            out.append(formataddr((str(getattr(box, "name", "") or ""), str(address))))
    return ", ".join(out)


def message_meta(
    item: Any, owner: frozenset[str], subjects: str, *, sent_folder: bool = False
) -> MessageMeta | MailCommand | None:
    """A message as MessageMeta (or MailCommand: the owner's digest action link); None
    for drafts and items without a time."""
    item_id = getattr(item, "id", None)
    if not item_id or getattr(item, "is_draft", False):
        return None
    when = _utc(getattr(item, "datetime_received", None)) or _utc(
        getattr(item, "datetime_sent", None)
    )
    if when is None:
        return None
    headers: dict[str, str] = {}
    for header in getattr(item, "headers", None) or []:
        name = str(getattr(header, "name", "")).lower()
        if name in _KEPT_HEADERS:
            headers.setdefault(name, str(getattr(header, "value", "")))
    author = getattr(item, "author", None)
    headers.update(
        {
            "from": _addresses([author] if author else []),
            "sender": _addresses([getattr(item, "sender", None)] if getattr(item, "sender", None)
                                 else []),
            "to": _addresses(getattr(item, "to_recipients", None)),
            "cc": _addresses(getattr(item, "cc_recipients", None)),
            "bcc": _addresses(getattr(item, "bcc_recipients", None)),
        }
    )
    for key, attr in (("message-id", "message_id"), ("in-reply-to", "in_reply_to"),
                      ("references", "references"), ("subject", "subject")):
        value = getattr(item, attr, None)
        if value is not None:
            headers[key] = str(value)
    if str(getattr(item, "item_class", "") or "").startswith("IPM.Schedule.Meeting"):
        headers["content-type"] = "text/calendar; method=REQUEST"
    conversation = getattr(item, "conversation_id", None)
    thread = getattr(conversation, "id", None) if conversation is not None else None
    return message_meta_from_headers(
        {k: v for k, v in headers.items() if v},
        source_id=str(item_id),
        timestamp=when,
        owner=owner,
        subjects=subjects,
        thread_id=str(thread) if thread else None,
        sent_label=sent_folder,
    )
