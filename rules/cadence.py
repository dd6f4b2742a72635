"""How often the owner wants to be in touch with a peer, and how overdue they are.

The cadence is the tightest of: the default, every matching ``[cadence] groups``
entry, and the peer's key function; an influential peer (a big team, a senior
title) gets it multiplied by ``influential.factor``. Each step leaves a reason.

A tie with a rhythm of its own (a weekly 1:1) is then judged by that rhythm: the
median gap between its recent interaction days times ``rhythm_factor``, never
below ``rhythm_min_days`` and never looser than the group cadence. A weekly 1:1
that stopped is flagged after ~3 weeks, not after the flat 60-day default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import median

from peerpulse.connectors.records import Person
from peerpulse.rules.ruleset import CadenceGroupMatcher, RuleSet


@dataclass(frozen=True, slots=True)
class Cadence:
    days: int
    source: str  # "default", "group Sales", "key function Finance", "rhythm"
    key_function: str | None
    influential: str | None  # why they are influential, if they are
    usual_gap: int | None = None  # median days between interactions, when the rhythm rules


DAY = 86400.0
_RHYTHM_DAYS = 9  # the last weeks with contact whose gaps make the rhythm


WEEK = 7 * DAY


def usual_gap(times: Sequence[float]) -> tuple[int, int] | None:
    """(median gap in days, number of gaps) between the recent weeks with contact, or
    None with fewer than two such weeks.

    Counted in weeks, not days: a thread of five mails over three days is one
    contact, not a rhythm of "every day"; a weekly 1:1 is every 7 days.
    """
    weeks = sorted({int(t // WEEK) for t in times})[-_RHYTHM_DAYS:]
    gaps = [b - a for a, b in zip(weeks, weeks[1:], strict=False)]
    if not gaps:
        return None
    return max(7, round(median(gaps) * 7)), len(gaps)


def with_rhythm(cadence: Cadence, times: Sequence[float], rules: RuleSet) -> Cadence:
    """The cadence tightened to the tie's own rhythm, when it has one (issue 9, item 7)."""
    model = rules.model.cadence
    if model.rhythm_factor <= 0:
        return cadence
    found = usual_gap(times)
    if found is None or found[1] < model.rhythm_min_gaps:
        return cadence
    gap = found[0]
    days = max(model.rhythm_min_days, round(gap * model.rhythm_factor))
    if days >= cadence.days:
        return cadence
    return replace(cadence, days=days, source="rhythm", usual_gap=gap)


def cadence_for(person: Person, team_size: int | None, rules: RuleSet) -> Cadence:
    days = rules.model.cadence.default_days
    source = "default"
    for group in rules.cadence_groups:
        if _group_matches(group, person) and group.days < days:
            days, source = group.days, f"group {group.name}"
    function = rules.key_function(person.department)
    if function and function.cadence_days < days:
        days, source = function.cadence_days, f"key function {function.name}"
    influential = influence(person, team_size, rules)
    if influential:
        days = max(1, round(days * rules.model.cadence.influential.factor))
    return Cadence(days, source, function.name if function else None, influential)


def influence(person: Person, team_size: int | None, rules: RuleSet) -> str | None:
    """Why a peer counts as influential (a big team, a senior title), or None."""
    model = rules.model.cadence.influential
    size = max(person.team_size or 0, team_size or 0)
    if model.min_team_size is not None and size >= model.min_team_size:
        return f"leads {size} people"
    if person.title:
        hit = rules.influential_titles.match(person.title)
        if hit:
            return f"senior title ({person.title})"
    return None


def _group_matches(group: CadenceGroupMatcher, person: Person) -> bool:
    if person.email.lower() in group.people:
        return True
    if group.departments and group.departments.match(person.department or ""):
        return True
    if group.titles and group.titles.match(person.title or ""):
        return True
    return bool(group.tags) and any(group.tags.match(t) for t in person.tags)


def days_overdue(days_since: int | None, cadence_days: int) -> int | None:
    """Days past the cadence (negative: still within it); None when never met."""
    if days_since is None:
        return None
    return days_since - cadence_days
