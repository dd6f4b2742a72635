"""One peer seen from every angle the recommendations need, and how to show them.

:class:`PeerView` gathers a peer's directory entry, score, cadence and recency;
:class:`Context` holds what every section shares (rules, zone, now, period,
history). ``entry`` turns a view into the digest's :class:`PersonEntry`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from peerpulse.connectors.records import Person
from peerpulse.rules.cadence import Cadence
from peerpulse.rules.overrides import DONE_KIND, ActiveOverrides
from peerpulse.rules.recommendations import Evidence, PersonEntry
from peerpulse.rules.ruleset import RuleSet
from peerpulse.rules.scoring import PeerScore
from peerpulse.rules.tally import InteractionRow

if TYPE_CHECKING:
    from peerpulse.rules.history import PeerHistory

KIND_PHRASES = {
    "one_on_one": "1:1",
    "lunch": "meal or coffee",  # lunch_titles match coffee, breakfast and dinner: not all lunches
    "small_meeting": "small meeting",
    "large_meeting": "meeting",
    "mail_sent": "mail from you",
    "mail_received": "mail from them",
    DONE_KIND: "contact (you marked it done)",
}


@dataclass(frozen=True, slots=True)
class Context:
    rules: RuleSet
    zone: ZoneInfo
    now: datetime
    period: str
    history: Mapping[str, Sequence[tuple[str, str]]] = field(default_factory=dict)
    owner: str = ""  # seeds the weekly draws, so two managers are not sent to the same stranger
    # snooze / never / done given from the CLI or the digest's links (rules.overrides)
    overrides: ActiveOverrides = field(default_factory=ActiveOverrides)
    # ``now`` as epoch seconds and as the local date, computed once: every section asks
    # for them per peer (``blocked``), thousands of times with a shared directory
    _now_ts: float = field(default=0.0, init=False, repr=False, compare=False)
    _today: date | None = field(default=None, init=False, repr=False, compare=False)
    _blocked: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        today = self.now.astimezone(self.zone).date()
        object.__setattr__(self, "_now_ts", self.now.timestamp())
        object.__setattr__(self, "_today", today)
        policy = self.rules.model.recommend
        blocked = {*policy.never, *self.overrides.never}
        blocked.update(e for e, until in self.overrides.snoozed.items() if until >= today)
        blocked.update(s.email for s in policy.snooze if s.until >= today)
        object.__setattr__(self, "_blocked", frozenset(blocked))

    @property
    def now_ts(self) -> float:
        return self._now_ts

    @property
    def today(self) -> date:
        return self._today  # type: ignore[return-value]  # set in __post_init__

    def local_date(self, ts: float) -> date:
        return datetime.fromtimestamp(ts, self.zone).date()

    def iso_date(self, ts: float | None) -> str | None:
        return None if ts is None else self.local_date(ts).isoformat()

    def blocked(self, email: str) -> bool:
        """On the never list, or snoozed until after today (rules or overrides)."""
        return email in self._blocked

    @property
    def blocked_emails(self) -> frozenset[str]:
        """Everyone :meth:`blocked` is true for (left out of the cold peers at once)."""
        return self._blocked


@dataclass(slots=True)
class PeerView:
    email: str
    person: Person
    score: PeerScore
    cadence: Cadence
    rows: list[InteractionRow]  # the newest interactions (all of them without ``history``)
    days_since: int | None
    overdue: int | None
    upcoming: str | None  # ISO date of a 1:1 / lunch / small meeting already scheduled
    attendance: int = 0  # occurrences of the owner's team meeting attended
    unanswered: int = 0  # threads they started in the reciprocity window, not answered yet
    open_latest: tuple[float, ...] = ()  # times of the latest two of those, newest first
    mine_unanswered: int = 0  # threads you started in the reciprocity window they left unanswered

    @property
    def name(self) -> str:
        return self.person.name or self.email

    @property
    def department(self) -> str | None:
        return self.person.department

    fades_in: int | None = None  # days until the tie falls below [tie_strength] dormant_below
    # Every interaction, per day (rules.history); ``rows`` holds only the newest few.
    history: PeerHistory | None = None
    strength_at_last: float = 0.0  # tie strength as of the last interaction

    @property
    def overdue_ratio(self) -> float | None:
        """Days overdue as a share of the cadence (0.5 = half a cadence late)."""
        if self.overdue is None:
            return None
        return self.overdue / self.cadence.days


def cadence_phrase(view: PeerView) -> str:
    c = view.cadence
    if c.usual_gap is not None:
        # The rhythm and the cadence it sets, both: "every ~7 days" beside "136 days
        # overdue" after 157 days of silence reads as a sum that does not add up.
        return (f"you used to be in touch with {view.name} every ~{c.usual_gap} days, "
                f"so the cadence is {c.days} days")
    if c.key_function:
        who = c.key_function
    elif c.source.startswith("group "):
        who = c.source.removeprefix("group ")
    else:
        who = view.department or "peers"
    return f"your cadence with {who} is {c.days} days"


def recency_reason(view: PeerView) -> str:
    """"Last 1:1 was 74 days ago; your cadence with Finance is 30 days"."""
    s = view.score
    if s.last_at is None:
        return f"No interaction on record; {cadence_phrase(view)}"
    if s.last_meeting_at is not None and s.last_meeting_kind and s.last_meeting_at >= (
        s.last_at - 1
    ):
        kind = KIND_PHRASES[s.last_meeting_kind]
    else:
        kind = KIND_PHRASES.get(s.last_kind or "", "interaction")
    days = view.days_since
    ago = "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"
    return f"Last {kind} was {ago}; {cadence_phrase(view)}"


def entry(view: PeerView, reasons: Sequence[str], ctx: Context) -> PersonEntry:
    """The digest entry for a peer, with their most recent interactions as evidence."""
    n = ctx.rules.model.recommend.evidence_size
    recent = sorted(view.rows, key=lambda r: (r[0], r[3]), reverse=True)[:n]
    evidence = tuple(
        Evidence(
            date=ctx.local_date(at).isoformat(),
            kind=kind,
            weight=round(weight, 3),
            record_id=rid,
            initiated_by_me=me,
        )
        for at, kind, weight, rid, me, _them, _reply in recent
    )
    return PersonEntry(
        email=view.email,
        name=view.name,
        department=view.department,
        last_interaction=ctx.iso_date(view.score.last_at),
        days_since=view.days_since,
        cadence_days=view.cadence.days,
        reasons=tuple(reasons),
        evidence=evidence,
        title=view.person.title,
        tie_strength=round(view.score.tie_strength, 3),
        days_overdue=view.overdue,
        already_scheduled=view.upcoming,
        fades_in_days=view.fades_in,
    )


def cadence_reasons(view: PeerView) -> list[str]:
    """Extra sentences for a tightened cadence (influence)."""
    if view.cadence.influential:
        return [f"Influential peer ({view.cadence.influential}): cadence tightened"]
    return []
