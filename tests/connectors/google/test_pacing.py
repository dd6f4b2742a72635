"""The quota bucket, Retry-After parsing and what counts as retryable."""

from __future__ import annotations

import httplib2
import pytest
from googleapiclient.errors import HttpError
from peerpulse.connectors.google.mail import choose_method
from peerpulse.connectors.google.pacing import UNIT_COSTS, TokenBucket, is_retryable, retry_after


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


def _error(status: int, reason: str = "", headers: dict | None = None) -> HttpError:
    body = f'{{"error": {{"code": {status}, "errors": [{{"reason": "{reason}"}}]}}}}'.encode()
    return HttpError(httplib2.Response({"status": status, **(headers or {})}), body)


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
