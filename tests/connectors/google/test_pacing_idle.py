"""The per-user buckets and gates of one process stay bounded when it serves many users
(an organization worker meets every manager): the idle, settled ones are dropped;
what is in use, or has learned something (a cut rate, a lower concurrency limit), stays.
"""

from __future__ import annotations

import tracemalloc

import pytest
from peerpulse.connectors.google import pacing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(pacing, "CLOCK", fake)
    pacing.reset_buckets()
    yield fake
    pacing.reset_buckets()


def _sync(user: str) -> None:
    """What one mailbox's connector takes from this module, and one request each."""
    pacing.bucket_for("gmail", user, 6000, 100, initial=0.0)
    pacing.bucket_for("calendar", user, 500, 10).acquire(1)
    pacing.bucket_for("directory", user, 2000, 10).acquire(1)
    gate = pacing.gate_for("gmail", user, 25)
    gate.acquire(1)
    gate.release(1)


def _managers(clock: Clock, first: int, count: int) -> None:
    """``count`` managers synced one after another, a second apart."""
    for k in range(first, first + count):
        _sync(f"mgr{k}@example.com")
        clock.now += 1.0


def test_a_day_of_managers_keeps_only_the_recent_ones(clock):
    tracemalloc.start()
    try:
        _managers(clock, 0, 2000)
        at_2000 = tracemalloc.get_traced_memory()[0]
        _managers(clock, 2000, 8000)
        grew = tracemalloc.get_traced_memory()[0] - at_2000
    finally:
        tracemalloc.stop()
    # at most the last IDLE_SECONDS of managers plus one sweep's worth, not 10,000
    bound = pacing.IDLE_SECONDS + pacing.SWEEP_EVERY
    assert len(pacing._BUCKETS) <= 3 * bound and len(pacing._GATES) <= bound
    # flat from 2,000 to 10,000 managers (kept for good, it was ~2.6 kB each: 21 MB)
    assert grew < 100_000, grew


def test_a_bucket_in_use_is_the_same_bucket_across_sweeps(clock):
    bucket = pacing.bucket_for("gmail", "busy@example.com", 6000, 100)
    for k in range(20):  # 1,200 managers, 1,200 s, ~18 sweeps
        _managers(clock, 60 * k, 60)
        bucket.acquire(1)  # busy's sync still draws, once a minute
        assert pacing.bucket_for("gmail", "busy@example.com", 6000, 100) is bucket


def test_a_bucket_whose_rate_was_cut_is_kept_until_it_has_recovered(clock):
    bucket = pacing.bucket_for("gmail", "throttled@example.com", 6000, 100)
    bucket.acquire(1)
    for _ in range(5):
        bucket.penalize(0)  # rate at its floor, 0.2 of the ceiling: 8 minutes to recover
    clock.now += pacing.IDLE_SECONDS + 1
    _managers(clock, 0, pacing.SWEEP_EVERY)  # sweeps, the last 437 s after the cut
    assert pacing._BUCKETS[("gmail", "throttled@example.com")] is bucket
    clock.now += 600  # recovered: now it is a new bucket's state, and dropped
    _managers(clock, 10_000, pacing.SWEEP_EVERY)
    assert ("gmail", "throttled@example.com") not in pacing._BUCKETS


def test_a_gate_that_learned_a_lower_limit_or_has_requests_in_flight_is_kept(clock):
    learned = pacing.gate_for("gmail", "learned@example.com", 25)
    learned.shrink(learned.acquire(1), accepted=10)
    learned.release(1)
    busy = pacing.gate_for("gmail", "busy@example.com", 25)
    busy.acquire(3)
    clock.now += pacing.IDLE_SECONDS + 1
    _managers(clock, 0, 2 * pacing.SWEEP_EVERY)
    assert pacing._GATES[("gmail", "learned@example.com")] is learned
    assert pacing._GATES[("gmail", "busy@example.com")] is busy
    busy.release(3)
    clock.now += pacing.IDLE_SECONDS + 1
    _managers(clock, 10_000, pacing.SWEEP_EVERY)
    assert ("gmail", "busy@example.com") not in pacing._GATES
