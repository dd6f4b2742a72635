"""Small builders shared by the calendar planners: UIDs, guests, rooms, one event."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from peerpulse.worker.demo.ground_truth import MAX_ATTENDEES, event_kind
from peerpulse.worker.demo.model import EventSpec, Guest, Recurrence
from peerpulse.worker.demo.org import OrgChart

ROOMS = (
    ("Berlin-3-Spree (8)", "c_1881b3spree2a9f@resource.calendar.google.com"),
    ("Berlin-4-Havel (4)", "c_1887b4havel91c2@resource.calendar.google.com"),
    ("Berlin-5-Tegel, Boardroom (20)", "c_188cb5tegel77d0@resource.calendar.google.com"),
    ("London-2-Thames (6)", "c_1883l2thames5e1@resource.calendar.google.com"),
)
PROJECTOR = Guest("c_18f0projector01@resource.calendar.google.com", "Mobile projector",
                  "ACCEPTED", "RESOURCE")
PROJECTS = ("Atlas", "Borealis", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Helix")


def safe_to_decline(people: int) -> bool:
    """Whether one attendee declining leaves the meeting's size class unchanged.

    The ground truth must not depend on whether a consumer counts declined
    attendees in the meeting size, so the generator only lets someone decline
    where both counts give the same kind.
    """
    return people - 1 >= 3 and event_kind("", people) == event_kind("", people - 1) and not (
        people > MAX_ATTENDEES >= people - 1)


class EventFactory:
    """Turns "who, when, what" into EventSpecs with realistic identifiers and guests."""

    def __init__(self, org: OrgChart, rng: random.Random) -> None:
        self.org = org
        self.rng = rng
        self._serial = 0

    def uid(self, outlook: bool = False) -> str:
        self._serial += 1
        if outlook:  # Outlook's UIDs are long upper-case hex blobs
            return (f"040000008200E00074C5B7101A82E00800000000"
                    f"{self.rng.getrandbits(64):016X}{self._serial:08X}")
        return f"{self.rng.getrandbits(80):020x}{self._serial:04d}@google.com"

    def guest(self, email: str, partstat: str = "ACCEPTED", alias_rate: float = 0.0) -> Guest:
        person = self.org.by_email.get(email)
        address = email
        if person and person.aliases and self.rng.random() < alias_rate:
            address = self.rng.choice(person.aliases)
        return Guest(address, person.name if person else "", partstat)

    def owner(self, partstat: str = "ACCEPTED") -> Guest:
        return self.guest(self.org.owner, partstat)

    def room(self, london: bool = False) -> Guest:
        name, email = ROOMS[3] if london else self.rng.choice(ROOMS[:3])
        return Guest(email, name, "ACCEPTED", "ROOM")

    def event(self, summary: str, start: datetime, minutes: int, organizer: str,
              guests: list[Guest], *, tzid: str | None = "", recurrence: Recurrence | None = None,
              outlook: bool = False, **extra: object) -> EventSpec:
        """An event in ``start``'s zone (``tzid=None`` writes UTC times)."""
        zone = getattr(start.tzinfo, "key", None) if tzid == "" else tzid
        return EventSpec(
            uid=self.uid(outlook), summary=summary, start=start,
            end=start + timedelta(minutes=minutes), tzid=zone,
            organizer=self.guest(organizer), guests=tuple(guests), recurrence=recurrence,
            **extra,  # type: ignore[arg-type]
        )

    def name_of(self, email: str) -> str:
        return self.org.by_email[email].name.split()[0]
