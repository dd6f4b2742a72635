"""An .ics hold for the peer of the week's first proposed slot.

``METHOD:PUBLISH`` with no ATTENDEE lines: importing it blocks the time in the
manager's own calendar and invites nobody (the manager sends the real invitation
when they have asked the peer). The UID is derived from account and period, so
a resend of the period's digest updates the same calendar entry instead of
adding a second one. Start and end carry the manager's TZID, with a VTIMEZONE.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText
from peerpulse.rules.recommendations import Digest
from peerpulse.worker.digest.sanitize import NAME_LIMIT, clean_address, printable_line

PRODID = "-//peerpulse//peer-of-the-week hold//EN"
FILENAME = "peer-of-the-week.ics"


def hold_uid(account: str, period: str, domain: str) -> str:
    """Stable across reruns and resends of one period's digest."""
    digest = hashlib.sha256(f"{account}\x00{period}".encode()).hexdigest()[:24]
    return f"peerpulse-hold-{digest}@{domain}"


def build_hold(digest: Digest, *, organizer: str, now: datetime) -> bytes | None:
    """The .ics bytes for the first slot, or None when there is no pick or no slot."""
    pick = digest.peer_of_the_week
    if pick is None or not pick.slots:
        return None
    zone = ZoneInfo(digest.timezone)
    start = _local(pick.slots[0].start, zone)
    end = _local(pick.slots[0].end, zone)
    if start is None or end is None or end <= start:
        return None
    organizer = clean_address(organizer)
    name = printable_line(pick.person.name, NAME_LIMIT) or printable_line(
        pick.person.email, NAME_LIMIT
    )
    reason = printable_line(pick.person.reasons[0]) if pick.person.reasons else ""

    event = Event()
    event.add("uid", hold_uid(digest.account, digest.period, organizer.rsplit("@", 1)[1]))
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", vText(f"Hold: 1:1 with {name}"))
    description = f"Peer of the week ({digest.period}), proposed by peerpulse. {reason}".strip()
    contact = printable_line(pick.person.email, 120)
    description += f" Invite {name} <{contact}> yourself; this hold invites nobody."
    event.add("description", vText(description))
    event.add("organizer", vCalAddress(f"mailto:{organizer}"))
    event.add("status", "TENTATIVE")
    event.add("transp", "OPAQUE")
    event.add("class", "PRIVATE")

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _local(value: str, zone: ZoneInfo) -> datetime | None:
    """A slot time in the manager's zone; slot strings are ISO 8601, with or without offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone)
    return moment.astimezone(zone)
