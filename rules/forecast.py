"""When a tie will fade: a forecast from its decayed strength (issue 13, item 3).

Tie strength (``rules.scoring``) halves every ``half_life_days`` without new
contact, so the day it falls below the owner's threshold
(``[tie_strength] dormant_below``) is known in advance:

    days = half_life * log2(strength / threshold)

"Falls below your threshold in about 3 weeks" is shown per person, and the ties
with a usual rhythm (a tie, not an acquaintance) that cross it before the next
digest get a line of their own, so a tie is flagged before it goes dark rather
than after. Pure arithmetic on the peer views.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from peerpulse.rules.recommendations import PersonEntry
from peerpulse.rules.views import Context, PeerView, entry

DIGEST_EVERY_DAYS = 7
FADING_SHOWN = 5


def fading(
    views: Sequence[PeerView], ctx: Context, named: Collection[str] = ()
) -> tuple[PersonEntry, ...]:
    """Ties with a usual rhythm that fall below the threshold before the next digest,
    soonest first: not snoozed or never, nothing already on the calendar, and not
    ``named`` in another section (their entry already says when they fade)."""
    found: list[tuple[int, str, PeerView]] = []
    for v in views:
        if v.cadence.usual_gap is None or v.upcoming or ctx.blocked(v.email) or v.email in named:
            continue
        days = v.fades_in
        if days is not None and days <= DIGEST_EVERY_DAYS:
            found.append((days, v.email, v))
    found.sort()
    return tuple(
        entry(v, [f"Falls below your threshold in about {span(days)}; "
                  f"usually every ~{v.cadence.usual_gap} days"], ctx)
        for days, _email, v in found[:FADING_SHOWN]
    )


def span(days: int) -> str:
    """"5 days", "3 weeks", "4 months": about how long."""
    if days < 14:
        return "1 day" if days == 1 else f"{days} days"
    weeks = round(days / 7)
    return f"{weeks} weeks" if weeks < 9 else f"{round(days / 30)} months"
