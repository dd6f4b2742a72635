"""The decay forecast (issue 13, item 3): when a tie falls below the owner's threshold."""

from __future__ import annotations

import math
from datetime import date

from peerpulse.rules.loader import load_rules
from peerpulse.rules.overrides import Override
from peerpulse.rules.scoring import days_until_below

from tests.rules.builders import ME, PEERS, days_ago, meeting, run

FIN, HR, SALES, OPS, MKT = PEERS


def test_days_until_below_is_half_lives_times_log2_of_the_ratio() -> None:
    assert days_until_below(40.0, 10.0, 90.0) == 180  # two half-lives
    assert days_until_below(10.5, 10.0, 90.0) == math.ceil(90 * math.log2(1.05))
    assert days_until_below(9.0, 10.0, 90.0) is None  # already below
    assert days_until_below(40.0, 0.0, 90.0) is None  # forecast off


def _weekly_tie() -> list:  # type: ignore[type-arg]
    # a weekly 1:1 with OPS for two months, the last 10 days ago: a tie with a rhythm,
    # not overdue yet (so named in no other section); FIN is the tie that is overdue
    # (organized in turn: balanced, so not a reciprocity entry either)
    weekly = [meeting(days_ago(10 + 7 * k), OPS, organizer=OPS if k % 2 else ME)
              for k in range(10)]
    return weekly + [meeting(days_ago(d), FIN) for d in (150, 160, 170)]


def _rules(threshold: float):  # type: ignore[no-untyped-def]
    return load_rules([("r.toml", f"[tie_strength]\ndormant_below = {threshold}\n")])


def test_a_tie_crossing_before_the_next_digest_is_flagged_and_explained() -> None:
    strength = run(_weekly_tie()).views[OPS].score.tie_strength
    # asked for feedback last week, so OPS is named in no other section
    near = run(_weekly_tie(), rules=_rules(round(strength * 0.97, 3)),
               history={"feedback": [("2026-W47", OPS)]})
    assert near.views[OPS].cadence.usual_gap is not None
    assert near.views[OPS].fades_in == 4
    (flagged,) = near.digest.fading
    assert flagged.email == OPS and flagged.fades_in_days == 4
    assert flagged.reasons[0].startswith("Falls below your threshold in about 4 days")
    assert "falls below your threshold" in str(near.explain(OPS))
    assert "in about 4 days without contact" in str(near.explain(OPS))


def test_a_later_crossing_a_snooze_or_a_threshold_of_zero_flags_nothing() -> None:
    strength = run(_weekly_tie()).views[OPS].score.tie_strength
    later = run(_weekly_tie(), rules=_rules(round(strength * 0.9, 3)))
    assert later.views[OPS].fades_in == math.ceil(90 * math.log2(1 / 0.9)) or \
        later.views[OPS].fades_in == math.ceil(90 * math.log2(strength / round(strength * 0.9, 3)))
    assert later.digest.fading == ()
    snooze = Override(OPS, "snooze", days_ago(1), "cli", until=date(2027, 1, 1))
    snoozed = run(_weekly_tie(), rules=_rules(round(strength * 0.97, 3)), overrides=(snooze,))
    assert snoozed.digest.fading == ()
    off = run(_weekly_tie(), rules=_rules(0))
    assert off.views[OPS].fades_in is None and off.digest.fading == ()
    assert "forecast:" not in str(off.explain(OPS))


def test_an_acquaintance_without_a_rhythm_is_never_in_the_fading_line() -> None:
    one = [meeting(days_ago(40), HR)]
    strength = run(one).views[HR].score.tie_strength
    result = run(one, rules=_rules(round(strength * 0.97, 3)))
    assert result.views[HR].cadence.usual_gap is None
    assert HR not in {p.email for p in result.digest.fading}


def test_a_tie_named_in_another_section_is_not_repeated_in_the_fading_line() -> None:
    stopped = [meeting(days_ago(40 + 7 * k), OPS) for k in range(9)]  # overdue: reconnect
    strength = run(stopped).views[OPS].score.tie_strength
    result = run(stopped, rules=_rules(round(strength * 0.97, 3)))
    assert OPS in {p.email for p in result.digest.reconnect}
    assert result.digest.fading == ()
    (entry,) = [p for p in result.digest.reconnect if p.email == OPS]
    assert entry.fades_in_days == 4


def test_a_digest_with_only_a_fading_tie_is_not_empty() -> None:
    from dataclasses import replace

    strength = run(_weekly_tie()).views[OPS].score.tie_strength
    near = run(_weekly_tie(), rules=_rules(round(strength * 0.97, 3)),
               history={"feedback": [("2026-W47", OPS)]})
    only = replace(near.digest, peer_of_the_week=None, reconnect=(), reciprocity=(),
                   celebrate=(), feedback=(), invitations=())
    assert only.fading and not only.is_empty
    assert replace(only, fading=()).is_empty
