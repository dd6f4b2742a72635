"""Google API JSON -> normalized records. Pure functions: no I/O, no clock.

Mail headers are mapped by :mod:`connectors.headers` (and names, titles and
addresses go through :mod:`connectors.addresses`), so Gmail headers normalize
exactly like headers read from an mbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from peerpulse.connectors.addresses import normalize_address, private_text, single_line
from peerpulse.connectors.headers import ADDRESS_HEADERS, message_meta_from_headers
from peerpulse.connectors.records import (
    Attendee,
    EventInstance,
    EventStatus,
    EventType,
    MailCommand,
    MessageMeta,
    Person,
    ResponseStatus,
    Transparency,
)

# Only the headers MessageMeta needs: metadataHeaders keeps the response small.
METADATA_HEADERS = (
    "From",
    "To",
    "Cc",
    "Bcc",
    "Date",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Unsubscribe",
    "Auto-Submitted",
    "Precedence",
    "Content-Type",
    "Delivered-To",
    "Sender",
)
MESSAGE_FIELDS = "id,threadId,labelIds,internalDate,payload/headers"
THREAD_FIELDS = "id,messages(id,threadId,labelIds,internalDate,payload/headers)"
EVENT_FIELDS = (
    "nextPageToken,nextSyncToken,timeZone,items(id,status,summary,start,end,iCalUID,"
    "recurringEventId,originalStartTime,organizer(email,self),attendeesOmitted,transparency,"
    "eventType,attendees(email,displayName,responseStatus,organizer,self,resource))"
)
USER_FIELDS = (
    "nextPageToken,users(primaryEmail,name/fullName,emails,aliases,suspended,"
    "organizations(title,department,primary),relations(type,value))"
)

_RESPONSES = {
    "accepted": ResponseStatus.ACCEPTED,
    "tentative": ResponseStatus.TENTATIVE,
    "declined": ResponseStatus.DECLINED,
    "needsAction": ResponseStatus.NEEDS_ACTION,
}
_EVENT_TYPES = {
    "outOfOffice": EventType.OUT_OF_OFFICE,
    "focusTime": EventType.FOCUS_TIME,
    "workingLocation": EventType.WORKING_LOCATION,
}
_STATUSES = {
    "confirmed": EventStatus.CONFIRMED,
    "tentative": EventStatus.TENTATIVE,
    "cancelled": EventStatus.CANCELLED,
}


# -- mail ------------------------------------------------------------------------------


def header_map(message: Mapping[str, Any]) -> dict[str, str]:
    """Lower-cased header name -> value; repeated address headers are joined."""
    out: dict[str, str] = {}
    for header in (message.get("payload") or {}).get("headers") or []:
        name = str(header.get("name", "")).lower()
        value = str(header.get("value", ""))
        if name in out and name in ADDRESS_HEADERS:
            out[name] += ", " + value
        else:
            out.setdefault(name, value)
    return out


def message_time(message: Mapping[str, Any], headers: Mapping[str, str]) -> datetime | None:
    """Gmail's internalDate (when Gmail got it, ms since epoch); the Date header as fallback."""
    raw = message.get("internalDate")
    if raw is not None:
        try:
            return datetime.fromtimestamp(int(raw) / 1000, UTC)
        except (TypeError, ValueError, OverflowError):
            pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(headers.get("date", ""))
    except (TypeError, ValueError, IndexError):
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def message_meta(
    message: Mapping[str, Any], owner: frozenset[str], subjects: str
) -> MessageMeta | MailCommand | None:
    """A Gmail ``format=metadata`` message as MessageMeta; None if it has no usable time.

    The meaning of the headers is :func:`connectors.headers.message_meta_from_headers`'s;
    Gmail adds its own ids, internalDate and the SENT label (mail sent from an alias
    the config does not list). ``format=metadata`` shows only top-level headers, so
    there is no calendar-part hint: the Content-Type and subject must do.
    """
    headers = header_map(message)
    when = message_time(message, headers)
    if when is None:
        return None
    return message_meta_from_headers(
        headers,
        source_id=str(message["id"]),
        timestamp=when,
        owner=owner,
        subjects=subjects,
        thread_id=message.get("threadId"),
        sent_label="SENT" in (message.get("labelIds") or ()),
    )


# -- calendar --------------------------------------------------------------------------


def _zone(name: str | None, fallback: str) -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def event_time(value: Mapping[str, Any], zone: ZoneInfo) -> tuple[datetime, bool] | None:
    """(UTC instant, all_day) of a Google ``start``/``end``; all-day dates are floating
    and anchored at local midnight of the calendar's zone."""
    if value.get("dateTime"):
        try:
            when = datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone)
        return when.astimezone(UTC), False
    if value.get("date"):
        try:
            day = date.fromisoformat(str(value["date"]))
        except ValueError:
            return None
        return datetime.combine(day, time(0), zone).astimezone(UTC), True
    return None


def event_instance(
    item: Mapping[str, Any],
    *,
    calendar_zone: str | None,
    account_zone: str,
    subjects: str,
    id_prefix: str = "",
) -> EventInstance | None:
    """One ``events.list`` item (singleEvents=true) as EventInstance; None if unusable."""
    start_raw, end_raw = item.get("start") or {}, item.get("end") or {}
    zone_name = start_raw.get("timeZone") or calendar_zone
    zone = _zone(zone_name, account_zone)
    start = event_time(start_raw, zone)
    end = event_time(end_raw, zone)
    if start is None or end is None or not item.get("id"):
        return None
    attendees: list[Attendee] = []
    self_response: ResponseStatus | None = None
    for raw in item.get("attendees") or []:
        email = normalize_address(raw.get("email"))
        if email is None:
            continue
        response = _RESPONSES.get(str(raw.get("responseStatus")), ResponseStatus.NEEDS_ACTION)
        attendees.append(
            Attendee(
                email=email,
                name=single_line(str(raw.get("displayName", ""))),
                response=response,
                is_organizer=bool(raw.get("organizer")),
                is_resource=bool(raw.get("resource")),
            )
        )
        if raw.get("self"):
            self_response = response
    organizer_raw = item.get("organizer") or {}
    if self_response is None and organizer_raw.get("self"):
        self_response = ResponseStatus.ACCEPTED  # the organizer's own event
    count = sum(1 for a in attendees if not a.is_resource)
    if item.get("attendeesOmitted"):
        count += 1  # at least one more guest than listed; the exact number is not given
    summary = item.get("summary")
    return EventInstance(
        source_id=id_prefix + str(item["id"]),
        series_id=str(item.get("iCalUID") or item.get("recurringEventId") or item["id"]),
        start=start[0],
        end=end[0],
        organizer=normalize_address(organizer_raw.get("email")),
        attendees=tuple(attendees),
        attendee_count=count,
        all_day=start[1],
        original_tz=zone_name,
        title=private_text(str(summary), subjects) if summary is not None else None,
        status=_STATUSES.get(str(item.get("status")), EventStatus.CONFIRMED),
        transparency=Transparency.FREE
        if item.get("transparency") == "transparent"
        else Transparency.BUSY,
        event_type=_EVENT_TYPES.get(str(item.get("eventType")), EventType.DEFAULT),
        recurring=bool(item.get("recurringEventId")),
        self_response=self_response,
    )


# -- directory -------------------------------------------------------------------------


def people(users: Iterable[Mapping[str, Any]]) -> list[Person]:
    """Admin SDK ``users.list`` entries -> Person, with ``manages_anyone``/``team_size``
    derived from everyone's ``relations[type=manager]``."""
    rows: list[tuple[str, Mapping[str, Any], str | None]] = []
    reports: dict[str, int] = {}
    for user in users:
        email = normalize_address(user.get("primaryEmail"))
        if email is None or user.get("suspended"):
            continue
        manager = next(
            (
                normalize_address(r.get("value"))
                for r in user.get("relations") or []
                if r.get("type") == "manager"
            ),
            None,
        )
        if manager:
            reports[manager] = reports.get(manager, 0) + 1
        rows.append((email, user, manager))
    out = []
    for email, user, manager in rows:
        orgs = user.get("organizations") or []
        org = next((o for o in orgs if o.get("primary")), orgs[0] if orgs else {})
        aliases = {normalize_address(e.get("address")) for e in user.get("emails") or []}
        aliases |= {normalize_address(a) for a in user.get("aliases") or []}
        aliases.discard(None)
        aliases.discard(email)
        team = reports.get(email, 0)
        out.append(
            Person(
                email=email,
                name=single_line(str((user.get("name") or {}).get("fullName", ""))),
                aliases=tuple(sorted(a for a in aliases if a)),
                department=single_line(str(org.get("department")))
                if org.get("department")
                else None,
                title=single_line(str(org.get("title"))) if org.get("title") else None,
                manager=manager,
                manages_anyone=team > 0,
                team_size=team or None,
            )
        )
    return out
