"""Staying under Google's per-user limits, and backing off when we did not.

Gmail limits each user two ways. The **quota**: 6,000 units/min per user on
projects created from 2026-05-01 (with the new per-method prices), 15,000 on
older projects until Google moves them (docs/GOOGLE.md, "Quota"); the legacy page states
it as "250 quota units per user per second, moving average (allows short
bursts)", so the bucket here holds one second of quota and every batch fits
in it. The **concurrency**: Gmail answers 429 "Too many concurrent requests
for user" well below 100 sub-requests in flight; the value is undocumented,
public reports put it between 20 and 50 (a batch of 100 fails, 25 passes:
amd/gaia#2720; 20 is the largest that worked in keinobjekt/BandcampReleaseSummary#2;
amp-labs/connectors#2942 caps fetches at 5), so :class:`ConcurrencyGate`
bounds the sub-requests in flight per user (default 25) and halves the bound
when Google says it was too many.

When Google still says no (429, 403 ``rateLimitExceeded``/``userRateLimitExceeded``,
5xx) we wait what it asks: the ``Retry-After`` header, or the "Retry after
<RFC 3339 time>" Gmail writes into the error message (often minutes away:
twentyhq/twenty#17850, googleapis/google-api-ruby-client#20544). A wait longer
than ``Pacer.long_wait`` ends the run cleanly (:class:`QuotaWait`) with the
cursor kept instead of sleeping or retrying into the window; without a hint,
full-jitter exponential back-off. The bucket's rate then recovers by
additive increase / multiplicative decrease between a floor and the configured
ceiling, so one burst of 429s does not slow the rest of a six-hour sync.
googleapiclient ignores Retry-After and retries nothing by default, so this
module, not ``num_retries``, decides.

Unit costs (https://developers.google.com/gmail/api/reference/quota, legacy
table; the 2026 regime's 20/40 for get come from Nylas and Twenty, see
docs/GOOGLE.md, and its threads.list and getProfile prices are unconfirmed
and assumed unchanged): they size each request's draw on the bucket and the
benchmark's "minimum the API allows".
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import httplib2
from googleapiclient.errors import HttpError
from peerpulse.connectors.base import SourceUnavailable
from peerpulse.connectors.quota import ProjectLimiter, project_limiter_factory

log = logging.getLogger(__name__)

T = TypeVar("T")

# Quota units per method, by regime (docs/GOOGLE.md; legacy verified on the quota page).
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
        "getProfile": 1,  # unconfirmed for 2026: assumed unchanged
        "messages.list": 5,
        "messages.get": 20,
        "threads.list": 10,  # unconfirmed for 2026: assumed unchanged
        "threads.get": 40,
        "history.list": 2,
        "messages.send": 100,
    },
}
# Per-user units per minute of each regime; new projects (and, per Google's plan, all
# projects later) are on "2026", so it is the default.
QUOTA_PER_MINUTE = {"2026": 6000, "legacy": 15000}
DEFAULT_QUOTA = QUOTA_PER_MINUTE["2026"]
# Sub-requests in flight per user (see the module docstring for where 25 comes from).
CONCURRENT_REQUESTS = 25


def regime_for(units_per_minute: int) -> str:
    """Projects on the 6,000/min quota pay the 2026 per-method prices."""
    return "2026" if units_per_minute <= QUOTA_PER_MINUTE["2026"] else "legacy"


RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}
CONCURRENCY_TEXT = "too many concurrent requests"
_RETRY_AFTER_TEXT = re.compile(
    r"retry after (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))", re.IGNORECASE
)


class QuotaWait(SourceUnavailable):
    """Google asked for a wait longer than a run should sleep: stop, keep the cursor.

    Sources catch it and end their run cleanly (what was committed stays, the
    next scheduled run continues); anywhere else it is an ordinary
    :class:`SourceUnavailable`.
    """

    def __init__(self, seconds: float, why: str) -> None:
        super().__init__(
            f"Google asks to wait {seconds:.0f}s before more requests ({why})",
            hint="the next scheduled run continues where this one stopped",
        )
        self.seconds = seconds


class TokenBucket:
    """Units per minute with a burst of ``capacity``; thread-safe, blocking.

    The rate moves between ``floor`` and ``ceiling`` (the configured rate):
    each quota error multiplies it by ``decrease``, and every minute of work
    adds ``recover_per_minute`` of the ceiling back (AIMD), so the rate
    returns to the ceiling within minutes of the last error.
    """

    def __init__(
        self,
        units_per_minute: float,
        capacity: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        floor_share: float = 0.2,
        decrease: float = 0.7,
        recover_per_minute: float = 0.1,
        initial: float | None = None,
    ) -> None:
        self.ceiling = units_per_minute / 60.0
        self.rate = self.ceiling
        self.floor = self.ceiling * floor_share
        self.decrease = decrease
        self.recover = self.ceiling * recover_per_minute / 60.0  # rate added per second
        self.capacity = capacity if capacity is not None else max(self.rate, 1.0)
        # Starting empty costs one second once and keeps the first batches from landing on
        # Google's moving average at the same moment as whatever else the user just sent.
        self._tokens = self.capacity if initial is None else initial
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._used_at = self._stamp  # the last draw or penalty (see :meth:`settled`)
        self._lock = threading.Lock()
        self.spent = 0.0
        self.waited = 0.0
        self.decreases = 0

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self.rate = min(self.ceiling, self.rate + elapsed * self.recover)
        self._stamp = now

    def acquire(self, units: float) -> float:
        """Take ``units`` (waiting as needed); a draw above capacity waits for a full bucket."""
        need = min(units, self.capacity)
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                if self._tokens >= need - 1e-6:  # float rounding must not spin forever
                    self._tokens -= units  # may go negative for oversized draws
                    self._used_at = now
                    self.spent += units
                    self.waited += waited
                    return waited
                delay = (need - self._tokens) / self.rate
            self._sleep(delay)
            waited += delay

    def penalize(self, seconds: float) -> None:
        """After a quota error: empty the bucket for ``seconds``, cut the rate (to the floor)."""
        with self._lock:
            self._refill(self._clock())
            self._tokens = min(self._tokens, -seconds * self.rate)
            self.rate = max(self.rate * self.decrease, self.floor)
            self.decreases += 1
            self._used_at = self._stamp

    def settled(self, idle_seconds: float) -> bool:
        """Whether nothing has drawn for ``idle_seconds`` and the bucket is back where a
        new one would be (full, at its ceiling): forgetting it loses nothing it learned."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            return (now - self._used_at >= idle_seconds and self._tokens >= self.capacity
                    and self.rate >= self.ceiling)


class ConcurrencyGate:
    """Sub-requests in flight for one user, at most ``limit`` (a batch of n holds n).

    Google's answer "Too many concurrent requests for user" lowers the limit to
    what Google accepted of the refused batch, or halves it (not below
    ``floor``); ``grow_after`` clean requests add one back, up to the
    configured ceiling. A request larger than the limit runs alone.
    """

    def __init__(self, limit: int, floor: int = 2, grow_after: int = 20,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._released_at = clock()
        self.ceiling = max(1, limit)
        self.limit = self.ceiling
        self.floor = min(floor, self.ceiling)
        self.grow_after = grow_after
        self.shrinks = 0
        self.peak = 0
        self._used = 0
        self._clean = 0
        self._cond = threading.Condition()

    def acquire(self, slots: int) -> int:
        """Wait for ``slots``; returns the limit in force (pass it to :meth:`shrink`)."""
        with self._cond:
            while self._used and self._used + slots > self.limit:
                self._cond.wait()
            self._used += slots
            self.peak = max(self.peak, self._used)
            return self.limit

    def release(self, slots: int) -> None:
        with self._cond:
            self._used -= slots
            self._released_at = self._clock()
            self._cond.notify_all()

    def settled(self, idle_seconds: float) -> bool:
        """Whether nothing is in flight, nothing was for ``idle_seconds``, and the limit
        is the configured one: a gate that learned a lower limit is kept."""
        with self._cond:
            return (self._used == 0 and self.limit == self.ceiling
                    and self._clock() - self._released_at >= idle_seconds)

    def shrink(self, seen_limit: int, accepted: int = 0) -> None:
        """Lower the limit once per refusal: to what Google ``accepted`` of a refused batch,
        else to half. Requests that started under an older limit do not lower it twice."""
        with self._cond:
            self._clean = 0
            if self.limit == seen_limit and self.limit > self.floor:
                target = accepted if 0 < accepted < self.limit else self.limit // 2
                self.limit = max(self.floor, target)
                self.shrinks += 1
                log.info("google: too many concurrent requests; now at most %d", self.limit)

    def succeeded(self) -> None:
        with self._cond:
            self._clean += 1
            if self._clean >= self.grow_after and self.limit < self.ceiling:
                self.limit += 1
                self._clean = 0
                self._cond.notify_all()


_BUCKETS: dict[tuple[str, str], TokenBucket] = {}
_GATES: dict[tuple[str, str], ConcurrencyGate] = {}
_BUCKETS_LOCK = threading.Lock()
# An organization worker meets every manager of the organization, one sync after
# another, and each brings three buckets and a gate (~3 kB): kept for good they were
# ~3 MB per 1,000 managers per worker, growing all day. Every SWEEP_EVERY new entries,
# those idle for IDLE_SECONDS and back to a new one's state (full, at the configured
# rate; a gate at its configured limit, nothing in flight) are dropped. IDLE_SECONDS
# is longer than Google's one-minute window, so a user's next bucket cannot spend
# again what the dropped one spent in its last minute. A job still holding a dropped
# bucket shares it with no other job of that mailbox (one sync per mailbox at a time).
IDLE_SECONDS = 180.0
SWEEP_EVERY = 256
_created = 0


def _monotonic() -> float:
    """The clock of the buckets and gates made here (tests move :data:`CLOCK`)."""
    return CLOCK()


CLOCK: Callable[[], float] = time.monotonic


def _made_one() -> None:
    """Count a new bucket or gate; every ``SWEEP_EVERY``, drop the settled ones
    (the caller holds ``_BUCKETS_LOCK``)."""
    global _created
    _created += 1
    if _created % SWEEP_EVERY:
        return
    for table in (_BUCKETS, _GATES):
        for key in [k for k, v in table.items() if v.settled(IDLE_SECONDS)]:
            del table[key]

# Bounded concurrency across accounts: every Google request of this process holds a slot.
IN_FLIGHT_LIMIT = 8
_IN_FLIGHT = threading.BoundedSemaphore(IN_FLIGHT_LIMIT)


def bucket_for(
    api: str,
    user: str,
    units_per_minute: float,
    capacity: float | None = None,
    initial: float | None = None,
    time_scale: float = 1.0,
) -> TokenBucket:
    """One bucket per (API, user) in the process, shared by every source and thread.

    ``time_scale`` k (benchmarks): ``units_per_minute`` is already k times the
    quota; the recovery after errors is k times faster too, so it takes the
    same share of the (scaled) sync."""
    key = (api, user)
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(key)
        if bucket is None or bucket.ceiling != units_per_minute / 60.0 and bucket.spent == 0:
            _made_one()
            bucket = TokenBucket(
                units_per_minute, capacity, initial=initial, recover_per_minute=0.1 * time_scale,
                clock=_monotonic,
            )
            _BUCKETS[key] = bucket
        return bucket


def gate_for(api: str, user: str, limit: int) -> ConcurrencyGate:
    """One concurrency gate per (API, user) in the process: the limit is Google's, per user."""
    key = (api, user)
    with _BUCKETS_LOCK:
        gate = _GATES.get(key)
        if gate is None or gate.ceiling != limit:
            _made_one()
            gate = ConcurrencyGate(limit, clock=_monotonic)
            _GATES[key] = gate
        return gate


_PROJECTS: dict[tuple[str, float, int], ProjectLimiter] = {}


def project_limiter(project: str, units_per_minute: float) -> ProjectLimiter:
    """One limiter per (project, rate) in the process, shared by every account and thread:
    from the factory the worker installed (organization mode: one database row for all
    workers, connectors/quota.py), else a process-local bucket."""
    factory = project_limiter_factory()
    key = (project, units_per_minute, id(factory))
    with _BUCKETS_LOCK:
        limiter = _PROJECTS.get(key)
        if limiter is None:
            if factory is not None:
                limiter = factory(project, units_per_minute)
            else:
                limiter = TokenBucket(units_per_minute, units_per_minute / 60, initial=0.0)
            _PROJECTS[key] = limiter
        return limiter


def reset_buckets() -> None:
    """Forget all buckets and gates (tests and benchmarks start from a clean slate)."""
    with _BUCKETS_LOCK:
        _BUCKETS.clear()
        _GATES.clear()
        _PROJECTS.clear()


def _error_body(exc: HttpError) -> dict[str, Any]:
    try:
        content = exc.content
        body = json.loads(content.decode("utf-8") if isinstance(content, bytes) else content)
    except (ValueError, AttributeError, UnicodeDecodeError, TypeError):
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def error_reason(exc: HttpError) -> str:
    """The first ``errors[].reason`` (or ``error.status``) of a Google JSON error body."""
    error = _error_body(exc)
    errors = error.get("errors") or []
    if errors and isinstance(errors[0], dict) and errors[0].get("reason"):
        return str(errors[0]["reason"])
    return str(error.get("status", ""))


def error_message(exc: HttpError) -> str:
    """``error.message`` of a Google JSON error body ("" when there is none)."""
    return str(_error_body(exc).get("message", ""))


def retry_after(headers: Any, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), if any."""
    value = None
    if headers is not None:
        value = headers.get("retry-after") or headers.get("Retry-After")
    if not value:
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def retry_after_text(message: str, now: Callable[[], float] = time.time) -> float | None:
    """Seconds until the "Retry after 2026-…Z" time Gmail writes into error messages."""
    found = _RETRY_AFTER_TEXT.search(message or "")
    if not found:
        return None
    try:
        when = datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, when.timestamp() - now())


def retry_hint(exc: BaseException, now: Callable[[], float] = time.time) -> float | None:
    """The wait Google asked for: the header if present, else the message's time."""
    if not isinstance(exc, HttpError):
        return None
    header = retry_after(getattr(exc, "resp", None), now)
    text = retry_after_text(error_message(exc), now)
    hints = [h for h in (header, text) if h is not None]
    return max(hints) if hints else None


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx, 403 rate limits and transport failures; never other 4xx.

    A transport failure includes an answer cut short: httplib2 lets
    ``http.client.IncompleteRead`` (a body shorter than its Content-Length) and
    other ``HTTPException``s out of ``response.read()``, and the chaos run
    (issue 10) saw one end a whole sync."""
    if isinstance(exc, HttpError):
        status = exc.resp.status
        if status == 429 or status >= 500:
            return True
        return status == 403 and error_reason(exc) in RATE_LIMIT_REASONS
    return isinstance(
        exc,
        (
            socket.timeout,
            TimeoutError,
            ConnectionError,
            ssl.SSLError,
            httplib2.ServerNotFoundError,
            http.client.HTTPException,
        ),
    )


def is_concurrency_error(exc: BaseException) -> bool:
    """Gmail's 429 "Too many concurrent requests for user": fewer at once, not slower."""
    return (
        isinstance(exc, HttpError)
        and exc.resp.status in (429, 403)
        and CONCURRENCY_TEXT in error_message(exc).lower()
    )


def is_quota_error(exc: BaseException) -> bool:
    if not isinstance(exc, HttpError) or is_concurrency_error(exc):
        return False
    return exc.resp.status == 429 or (
        exc.resp.status == 403 and error_reason(exc) in RATE_LIMIT_REASONS
    )


@dataclass
class Pacer:
    """Runs requests for one user under a bucket and a gate, retrying what Google says to.

    ``max_sleep`` caps the total back-off of a run and ``long_wait`` any single
    wait Google asks for: beyond either the run ends (:class:`QuotaWait` when
    Google named the time, else :class:`SourceUnavailable`) and the next run
    resumes from the committed cursor, so a throttled account never keeps the
    cron job past its window.
    """

    bucket: TokenBucket
    gate: ConcurrencyGate | None = None
    project: ProjectLimiter | None = None  # the project-wide quota, after the user's
    max_attempts: int = 8
    base_delay: float = 1.0
    max_delay: float = 64.0
    max_sleep: float = 600.0
    long_wait: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], float] = time.time
    slept: float = 0.0
    requests: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def delay_for(self, attempt: int, exc: BaseException) -> float:
        hinted = retry_hint(exc, self.now)
        if hinted is not None:
            return hinted
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))

    def back_off(self, attempt: int, exc: BaseException) -> None:
        """Wait before retry ``attempt`` (0-based) after ``exc``; raise when over budget."""
        hinted = retry_hint(exc, self.now)
        delay = self.delay_for(attempt, exc)
        stop = hinted is not None and (
            hinted > self.long_wait or self.slept + hinted > self.max_sleep
        )
        if is_quota_error(exc):
            # Stopping: slow down, but do not hold the bucket empty for Google's whole window
            # (a later run in this process asks again and learns the time again, cheaply).
            self.bucket.penalize(0.0 if stop else delay)
        with self._lock:
            self.retries += 1
            if stop:
                raise QuotaWait(hinted or 0.0, describe(exc)) from exc
            if attempt + 1 >= self.max_attempts or self.slept + delay > self.max_sleep:
                raise SourceUnavailable(
                    f"Google kept refusing requests ({describe(exc)}) after {attempt + 1} attempts",
                    hint="the next run resumes where this one stopped",
                ) from exc
            self.slept += delay
        log.info("google: %s; retrying in %.1fs", describe(exc), delay)
        self.sleep(delay)

    def call(self, units: float, run: Callable[[], T], slots: int = 1) -> T:
        """Spend ``units``, run with ``slots`` sub-requests in flight, retry what is retryable."""
        attempt = 0
        while True:
            self.bucket.acquire(units)
            if self.project is not None:
                self.project.acquire(units)
            with self._lock:
                self.requests += 1
            seen = self.gate.acquire(slots) if self.gate else 0
            try:
                with _IN_FLIGHT:
                    result = run()
            except Exception as exc:
                failure: Exception | None = exc
            else:
                failure = None
            finally:
                if self.gate:
                    self.gate.release(slots)  # never held through a back-off
            if failure is None:
                if self.gate:
                    self.gate.succeeded()
                return result
            if not is_retryable(failure):
                raise failure
            if self.gate and is_concurrency_error(failure):
                self.gate.shrink(seen)
            self.back_off(attempt, failure)
            attempt += 1


def describe(exc: BaseException) -> str:
    if isinstance(exc, HttpError):
        reason = error_reason(exc)
        return f"HTTP {exc.resp.status}" + (f" {reason}" if reason else "")
    return type(exc).__name__
