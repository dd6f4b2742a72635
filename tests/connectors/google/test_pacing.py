"""The quota bucket (AIMD), the concurrency gate, retry times and what counts as retryable."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import httplib2
import pytest
from googleapiclient.errors import HttpError
from peerpulse.connectors.google.mail import choose_method
from peerpulse.connectors.google.pacing import (
    UNIT_COSTS,
    ConcurrencyGate,
    Pacer,
    QuotaWait,
    TokenBucket,
    is_concurrency_error,
    is_quota_error,
    is_retryable,
    retry_after,
    retry_after_text,
    retry_hint,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_bucket_spends_at_the_configured_rate():
    clock = Clock()
    bucket = TokenBucket(15_000, capacity=250, clock=clock, sleep=clock.sleep)
    for _ in range(60):
        bucket.acquire(250)  # one batch of 50 gets at 5 units
    # 250 units in the bucket, then 59 more batches at 250 units/s
    assert clock.now == pytest.approx(59.0)


def test_a_quota_error_empties_the_bucket_and_slows_it():
    clock = Clock()
    bucket = TokenBucket(6_000, capacity=100, clock=clock, sleep=clock.sleep)
    bucket.penalize(2.0)
    bucket.acquire(1)
    assert clock.now > 2.0 and bucket.rate < 100


def test_the_rate_recovers_to_the_ceiling_and_never_drops_below_the_floor():
    clock = Clock()
    bucket = TokenBucket(6_000, capacity=100, clock=clock, sleep=clock.sleep)
    for _ in range(20):  # 20 errors used to leave 4% of the rate
        bucket.penalize(0.0)
    assert bucket.rate == pytest.approx(bucket.floor) and bucket.floor == pytest.approx(20)
    while clock.now < 10 * 60:
        bucket.acquire(50)
    assert bucket.rate == pytest.approx(bucket.ceiling)


class SimulatedGmail:
    """Gmail's per-user quota on a fake clock, with outages: [start, end, kind) windows."""

    def __init__(self, clock: Clock, units_per_minute: float, bursts: list) -> None:
        self.clock, self.bursts = clock, bursts
        self.rate = units_per_minute / 60
        self.tokens, self.stamp = self.rate, 0.0
        self.served: list[tuple[float, float]] = []
        self.refused_outside_bursts = 0

    def request(self, units: float) -> None:
        now = self.clock.now
        for start, end, kind in self.bursts:
            if start <= now < end:
                if kind == "hinted":  # Gmail names a time, at most 30 s away
                    until = datetime.fromtimestamp(min(end, now + 30), UTC)
                    text = "User-rate limit exceeded.  Retry after " + until.strftime(
                        "%Y-%m-%dT%H:%M:%S.000Z"
                    )
                    raise _error(429, "rateLimitExceeded", message=text)
                if kind == "403":
                    raise _error(403, "userRateLimitExceeded")
                raise _error(503, "backendError")
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < units:
            self.refused_outside_bursts += 1
            raise _error(429, "rateLimitExceeded")
        self.tokens -= units
        self.served.append((now, units))

    def served_between(self, start: float, end: float) -> float:
        return sum(units for when, units in self.served if start <= when < end)


def test_a_six_hour_sync_returns_to_full_speed_after_each_burst_of_errors():
    random.seed(15)
    clock = Clock()
    hour = 3600.0
    bursts = [
        (1 * hour, 1 * hour + 120, "hinted"),
        (2 * hour, 2 * hour + 40, "403"),
        (3 * hour, 3 * hour + 60, "hinted"),
        (4 * hour, 4 * hour + 20, "503"),
        (5 * hour, 5 * hour + 45, "403"),
    ]
    gmail = SimulatedGmail(clock, 6_000, bursts)
    bucket = TokenBucket(6_000 * 0.95, capacity=100, clock=clock, sleep=clock.sleep)
    pacer = Pacer(bucket, sleep=clock.sleep, now=lambda: clock.now, max_sleep=6 * hour)
    while clock.now < 6 * hour:
        pacer.call(100, lambda: gmail.request(100))  # one 2026-priced batch of 5 gets
    assert gmail.refused_outside_bursts == 0
    per_10_min = 6_000 * 10
    for start, end, _ in bursts:  # 10 minutes after each burst, back above 90% of the quota
        later = gmail.served_between(end + 600, end + 1200)
        assert later >= 0.9 * per_10_min, (start, later)
    outside = 6 * hour - sum(end - start for start, end, _ in bursts)
    assert sum(u for _, u in gmail.served) / (100 * outside) >= 0.85
    assert bucket.rate == pytest.approx(bucket.ceiling)


def test_the_retry_time_is_read_from_the_message_and_the_header():
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp()
    text = "User-rate limit exceeded.  Retry after 2026-06-01T12:15:00.500Z"
    assert retry_after_text(text, lambda: now) == pytest.approx(900.5)
    assert retry_hint(_error(403, "userRateLimitExceeded", message=text), lambda: now) == (
        pytest.approx(900.5)
    )
    assert retry_hint(_error(429, "", {"retry-after": "30"}), lambda: now) == 30
    assert retry_after_text("Resource has been exhausted (e.g. check quota).") is None


def test_a_long_wait_ends_the_run_instead_of_sleeping_into_it():
    clock = Clock()
    pacer = Pacer(TokenBucket(6_000, clock=clock, sleep=clock.sleep), sleep=clock.sleep)
    text = "User-rate limit exceeded.  Retry after 2999-01-01T00:00:00Z"
    with pytest.raises(QuotaWait):
        pacer.call(1, lambda: (_ for _ in ()).throw(_error(429, "rateLimitExceeded", message=text)))
    assert clock.now == 0.0 and pacer.slept == 0.0  # not one back-off into the window


def test_the_concurrency_gate_shrinks_to_what_was_accepted_and_grows_back():
    gate = ConcurrencyGate(25, grow_after=2)
    seen = gate.acquire(25)
    gate.release(25)
    gate.shrink(seen, accepted=10)
    gate.shrink(seen, accepted=0)  # the same refusal seen by a second batch: once only
    assert gate.limit == 10
    for _ in range(4):
        gate.succeeded()
    assert gate.limit == 12
    error = _error(429, "rateLimitExceeded", message="Too many concurrent requests for user")
    assert is_concurrency_error(error) and not is_quota_error(error)


def _error(
    status: int, reason: str = "", headers: dict | None = None, message: str = ""
) -> HttpError:
    body = {"error": {"code": status, "message": message, "errors": [{"reason": reason}]}}
    return HttpError(
        httplib2.Response({"status": status, **(headers or {})}), json.dumps(body).encode()
    )


@pytest.mark.parametrize(
    "status,reason,retry",
    [
        (429, "rateLimitExceeded", True),
        (403, "userRateLimitExceeded", True),
        (403, "rateLimitExceeded", True),
        (403, "forbidden", False),
        (500, "backendError", True),
        (503, "", True),
        (400, "invalid", False),
        (404, "notFound", False),
    ],
)
def test_what_is_retried(status, reason, retry):
    assert is_retryable(_error(status, reason)) is retry


@pytest.mark.parametrize("header,seconds", [("7", 7.0), (None, None), ("soon", None)])
def test_retry_after_is_read_in_seconds(header, seconds):
    headers = {"retry-after": header} if header else {}
    assert retry_after(headers) == seconds


@pytest.mark.parametrize(
    "messages,threads,setting,expected",
    [
        (782, 735, "auto", "messages"),  # the recorded real mailbox: L = 1.06
        (30_000, 10_000, "auto", "threads"),  # L = 3: threads cost 2/3 per message
        (20_000, 10_000, "auto", "messages"),  # L = 2: break-even, messages are simpler
        (30_000, 10_000, "messages", "messages"),
    ],
)
def test_the_cheaper_fetch_method_is_chosen(messages, threads, setting, expected):
    assert choose_method(setting, messages, threads, UNIT_COSTS["legacy"]) == expected
