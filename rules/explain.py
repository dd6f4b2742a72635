"""``peerpulse explain EMAIL``: the whole computation for one person, as data and text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from peerpulse.rules.forecast import span
from peerpulse.rules.inference import Exclusion, Interaction


@dataclass(frozen=True, slots=True)
class Explanation:
    email: str
    name: str
    department: str | None
    title: str | None
    is_peer: bool
    verdict: str  # "peer" or "not a peer: <rule> (<detail>)"
    counted: tuple[Interaction, ...] = ()
    excluded: tuple[Exclusion, ...] = ()
    excluded_total: int = 0
    tie_strength: float = 0.0
    half_life_days: float = 0.0
    cadence_days: int | None = None
    cadence_source: str | None = None
    last_interaction: str | None = None
    days_since: int | None = None
    days_overdue: int | None = None
    initiated_by_me: int = 0
    initiated_by_them: int = 0
    reciprocity: str = ""  # the verdict and its figures (rules.reciprocity.describe)
    already_scheduled: str | None = None
    team_meeting_attendance: int = 0
    reasons: tuple[str, ...] = ()
    fades_in_days: int | None = None
    dormant_below: float = 0.0
    zone: str = "UTC"
    notes: tuple[str, ...] = field(default_factory=tuple)
    # record id -> kept subject or meeting title, filled by the caller that holds the
    # records (the engine keeps no text); shown so a manager recognises each record
    labels: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"{self.name} <{self.email}>"]
        if self.department or self.title:
            lines.append(f"  {self.title or ''}{', ' if self.title and self.department else ''}"
                         f"{self.department or ''}")
        lines.append(f"  verdict: {self.verdict}")
        if self.is_peer:
            lines += [
                f"  tie strength: {self.tie_strength:.3f} (half-life {self.half_life_days:g} days)",
                f"  cadence: {self.cadence_days} days ({self.cadence_source})",
                f"  last interaction: {self.last_interaction or 'never'}"
                + (f" ({_ago(self.days_since)})" if self.days_since is not None else ""),
                f"  due: {_due(self.days_overdue)}",
                f"  initiated by you / by them: {self.initiated_by_me} / {self.initiated_by_them}",
                *([f"  reciprocity: {self.reciprocity}"] if self.reciprocity else []),
                f"  team meeting attendance: {self.team_meeting_attendance}",
            ]
            if self.dormant_below > 0:
                lines.append(f"  forecast: {_forecast(self.fades_in_days, self.dormant_below)}")
            if self.already_scheduled:
                lines.append(f"  already scheduled: {self.already_scheduled}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        if self.reasons:
            lines.append("  reasons:")
            lines += [f"    - {r}" for r in self.reasons]
        lines.append(f"  counted records ({len(self.counted)}):")
        for i in self.counted:
            who = " (you initiated)" if i.initiated_by_me else (
                " (they initiated)" if i.initiated_by_them else "")
            reply = " reply" if i.is_reply else ""
            lines.append(f"    {i.at.isoformat(timespec='minutes')}  {i.kind:<14} "
                         f"w={i.weight:.2f}{reply}{who}  {self._label(i.record_id)}")
        shown = len(self.excluded)
        more = f", most recent {shown} shown" if self.excluded_total > shown else ""
        lines.append(f"  excluded records ({self.excluded_total}{more}):")
        for e in self.excluded:
            when = e.at.isoformat(timespec="minutes") if e.at else "-"
            lines.append(f"    {when}  {e.rule}  {e.detail}  {self._label(e.record_id)}")
        return "\n".join(lines)

    def _label(self, record_id: str) -> str:
        label = self.labels.get(record_id)
        return f"{label!r}  {record_id}" if label else record_id


def _forecast(days: int | None, threshold: float) -> str:
    if days is None:
        return f"below your threshold ({threshold:g})"
    return f"falls below your threshold ({threshold:g}) in about {span(days)} without contact"


def _ago(days: int) -> str:
    return "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"


def _due(days_overdue: int | None) -> str:
    if days_overdue is None:
        return "-"
    if days_overdue > 0:
        return f"{days_overdue} day{'s' if days_overdue != 1 else ''} overdue"
    if days_overdue == 0:
        return "due today"
    return "in 1 day" if days_overdue == -1 else f"in {-days_overdue} days"
