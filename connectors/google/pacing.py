"""Staying under Google's per-user quota, and backing off when we did not.

Gmail's floor is the per-user quota, not latency: 15,000 units/min on projects
that used the API before May 2026, 6,000 on newer ones (research §1.1). A
per-user token bucket spends units *before* each request, so a mailbox runs at
the quota and rarely sees a 429. When Google still says no (429, 403
``rateLimitExceeded``/``userRateLimitExceeded``, 5xx) we wait ``Retry-After``
if given, else full-jitter exponential back-off, and the bucket slows down for
the rest of the run. googleapiclient ignores Retry-After and retries nothing
by default (research §3.2), so this module, not ``num_retries``, decides.

Unit costs (https://developers.google.com/gmail/api/reference/quota, legacy
table; the 2026 regime's 20/40 for get come from Nylas and Twenty, see
research §1.1): they size each request's draw on the bucket and the
benchmark's "minimum the API allows".
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httplib2
from googleapiclient.errors import HttpError
from peerpulse.connectors.base import SourceUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

# Quota units per method, by regime (research §1.1, verified for legacy on the quota page).
UNIT_COSTS: dict[str, dict[str, int]] = {
    "legacy": {
        "getProfile": 1,
        "messages.list": 5,
        "messages.get": 5,
        "threads.list": 10,
        "threads.get": 10,
        "history.list": 2,
        "messages.send": 100,
    },
    "2026": {
        "getProfile": 1,
        "messages.list": 5,
        "messages.get": 20,
        "threads.list": 10,
        "threads.get": 40,
        "history.list": 2,
        "messages.send": 100,
    },
}


def regime_for(units_per_minute: int) -> str:
    """Projects on the 6,000/min quota pay the 2026 per-method prices."""
    return "2026" if units_per_minute <= 6000 else "legacy"


RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}


class TokenBucket:
    """Units per minute with a burst of ``capacity``; thread-safe, blocking."""

    def __init__(
        self,
        units_per_minute: float,
        capacity: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = units_per_minute / 60.0
        self.capacity = capacity if capacity is not None else max(self.rate, 1.0)
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._lock = threading.Lock()
        self.spent = 0.0
        self.waited = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def acquire(self, units: float) -> float:
        """Take ``units`` (waiting as needed); a draw above capacity waits for a full bucket."""
        need = min(units, self.capacity)
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                if self._tokens >= need:
                    self._tokens -= units  # may go negative for oversized draws
                    self.spent += units
                    self.waited += waited
                    return waited
                delay = (need - self._tokens) / self.rate
            self._sleep(delay)
            waited += delay

    def penalize(self, seconds: float, slow_down: float = 0.85) -> None:
        """After a quota error: empty the bucket for ``seconds`` and lower the rate."""
        with self._lock:
            self._refill(self._clock())
            self._tokens = min(self._tokens, -seconds * self.rate)
            self.rate = max(self.rate * slow_down, 0.1)


_BUCKETS: dict[tuple[str, str], TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()

# Bounded concurrency across accounts: every Google request of this process holds a slot.
IN_FLIGHT_LIMIT = 8
_IN_FLIGHT = threading.BoundedSemaphore(IN_FLIGHT_LIMIT)


def bucket_for(
    api: str, user: str, units_per_minute: float, capacity: float | None = None
) -> TokenBucket:
    """One bucket per (API, user) in the process, shared by every source and thread."""
    key = (api, user)
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(key)
        if bucket is None or bucket.rate != units_per_minute / 60.0 and bucket.spent == 0:
            bucket = TokenBucket(units_per_minute, capacity)
            _BUCKETS[key] = bucket
        return bucket


def reset_buckets() -> None:
    """Forget all buckets (tests and benchmarks start from a clean slate)."""
    with _BUCKETS_LOCK:
        _BUCKETS.clear()


def error_reason(exc: HttpError) -> str:
    """The first ``errors[].reason`` (or ``error.status``) of a Google JSON error body."""
    try:
        body = json.loads(
            exc.content.decode("utf-8") if isinstance(exc.content, bytes) else exc.content
        )
        error = body.get("error", {})
        if isinstance(error, dict):
            errors = error.get("errors") or []
            if errors and isinstance(errors[0], dict) and errors[0].get("reason"):
                return str(errors[0]["reason"])
            return str(error.get("status", ""))
        return str(error)
    except (ValueError, AttributeError, UnicodeDecodeError):
        return ""


def retry_after(headers: Any) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), if any."""
    value = None
    if headers is not None:
        value = headers.get("retry-after") or headers.get("Retry-After")
    if not value:
        return None
    value = str(value).strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx, 403 rate limits and transport failures; never other 4xx."""
    if isinstance(exc, HttpError):
        status = exc.resp.status
        if status == 429 or status >= 500:
            return True
        return status == 403 and error_reason(exc) in RATE_LIMIT_REASONS
    return isinstance(
        exc,
        (socket.timeout, TimeoutError, ConnectionError, ssl.SSLError, httplib2.ServerNotFoundError),
    )


def is_quota_error(exc: BaseException) -> bool:
    return isinstance(exc, HttpError) and (
        exc.resp.status == 429
        or (exc.resp.status == 403 and error_reason(exc) in RATE_LIMIT_REASONS)
    )


@dataclass
class Pacer:
    """Runs requests for one user under a bucket, retrying what Google says to retry.

    ``max_sleep`` caps the total back-off of a run so a throttled account
    cannot keep the cron job past its window: it then fails as unavailable and
    the next run resumes from the committed cursor.
    """

    bucket: TokenBucket
    max_attempts: int = 8
    base_delay: float = 1.0
    max_delay: float = 64.0
    max_sleep: float = 600.0
    sleep: Callable[[float], None] = time.sleep
    slept: float = 0.0
    requests: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def delay_for(self, attempt: int, exc: BaseException) -> float:
        hinted = retry_after(getattr(exc, "resp", None)) if isinstance(exc, HttpError) else None
        if hinted is not None:
            return hinted
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))

    def back_off(self, attempt: int, exc: BaseException) -> None:
        """Wait before retry ``attempt`` (0-based) after ``exc``; raise when over budget."""
        delay = self.delay_for(attempt, exc)
        if is_quota_error(exc):
            self.bucket.penalize(delay)
        with self._lock:
            self.retries += 1
            if attempt + 1 >= self.max_attempts or self.slept + delay > self.max_sleep:
                raise SourceUnavailable(
                    f"Google kept refusing requests ({describe(exc)}) after {attempt + 1} attempts",
                    hint="the next run resumes where this one stopped",
                ) from exc
            self.slept += delay
        log.info("google: %s; retrying in %.1fs", describe(exc), delay)
        self.sleep(delay)

    def call(self, units: float, run: Callable[[], T]) -> T:
        """Spend ``units``, run, and retry retryable failures with back-off."""
        attempt = 0
        while True:
            self.bucket.acquire(units)
            with self._lock:
                self.requests += 1
            try:
                with _IN_FLIGHT:
                    return run()
            except Exception as exc:
                if not is_retryable(exc):
                    raise
                self.back_off(attempt, exc)
                attempt += 1


def describe(exc: BaseException) -> str:
    if isinstance(exc, HttpError):
        reason = error_reason(exc)
        return f"HTTP {exc.resp.status}" + (f" {reason}" if reason else "")
    return type(exc).__name__
