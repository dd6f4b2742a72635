"""Find the owner's recurring team meeting, and who from outside the team attends.

The team meeting is a recurring series the owner organizes, held at least
``min_occurrences`` times in the last ``window_weeks`` at most ``max_gap_days``
apart on average (weekly-ish), with at least ``min_others`` other attendees on
average who are mostly (``min_report_share``) the owner's reports. A standing
2-person 1:1 with a report is never the team meeting. When several qualify, the
most frequent wins. It feeds the invitations section (invite peers'
people to your team meetings) and each peer's attendance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from peerpulse.connectors.records import EventInstance, ResponseStatus
from peerpulse.rules.inference import Participant
from peerpulse.rules.ruleset import RuleSet

DAY = 86400.0


@dataclass(slots=True)
class _Series:
    occurrences: int = 0
    share_sum: float = 0.0
    others_sum: int = 0
    first_start: datetime | None = None
    attendance: dict[str, int] = field(default_factory=dict)
    title: str | None = None
    last_start: datetime | None = None


@dataclass(frozen=True, slots=True)
class TeamMeeting:
    series_id: str
    title: str | None
    occurrences: int
    report_share: float
    last_start: datetime
    attendance: dict[str, int]  # canonical email -> occurrences attended (not declined)


class TeamMeetingDetector:
    """Observes the owner's recurring events as they stream by (bounded: one entry per series)."""

    def __init__(self, reports: frozenset[str], now: datetime, rules: RuleSet) -> None:
        self.reports = reports
        self.rules = rules.model.team_meeting
        self.since = now.timestamp() - self.rules.window_weeks * 7 * DAY
        self.series: dict[str, _Series] = {}

    def observe(self, event: EventInstance, people: list[Participant]) -> None:
        if event.start.timestamp() < self.since or not people:
            return
        if event.status.value == "cancelled":
            return
        entry = self.series.get(event.series_id)
        if entry is None:
            entry = self.series[event.series_id] = _Series()
        entry.occurrences += 1
        entry.share_sum += sum(p.email in self.reports for p in people) / len(people)
        entry.others_sum += len(people)
        if entry.first_start is None or event.start < entry.first_start:
            entry.first_start = event.start
        for p in people:
            if p.response is not ResponseStatus.DECLINED:
                entry.attendance[p.email] = entry.attendance.get(p.email, 0) + 1
        if entry.last_start is None or event.start >= entry.last_start:
            entry.last_start = event.start
            entry.title = event.title

    def _weekly_ish(self, s: _Series) -> bool:
        """Mean gap between occurrences at most ``max_gap_days`` (a monthly review is not it)."""
        assert s.first_start is not None and s.last_start is not None
        span = (s.last_start - s.first_start).total_seconds() / DAY
        return span / max(1, s.occurrences - 1) <= self.rules.max_gap_days

    def result(self) -> TeamMeeting | None:
        best: TeamMeeting | None = None
        for series_id, s in sorted(self.series.items()):
            if s.occurrences < self.rules.min_occurrences or s.last_start is None:
                continue
            share = s.share_sum / s.occurrences
            if share < self.rules.min_report_share:
                continue
            if s.others_sum / s.occurrences < self.rules.min_others:
                continue
            if not self._weekly_ish(s):
                continue
            candidate = TeamMeeting(
                series_id, s.title, s.occurrences, share, s.last_start, dict(s.attendance)
            )
            if best is None or (candidate.occurrences, candidate.last_start) > (
                best.occurrences, best.last_start
            ):
                best = candidate
        return best
