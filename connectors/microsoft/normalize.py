"""Graph JSON -> normalized records. Pure functions: no I/O, no clock.

Events come from ``calendarView/delta`` (occurrences and exceptions of a
series are separate items; the series master never is). Messages come from
message delta with ``$select`` of :data:`MESSAGE_SELECT`: Mail.ReadBasic
gives no body, no preview and no ``internetMessageHeaders`` (those are an
extended property, which ReadBasic excludes), so List-Id, Auto-Submitted,
Precedence, In-Reply-To and References are unknown. What stands in for them
(docs/MICROSOFT.md):

- drafts (``isDraft``) are skipped;
- meeting messages (``@odata.type`` ``#microsoft.graph.eventMessage*``) are invitations;
- received mail Outlook filed as "Other" (``inferenceClassification``, Focused
  Inbox) is marked ``Precedence: bulk`` when ``other_is_bulk`` is on;
- the rules' noreply sender globs still apply to the From address;
- threads are Graph's ``conversationId``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
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
    Person,
    ResponseStatus,
    Transparency,
)

# Everything a MessageMeta needs and nothing more (never body, bodyPreview, uniqueBody).
MESSAGE_SELECT = (
    "id,conversationId,internetMessageId,receivedDateTime,sentDateTime,from,sender,"
    "toRecipients,ccRecipients,bccRecipients,subject,isDraft,inferenceClassification"
)
USER_SELECT = (
    "id,mail,userPrincipalName,displayName,department,jobTitle,proxyAddresses,accountEnabled"
)

_RESPONSES = {
    "accepted": ResponseStatus.ACCEPTED,
    "organizer": ResponseStatus.ACCEPTED,
    "tentativelyAccepted": ResponseStatus.TENTATIVE,
    "declined": ResponseStatus.DECLINED,
}
_PRIVATE = {"private", "confidential"}


# -- time ------------------------------------------------------------------------------


def _zone(name: str | None, fallback: str) -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def parse_graph_time(value: Mapping[str, Any] | None, account_zone: str) -> datetime | None:
    """A Graph ``dateTimeTimeZone`` (7 fractional digits, zone named apart) as aware UTC.

    calendarView returns UTC unless ``Prefer: outlook.timezone`` asks otherwise;
    an IANA name is honoured, a Windows name falls back to the account's zone.
    """
    if not value or not value.get("dateTime"):
        return None
    text = str(value["dateTime"]).replace("Z", "")
    head, dot, frac = text.partition(".")
    text = head + (dot + frac[:6] if dot else "")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        zone_name = str(value.get("timeZone") or "UTC")
        when = when.replace(tzinfo=UTC if zone_name == "UTC" else _zone(zone_name, account_zone))
    return when.astimezone(UTC)


def parse_instant(value: Any) -> datetime | None:
    """An ISO 8601 UTC instant (``receivedDateTime``)."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def _all_day(value: Mapping[str, Any], zone: ZoneInfo) -> datetime | None:
    """An all-day bound: its date at local midnight of the account's zone (floating, like
    Google's ``date``), whatever zone Graph labelled it with."""
    try:
        day = date.fromisoformat(str(value.get("dateTime", ""))[:10])
    except ValueError:
        return None
    return datetime.combine(day, time(0), zone).astimezone(UTC)


# -- events ----------------------------------------------------------------------------


def _address(entry: Mapping[str, Any] | None) -> tuple[str | None, str]:
    email = (entry or {}).get("emailAddress") or {}
    return normalize_address(email.get("address")), single_line(str(email.get("name") or ""))


def event_instance(
    item: Mapping[str, Any], *, account_zone: str, subjects: str
) -> EventInstance | None:
    """One calendarView delta item as EventInstance; None if unusable or cancelled."""
    if not item.get("id") or item.get("isCancelled") or item.get("type") == "seriesMaster":
        return None
    all_day = bool(item.get("isAllDay"))
    zone = _zone(None, account_zone)
    if all_day:
        start = _all_day(item.get("start") or {}, zone)
        end = _all_day(item.get("end") or {}, zone)
    else:
        start = parse_graph_time(item.get("start"), account_zone)
        end = parse_graph_time(item.get("end"), account_zone)
    if start is None or end is None:
        return None
    organizer, organizer_name = _address(item.get("organizer"))
    attendees: list[Attendee] = []
    for raw in item.get("attendees") or []:
        email, name = _address(raw)
        if email is None:
            continue
        answer = str((raw.get("status") or {}).get("response") or "none")
        attendees.append(
            Attendee(
                email=email,
                name=name,
                response=_RESPONSES.get(answer, ResponseStatus.NEEDS_ACTION),
                is_organizer=email == organizer or answer == "organizer",
                is_resource=raw.get("type") == "resource",
            )
        )
    if attendees and organizer and not any(a.email == organizer for a in attendees):
        # Graph lists the guests without the organizer; Google and ICS list them too.
        attendees.insert(
            0,
            Attendee(organizer, organizer_name, ResponseStatus.ACCEPTED, is_organizer=True),
        )
    own = str((item.get("responseStatus") or {}).get("response") or "")
    self_response = _RESPONSES.get(own) if own else None
    if self_response is None and item.get("isOrganizer"):
        self_response = ResponseStatus.ACCEPTED
    show_as = str(item.get("showAs") or "busy")
    subject = item.get("subject")
    private = str(item.get("sensitivity") or "normal") in _PRIVATE
    kind = str(item.get("type") or "singleInstance")
    return EventInstance(
        source_id=str(item["id"]),
        series_id=str(item.get("seriesMasterId") or item.get("iCalUId") or item["id"]),
        start=start,
        end=max(start, end),
        organizer=organizer,
        attendees=tuple(attendees),
        attendee_count=sum(1 for a in attendees if not a.is_resource),
        all_day=all_day,
        original_tz=str(item.get("originalStartTimeZone") or "") or None,
        # A private or confidential meeting keeps no title, whatever the privacy setting.
        title=None if subject is None or private else private_text(str(subject), subjects),
        status=EventStatus.TENTATIVE if show_as == "tentative" else EventStatus.CONFIRMED,
        transparency=Transparency.FREE if show_as == "free" else Transparency.BUSY,
        event_type=EventType.OUT_OF_OFFICE
        if show_as == "oof"
        else EventType.WORKING_LOCATION
        if show_as == "workingElsewhere"
        else EventType.DEFAULT,
        recurring=kind in ("occurrence", "exception"),
        self_response=self_response,
    )


# -- mail ------------------------------------------------------------------------------


def _addresses(entries: Iterable[Mapping[str, Any]] | None) -> str:
    out = []
    for entry in entries or []:
        email = (entry or {}).get("emailAddress") or {}
        if email.get("address"):
            out.append(formataddr((str(email.get("name") or ""), str(email["address"]))))
    return ", ".join(out)


def message_meta(
    item: Mapping[str, Any],
    owner: frozenset[str],
    subjects: str,
    *,
    sent_folder: bool = False,
    other_is_bulk: bool = True,
) -> MessageMeta | MailCommand | None:
    """One message delta item as MessageMeta (or MailCommand: the owner's digest action
    link, see :func:`connectors.headers.message_meta_from_headers`); None for drafts and
    items without a time."""
    if not item.get("id") or item.get("isDraft"):
        return None
    when = parse_instant(item.get("receivedDateTime")) or parse_instant(item.get("sentDateTime"))
    if when is None:
        return None
    headers: dict[str, str] = {
        "from": _addresses([item["from"]] if item.get("from") else []),
        "sender": _addresses([item["sender"]] if item.get("sender") else []),
        "to": _addresses(item.get("toRecipients")),
        "cc": _addresses(item.get("ccRecipients")),
        "bcc": _addresses(item.get("bccRecipients")),
    }
    if item.get("internetMessageId"):
        headers["message-id"] = str(item["internetMessageId"])
    if item.get("subject") is not None:
        headers["subject"] = str(item["subject"])
    if str(item.get("@odata.type", "")).startswith("#microsoft.graph.eventMessage"):
        headers["content-type"] = "text/calendar; method=REQUEST"
    if other_is_bulk and not sent_folder and item.get("inferenceClassification") == "other":
        headers["precedence"] = "bulk"
    return message_meta_from_headers(
        {k: v for k, v in headers.items() if v},
        source_id=str(item["id"]),
        timestamp=when,
        owner=owner,
        subjects=subjects,
        thread_id=str(item["conversationId"]) if item.get("conversationId") else None,
        sent_label=sent_folder,
    )


def delivered_command_copy(
    record: MessageMeta | MailCommand, *, sent_folder: bool, sent_listed: bool
) -> bool:
    """True for the Inbox copy of a command mail when Sent Items is read too.

    A mail to oneself is two items in Exchange (the Sent Items copy and the delivered
    one, each with its own id); Gmail keeps one message with two labels. Keeping both
    would settle the one click twice, the second as "already applied: this link was
    used before", which the digest would report. The Sent Items copy is the one kept.
    """
    return isinstance(record, MailCommand) and not sent_folder and sent_listed


# -- directory -------------------------------------------------------------------------


def people(users: Iterable[Mapping[str, Any]]) -> list[Person]:
    """Graph users (``$expand=manager``) -> Person; ``manages_anyone``/``team_size`` come
    from everyone's manager, so no directReports request is needed."""
    rows: list[tuple[str, Mapping[str, Any], str | None]] = []
    reports: dict[str, int] = {}
    for user in users:
        email = normalize_address(user.get("mail") or user.get("userPrincipalName"))
        if email is None or user.get("accountEnabled") is False:
            continue
        boss = user.get("manager") or {}
        manager = normalize_address(boss.get("mail") or boss.get("userPrincipalName"))
        if manager:
            reports[manager] = reports.get(manager, 0) + 1
        rows.append((email, user, manager))
    out = []
    for email, user, manager in rows:
        aliases = set()
        for proxy in user.get("proxyAddresses") or []:
            kind, _, address = str(proxy).partition(":")
            if kind.lower() == "smtp":
                aliases.add(normalize_address(address))
        aliases.discard(None)
        aliases.discard(email)
        team = reports.get(email, 0)
        department, title = user.get("department"), user.get("jobTitle")
        out.append(
            Person(
                email=email,
                name=single_line(str(user.get("displayName") or "")),
                aliases=tuple(sorted(a for a in aliases if a)),
                department=single_line(str(department)) if department else None,
                title=single_line(str(title)) if title else None,
                manager=manager,
                manages_anyone=team > 0,
                team_size=team or None,
            )
        )
    return out
