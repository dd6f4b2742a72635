"""The checkpoint's second state (``EngineInputs.ahead``; worker/checkpoint.py keeps it
at about a digest's own time): resumed a week later over only the records after it,
the digest equals the one read from every record, and the state equals the pass a
full read keeps at the same horizon. Random two-year histories (tests/rules/test_rebase.py's
generator: replies by headers and by "Re:" alone, series, multi-day meetings), week
after week, each digest resuming the previous one's second state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from peerpulse.rules.engine import compute

from tests.rules.test_rebase import (
    MARGIN,
    NOW,
    RULES,
    Store,
    assert_same_digest,
    history,
    inputs,
    normalized,
)

INF = float("inf")
RETENTION = 3650  # nothing leaves the window: the re-base has its own tests


def digest(store: Store, now, since: float, start: float, state: bytes | None,
           ahead: float):
    """A digest at ``now`` resuming ``state`` (the pass before ``start``), keeping both
    states: at ``now - MARGIN`` and at ``ahead``."""
    horizon = (now - MARGIN).timestamp()
    return compute(inputs(
        now, store.ev(since, start, horizon), store.msg(since, start, horizon),
        resume=state, checkpoint=True, ahead=True,
        mid_events=store.ev(since, horizon, ahead), mid_messages=store.msg(since, horizon, ahead),
        tail_events=store.ev(since, ahead, INF), tail_messages=store.msg(since, ahead, INF),
    ), RULES)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_week_after_week_from_the_second_state(seed: int) -> None:
    end = NOW
    start = end - timedelta(days=2 * 365)
    store = Store(*history(seed, start, end))
    since = (end - timedelta(days=RETENTION)).timestamp()
    now = start + timedelta(days=200)
    ahead = (now - timedelta(hours=1)).timestamp()
    result = digest(store, now, since, -INF, None, ahead)
    for _ in range(12):
        state, resumed_from = result.ahead_checkpoint, ahead
        assert state is not None
        kept_full = compute(inputs(
            now, store.ev(since, -INF, ahead), store.msg(since, -INF, ahead), checkpoint=True,
            tail_events=store.ev(since, ahead, INF), tail_messages=store.msg(since, ahead, INF),
        ), RULES).checkpoint
        assert normalized(state, since) == normalized(kept_full, since)
        now += timedelta(days=7)
        ahead = (now - timedelta(hours=1)).timestamp()
        result = digest(store, now, since, resumed_from, state, ahead)
        everything = compute(inputs(now, store.ev(since, -INF, INF),
                                    store.msg(since, -INF, INF)), RULES)
        assert_same_digest(result, everything)
        assert result.digest.stats["interactions"]
