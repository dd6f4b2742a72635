"""The digest's content as data: what the rules recommend, with the evidence.

This is the seam between the pure brain (``rules``) and the presentation
(``worker.digest``): the engine builds a :class:`Digest`, the renderer turns it
into text, HTML or JSON, and ``digest --format json`` prints ``to_json()``
(schema: docs/digest.schema.json). Plain frozen dataclasses, no behaviour
beyond serialization.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from peerpulse.rules.coverage import Trend
from peerpulse.rules.reciprocity import Balance

SECTIONS = (
    "peer_of_the_week",
    "reconnect",
    "reciprocity",
    "celebrate",
    "coverage",
    "feedback",
    "invitations",
    "leaders",
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One interaction behind a recommendation."""

    date: str  # ISO date in the manager's time zone
    kind: str  # "one_on_one", "lunch", "small_meeting", "mail_sent", ...
    weight: float
    record_id: str  # "<source>:<source_id>", so explain can find it
    initiated_by_me: bool | None = None


@dataclass(frozen=True, slots=True)
class PersonEntry:
    """A person named in the digest, with why."""

    email: str
    name: str
    department: str | None
    last_interaction: str | None  # ISO date in the manager's time zone, or None if never
    days_since: int | None
    cadence_days: int
    reasons: tuple[str, ...]
    evidence: tuple[Evidence, ...] = ()
    title: str | None = None
    tie_strength: float = 0.0
    days_overdue: int | None = None
    already_scheduled: str | None = None  # ISO date of an upcoming 1:1/small meeting
    # days until the tie strength decays below [tie_strength] dormant_below without new
    # contact; None when it already is below (or never met, or the forecast is off)
    fades_in_days: int | None = None


@dataclass(frozen=True, slots=True)
class Slot:
    """A proposed free slot in the manager's calendar (local times, ISO 8601)."""

    start: str
    end: str


@dataclass(frozen=True, slots=True)
class PeerOfTheWeek:
    person: PersonEntry
    slots: tuple[Slot, ...] = ()
    first_coffee: bool = False  # a peer never or barely met, not a tie to keep


@dataclass(frozen=True, slots=True)
class ReciprocityEntry:
    person: PersonEntry
    direction: Balance
    initiated_by_me: int
    initiated_by_them: int
    action: str = ""  # the concrete next step: "invite Lee next", "write to Lee first next"


@dataclass(frozen=True, slots=True)
class CelebrateEntry:
    person: PersonEntry
    what: str  # "title change: Director -> VP" or "subject: 'We shipped Atlas'"
    date: str


@dataclass(frozen=True, slots=True)
class DepartmentCoverage:
    department: str
    key_function: bool
    weeks_4: float  # interactions (weighted) in the last 4 weeks
    weeks_13: float
    weeks_26: float
    trend: Trend
    last_interaction: str | None
    peers: int


@dataclass(frozen=True, slots=True)
class Invitation:
    meeting_title: str | None
    meeting_series_id: str
    weekday: str
    local_time: str
    attendee_departments: tuple[str, ...]
    person: PersonEntry


@dataclass(frozen=True, slots=True)
class Digest:
    account: str
    period: str  # ISO week, "2026-W48"
    generated_at: str  # ISO datetime in the manager's time zone
    timezone: str
    owner: str
    peer_of_the_week: PeerOfTheWeek | None
    reconnect: tuple[PersonEntry, ...] = ()
    reciprocity: tuple[ReciprocityEntry, ...] = ()
    celebrate: tuple[CelebrateEntry, ...] = ()
    coverage: tuple[DepartmentCoverage, ...] = ()
    feedback: tuple[PersonEntry, ...] = ()
    invitations: tuple[Invitation, ...] = ()
    stats: dict[str, Any] = field(default_factory=dict)
    # ties with a usual rhythm that fall below the threshold before the next digest
    fading: tuple[PersonEntry, ...] = ()
    # Leaders to keep informed: never peers, never in the sections above (issue 9, item 2).
    leaders: tuple[PersonEntry, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Nothing actionable: no pick, no one to reconnect, thank, ask or invite, and
        no tie fading before the next digest.

        A digest warning that the owner appears in no record is not empty: fixing
        the address is the action.
        """
        return not (
            self.owner_missing
            or self.peer_of_the_week
            or self.reconnect
            or self.reciprocity
            or self.celebrate
            or self.feedback
            or self.invitations
            or self.fading
            or self.leaders
        )

    @property
    def owner_missing(self) -> bool:
        """Records were read but none names the owner (any alias): advice would be untuned."""
        return bool(self.stats.get("owner_missing"))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return data
