"""Per-peer figures from their interactions: tie strength, recency, counts.

Tie strength is the Interactions Rank of Roth et al., "Suggesting Friends Using
the Implicit Social Graph", KDD 2010: a sum over interactions of
``weight * 0.5 ** (age / half_life)``, with interactions the owner initiated
multiplied by ``initiated_by_me_weight`` (their omega_out).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from peerpulse.rules.ruleset import RuleSet
from peerpulse.rules.tally import InteractionRow

DAY = 86400.0
MEETINGS = frozenset({"one_on_one", "lunch", "small_meeting", "large_meeting"})


def decay(age_days: float, half_life_days: float) -> float:
    """0.5 ** (age / half-life); an interaction in the future counts fully."""
    if age_days <= 0:
        return 1.0
    return 0.5 ** (age_days / half_life_days)


def days_until_below(strength: float, threshold: float, half_life_days: float) -> int | None:
    """Whole days until ``strength`` decays below ``threshold`` with no new contact
    (``half_life * log2(strength / threshold)``); None when it already is at or below
    it, or the threshold is 0 (the forecast is off)."""
    if threshold <= 0 or strength <= threshold or half_life_days <= 0:
        return None
    return math.ceil(half_life_days * math.log2(strength / threshold))


@dataclass(frozen=True, slots=True)
class PeerScore:
    tie_strength: float
    interactions: int
    first_at: float | None
    last_at: float | None
    last_kind: str | None
    last_meeting_at: float | None
    last_meeting_kind: str | None
    kinds: dict[str, int]
    initiated_by_me: int  # within the reciprocity window
    initiated_by_them: int
    replies: int

    @property
    def never_met(self) -> bool:
        return self.interactions == 0


def tie_strength(rows: Sequence[InteractionRow], now_ts: float, rules: RuleSet) -> float:
    """The Interactions Rank of one person as of ``now_ts``."""
    half_life = rules.model.tie_strength.half_life_days
    omega_out = rules.model.tie_strength.initiated_by_me_weight
    total = 0.0
    for at, _kind, weight, _rid, by_me, _by_them, _reply in rows:
        w = weight * omega_out if by_me else weight
        total += w * decay((now_ts - at) / DAY, half_life)
    return total


def score_peer(rows: Sequence[InteractionRow], now_ts: float, rules: RuleSet) -> PeerScore:
    """Everything scoring needs about one peer, from their (time-ordered or not) rows."""
    window_from = now_ts - rules.model.reciprocity.window_days * DAY
    kinds: dict[str, int] = {}
    first = last = last_meeting = None
    last_kind = last_meeting_kind = None
    by_me = by_them = replies = 0
    for at, kind, _weight, _rid, me, them, reply in rows:
        kinds[kind] = kinds.get(kind, 0) + 1
        if first is None or at < first:
            first = at
        if last is None or at >= last:
            last, last_kind = at, kind
        if kind in MEETINGS and (last_meeting is None or at >= last_meeting):
            last_meeting, last_meeting_kind = at, kind
        if at >= window_from:
            by_me += me
            by_them += them
        replies += reply
    return PeerScore(
        tie_strength=tie_strength(rows, now_ts, rules),
        interactions=len(rows),
        first_at=first,
        last_at=last,
        last_kind=last_kind,
        last_meeting_at=last_meeting,
        last_meeting_kind=last_meeting_kind,
        kinds=kinds,
        initiated_by_me=by_me,
        initiated_by_them=by_them,
        replies=replies,
    )
