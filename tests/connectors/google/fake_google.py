"""A local fake of the Google endpoints peerpulse uses, speaking their wire format.

Threaded ``http.server`` on 127.0.0.1, reached through the real
google-api-python-client, google-auth and httplib2 (``api_endpoint`` /
``token_endpoint``). It serves: the OAuth token endpoint (refresh and JWT
bearer grants), Gmail getProfile, messages/threads list+get, history (404 on
an expired start), messages.send and ``multipart/mixed`` batches; Calendar
events.list with pages, syncToken and 410; Admin SDK users.list. It adds
configurable latency and records *violations* that fail the test: any request
for message bodies (format full/raw or none), ``q`` under gmail.metadata, a
scope beyond the configured ones, a batch over 50.

It is meant to be as strict as Google, each rule with its source:

- at most 100 calls per batch, else 400 "Inner request count exceeds the
  limit" for the whole batch (https://developers.google.com/gmail/api/guides/batch;
  the error text as reported in mhasbini/gmail_analyzer#12);
- a per-user limit on requests in flight, every batch sub-request counting,
  answered 429 rateLimitExceeded "Too many concurrent requests for user" for
  the parts beyond it (the limit is undocumented; googleapis/google-api-dotnet-client#1982
  shows only some parts of a batch refused; amd/gaia#2720: 100 fails, 25 passes,
  50 fails right after a 429), default 25, the most reported to pass;
- the per-user quota in units, with either price table (``prices``: the
  legacy table of https://developers.google.com/gmail/api/reference/quota or
  the 2026 one in docs/GOOGLE.md), over two windows: a per-second moving
  average (the legacy page's "250 quota units per user per second, moving
  average (allows short bursts)"), modelled as a bucket holding
  ``burst_seconds`` (default 2) of quota, so a client that sends at most one
  second's worth at once has a second of slack for network jitter, and a
  per-minute sliding window; refusals are 429
  rateLimitExceeded (or 403 userRateLimitExceeded with ``quota_status=403``,
  https://developers.google.com/gmail/api/guides/handle-errors) with the time
  in the message, "User-rate limit exceeded.  Retry after <RFC 3339>", as
  Gmail writes it (levz0r/gmail-tester#23, twentyhq/twenty#17850), and a
  Retry-After header only when ``retry_after_header`` is set.

``faults`` (a :class:`Faults`) turns on a fault mode for chaos runs (issue 10):
a seeded share of requests fails as Google and networks do (429 with
Retry-After, 403 rate-limit reasons, 500, 503, a read timeout, a connection
reset, a truncated body, an expired access token, an expired sync token) and a
share of batch parts fails while their batch answers 200.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import socket
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.connectors.google.fake_data import Calendar, Mailbox

GMAIL_READ = {"https://www.googleapis.com/auth/gmail.metadata"}
GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
CALENDAR_READ = {
    "https://www.googleapis.com/auth/calendar.events.readonly",
    "https://www.googleapis.com/auth/calendar.readonly",
}
DIRECTORY_READ = {"https://www.googleapis.com/auth/admin.directory.user.readonly"}
PRICES = {  # units per method; docs/GOOGLE.md (2026: threads.list and profile assumed unchanged)
    "legacy": {
        "profile": 1,
        "messages.list": 5,
        "messages.get": 5,
        "threads.list": 10,
        "threads.get": 10,
        "history.list": 2,
        "messages.send": 100,
    },
    "2026": {
        "profile": 1,
        "messages.list": 5,
        "messages.get": 20,
        "threads.list": 10,
        "threads.get": 40,
        "history.list": 2,
        "messages.send": 100,
    },
}
BATCH_LIMIT = 100
CONCURRENCY_MESSAGE = "Too many concurrent requests for user"


# Faults of a whole HTTP request, and of one part of a batch whose envelope answers 200.
REQUEST_FAULTS = (
    "429", "403", "500", "503", "timeout", "reset", "truncated", "expired_token", "expired_sync",
)
PART_FAULTS = ("429", "403", "500", "503")
TRANSPORT_FAULTS = frozenset({"timeout", "reset", "truncated"})


@dataclass
class Faults:
    """A seeded fault mode: ``rate`` of requests (and of batch parts) fail.

    Deterministic whatever the thread interleaving: whether the n-th time a
    given request (method, path and query; a batch part by its own target) is
    seen fails, and how, is a hash of (seed, request, n), so the same client
    meets the same faults in the same places run after run. A read timeout
    holds the answer ``hold_seconds`` (bounded: the client's timeout must be
    shorter) and then drops the connection. Requests that carry a sync token
    are few (one per source and run), so half of their faults are an expired
    token.
    """

    rate: float
    seed: int = 0
    kinds: tuple[str, ...] = REQUEST_FAULTS
    retry_after: float = 1.0
    hold_seconds: float = 1.5
    counts: dict[str, int] = field(default_factory=dict)
    _seen: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def draw(self, key: str, allowed: tuple[str, ...]) -> str | None:
        """The fault for this occurrence of ``key`` among ``allowed``, or None."""
        with self._lock:
            n = self._seen.get(key, 0)
            self._seen[key] = n + 1
        digest = hashlib.sha256(f"{self.seed}|{key}|{n}".encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 >= self.rate:
            return None
        kinds = [kind for kind in self.kinds if kind in allowed]
        if not kinds:
            return None
        kind = kinds[int.from_bytes(digest[8:16], "big") % len(kinds)]
        if "expired_sync" in kinds and digest[16] < 128:
            kind = "expired_sync"  # requests with a sync token are few: half their faults
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
        return kind

    def error(self, kind: str, fake: FakeGoogle, headers: dict[str, str], target: str) -> ApiError:
        """The answer Google gives for an HTTP-level fault ``kind``."""
        if kind == "429":
            when = _rfc3339(time.time() + self.retry_after)
            return ApiError(
                429,
                "rateLimitExceeded",
                f"User-rate limit exceeded.  Retry after {when}",
                {"Retry-After": f"{self.retry_after:g}"},
            )
        if kind == "403":
            reason = ("rateLimitExceeded", "userRateLimitExceeded")[len(target) % 2]
            return ApiError(403, reason, "Rate Limit Exceeded")
        if kind in ("500", "503"):
            reason = "backendError" if kind == "500" else "serviceUnavailable"
            return ApiError(int(kind), reason, "injected server error")
        if kind == "expired_token":  # the access token expires now: every later use is refused
            token = (headers.get("authorization") or "").removeprefix("Bearer ").strip()
            with fake._lock:
                fake.access_tokens.pop(token, None)
            return ApiError(401, "authError", "Invalid Credentials")
        if "/calendar/" in target:  # expired_sync
            return ApiError(
                410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required."
            )
        return ApiError(404, "notFound", "Requested entity was not found.")


def fault_kinds(target: str) -> tuple[str, ...]:
    """The faults a request can meet: an expired sync token only where one is sent."""
    if "startHistoryId=" in target or "syncToken=" in target:
        return REQUEST_FAULTS
    return tuple(kind for kind in REQUEST_FAULTS if kind != "expired_sync")


class ApiError(Exception):
    def __init__(
        self, status: int, reason: str, message: str, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.status,
                "message": self.message,
                "errors": [{"domain": "global", "reason": self.reason, "message": self.message}],
            }
        }


@dataclass
class Injected:
    match: str
    status: int
    reason: str
    count: int
    headers: dict[str, str]
    message: str = "injected failure"


@dataclass
class Quota:
    rate: float  # units per second
    capacity: float
    tokens: float
    stamp: float = field(default_factory=time.monotonic)

    def take(self, units: float) -> float | None:
        """None if granted, else the seconds until it would be."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= units:
            self.tokens -= units
            return None
        return (units - self.tokens) / self.rate


class FakeGoogle:
    def __init__(
        self,
        *,
        allowed_scopes: set[str],
        latency: float = 0.0,
        quota_per_minute: float | None = None,
        burst_seconds: float = 2.0,
        prices: str = "legacy",
        max_concurrent: int | None = 25,
        quota_status: int = 429,
        retry_after_header: bool = False,
        faults: Faults | None = None,
        time_scale: float = 1.0,
        project_quota_per_minute: float | None = None,
        calendar_project_quota_per_minute: float | None = None,
        directory_project_quota_per_minute: float | None = None,
    ) -> None:
        self.faults = faults
        # Benchmarks run time ``time_scale`` times faster: both quota windows shrink by it
        # (a minute lasts 60/k s, the moving average refills k times faster) while every
        # amount in units stays Google's, so batch sizes, request counts, utilization and
        # 429s are those of the real quota (docs/GOOGLE.md, "Time-scaled benchmarks").
        self.time_scale = max(1.0, float(time_scale))
        # The Cloud project's Gmail quota, over every user (a second-long moving average
        # of ``burst_seconds`` and a sliding minute, as per user); 429 with the message
        # Google Cloud writes for a project limit. ``project_units`` counts what it charged.
        self.project_quota_per_minute = project_quota_per_minute
        self.project_throttled = 0
        self.project_units = 0
        self.project_span = [0.0, 0.0]  # monotonic times of the first and last charge
        # The project's Calendar quota, in requests (Calendar's own, apart from Gmail's),
        # enforced the same way; ``calendar_project_requests`` counts what it admitted.
        self.calendar_project_quota_per_minute = calendar_project_quota_per_minute
        self.calendar_project_throttled = 0
        self.calendar_project_requests = 0
        self.calendar_project_span = [0.0, 0.0]
        # The project's Admin SDK (Directory) quota, in requests, the same way.
        self.directory_project_quota_per_minute = directory_project_quota_per_minute
        self.directory_project_throttled = 0
        self.directory_project_requests = 0
        self.directory_project_span = [0.0, 0.0]
        self.allowed_scopes = set(allowed_scopes)
        self.latency = latency
        self.quota_per_minute = quota_per_minute
        self.burst_seconds = burst_seconds
        self.costs = PRICES[prices]
        self.max_concurrent = max_concurrent
        self.quota_status = quota_status
        self.retry_after_header = retry_after_header
        # Users a service account may act as (None: any). Without delegation Google's token
        # endpoint answers 401 unauthorized_client ("Client is unauthorized to retrieve access
        # tokens using this method, or client not authorized for any of the scopes requested").
        self.delegated: set[str] | None = None
        self.admins: set[str] = set()  # users who may read the directory's admin_view
        self.before_batch: Any = None  # a hook tests use to change the world mid-sync
        self.in_flight: dict[str, int] = {}
        self.peak_in_flight = 0
        self.user_spans: dict[str, list[float]] = {}  # user -> [first, last] request time
        self.concurrency_refusals = 0
        self._minute: dict[str, list[tuple[float, int]]] = {}
        self.mailboxes: dict[str, Mailbox] = {}
        self.calendars: dict[tuple[str, str], Calendar] = {}
        self.directory: list[dict[str, Any]] = []
        self.refresh_tokens: dict[str, tuple[str, set[str]]] = {}
        self.auth_codes: dict[str, tuple[str, set[str]]] = {}
        self.access_tokens: dict[str, tuple[str, set[str]]] = {}
        self.violations: list[str] = []
        self.log: list[tuple[str, str]] = []  # (method name, query) of every API call
        self.http_requests = 0
        self.token_requests = 0
        self.batch_sizes: list[int] = []  # sub-requests of each batch envelope, in order
        self.units: dict[str, int] = {}
        self.first_unit_at: float | None = None
        self.last_unit_at: float | None = None
        self.throttled = 0
        self.sent: list[bytes] = []
        self.injected: list[Injected] = []
        self._quota: dict[str, Quota] = {}
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def token_url(self) -> str:
        return self.url + "token"

    def start(self) -> FakeGoogle:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- setup helpers -------------------------------------------------------------------

    def grant(self, user: str, scopes: set[str], refresh_token: str = "refresh-1") -> str:
        self.refresh_tokens[refresh_token] = (user, set(scopes))
        return refresh_token

    def revoke(self, refresh_token: str) -> None:
        self.refresh_tokens.pop(refresh_token, None)
        for token in list(self.access_tokens):
            self.access_tokens.pop(token)

    def fail_next(
        self,
        match: str,
        status: int,
        reason: str = "backendError",
        count: int = 1,
        retry_after: float | None = None,
        message: str = "injected failure",
        retry_in: float | None = None,
    ) -> None:
        """Fail the next ``count`` calls whose path contains ``match``.

        ``retry_after`` sets a Retry-After header; ``retry_in`` writes the retry time
        into the message the way Gmail does ("Retry after 2026-…Z").
        """
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        if retry_in is not None:
            message = f"{message}.  Retry after {_rfc3339(time.time() + retry_in)}"
        self.injected.append(Injected(match, status, reason, count, headers, message))

    def calls(self, name: str) -> int:
        return sum(1 for n, _ in self.log if n == name)

    def reset_counters(self) -> None:
        with self._lock:
            self.log.clear()
            self.http_requests = 0
            self.token_requests = 0
            self.batch_sizes.clear()
            self.units.clear()
            self.first_unit_at = self.last_unit_at = None
            self.throttled = 0

    # -- token endpoint ------------------------------------------------------------------

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type")
        if grant == "refresh_token":
            found = self.refresh_tokens.get(form.get("refresh_token", ""))
            if found is None:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                }
            user, granted = found
            asked = set(form.get("scope", "").split()) or granted
        elif grant == "authorization_code":
            found = self.auth_codes.pop(form.get("code", ""), None)
            if found is None:
                return 400, {"error": "invalid_grant", "error_description": "Malformed auth code."}
            user, granted = found
            asked = granted
            refresh = self.grant(user, granted, f"refresh-{len(self.refresh_tokens) + 1}")
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            claims = _jwt_claims(form.get("assertion", ""))
            user = claims.get("sub") or claims.get("iss", "")
            if self.delegated is not None and user not in self.delegated:
                return 401, {
                    "error": "unauthorized_client",
                    "error_description": "Client is unauthorized to retrieve access tokens "
                    "using this method, or client not authorized for any of the scopes requested.",
                }
            asked = set(str(claims.get("scope", "")).split())
            granted = asked
        else:
            return 400, {"error": "unsupported_grant_type"}
        beyond = asked - self.allowed_scopes
        if beyond:
            self.violations.append(f"scope beyond the configured ones requested: {sorted(beyond)}")
            return 400, {"error": "invalid_scope", "error_description": "scope not allowed"}
        if not asked <= granted:
            return 400, {"error": "invalid_scope"}
        access = f"at-{len(self.access_tokens) + 1}-{user}"
        self.access_tokens[access] = (user, asked)
        answer = {
            "access_token": access,
            "expires_in": 3599,
            "token_type": "Bearer",
            "scope": " ".join(sorted(asked)),
        }
        if grant == "authorization_code":
            answer["refresh_token"] = refresh
        return 200, answer

    # -- dispatch ------------------------------------------------------------------------

    def authorize(self, auth_header: str | None, needed: set[str]) -> str:
        token = (auth_header or "").removeprefix("Bearer ").strip()
        found = self.access_tokens.get(token)
        if found is None:
            raise ApiError(401, "authError", "Invalid Credentials")
        user, scopes = found
        if not scopes & needed:
            raise ApiError(403, "insufficientPermissions", "Request had insufficient scopes.")
        return user

    def charge_project(self, units: int) -> None:
        """Charge the project's Gmail quota (before the user's); 429 when it is spent."""
        admitted = self._project_window("\0project", self.project_quota_per_minute, units)
        with self._lock:
            if not admitted:
                self.project_throttled += 1
                raise _project_error("gmail.googleapis.com")
            self.project_units += units
            self.project_span[0] = self.project_span[0] or time.monotonic()
            self.project_span[1] = time.monotonic()

    def charge_calendar_project(self) -> None:
        """Charge one request to the project's Calendar quota; 429 when it is spent."""
        self._charge_requests("calendar", "calendar-json.googleapis.com")

    def charge_directory_project(self) -> None:
        """Charge one request to the project's Admin SDK quota; 429 when it is spent."""
        self._charge_requests("directory", "admin.googleapis.com")

    def _charge_requests(self, api: str, service: str) -> None:
        """One request against the project's ``api`` quota (``<api>_project_*``
        attributes: the limit, and the counts of what it refused and admitted)."""
        admitted = self._project_window(f"\0{api}-project",
                                        getattr(self, f"{api}_project_quota_per_minute"), 1)
        with self._lock:
            if not admitted:
                setattr(self, f"{api}_project_throttled",
                        getattr(self, f"{api}_project_throttled") + 1)
                raise _project_error(service)
            setattr(self, f"{api}_project_requests",
                    getattr(self, f"{api}_project_requests") + 1)
            span = getattr(self, f"{api}_project_span")
            span[0] = span[0] or time.monotonic()
            span[1] = time.monotonic()

    def _project_window(self, key: str, limit: float | None, units: int) -> bool:
        """Whether a project quota of ``limit`` a minute admits ``units`` now: a moving
        average over ``burst_seconds`` and a sliding minute, as Google enforces."""
        if not limit:
            return True
        with self._lock:
            now = time.monotonic()
            rate = limit / 60
            bucket = self._quota.setdefault(
                key, Quota(rate, rate * self.burst_seconds, rate * self.burst_seconds))
            window = self._minute.setdefault(key, [])
            while window and window[0][0] <= now - 60:
                window.pop(0)
            if sum(u for _, u in window) + units > limit or bucket.take(units) is not None:
                return False
            window.append((now, units))
            return True

    def charge(self, user: str, units: int) -> None:
        self.charge_project(units)
        with self._lock:
            if self.quota_per_minute:
                now = time.monotonic()
                per_second = self.quota_per_minute / 60  # units one (real) second allows
                minute = 60 / self.time_scale
                burst = per_second * self.burst_seconds
                bucket = self._quota.setdefault(
                    user, Quota(per_second * self.time_scale, burst, burst)
                )
                window = self._minute.setdefault(user, [])
                while window and window[0][0] <= now - minute:
                    window.pop(0)
                used = sum(u for _, u in window)
                wait = None
                if used + units > self.quota_per_minute:  # per-minute window
                    freed, wait = used, minute
                    for stamp, spent in window:
                        freed -= spent
                        if freed + units <= self.quota_per_minute:
                            wait = stamp + minute - now
                            break
                else:  # per-second moving average
                    wait = bucket.take(units)
                if wait is not None:
                    self.throttled += 1
                    reason = "rateLimitExceeded" if self.quota_status == 429 else (
                        "userRateLimitExceeded"
                    )
                    headers = {"Retry-After": str(max(1, math.ceil(wait)))}
                    raise ApiError(
                        self.quota_status,
                        reason,
                        f"User-rate limit exceeded.  Retry after {_rfc3339(time.time() + wait)}",
                        headers if self.retry_after_header else {},
                    )
                window.append((now, units))
            self.units[user] = self.units.get(user, 0) + units
            now = time.monotonic()
            self.first_unit_at = self.first_unit_at or now
            self.last_unit_at = now

    def enter(self, auth_header: str | None, slots: int) -> tuple[str, int]:
        """Admit up to ``slots`` requests of this token's user; (user, admitted)."""
        token = (auth_header or "").removeprefix("Bearer ").strip()
        found = self.access_tokens.get(token)
        user = found[0] if found else ""
        with self._lock:
            busy = self.in_flight.get(user, 0)
            room = slots if self.max_concurrent is None else max(0, self.max_concurrent - busy)
            admitted = min(slots, room)
            self.in_flight[user] = busy + admitted
            self.peak_in_flight = max(self.peak_in_flight, busy + admitted)
            span = self.user_spans.setdefault(user, [time.monotonic(), 0.0])
            span[1] = time.monotonic()
            self.concurrency_refusals += slots - admitted
            return user, admitted

    def peak_users_syncing(self) -> int:
        """The most users whose [first, last] request spans overlapped at one moment
        (how many mailboxes a client synced at once)."""
        edges = sorted([(a, 1) for a, _ in self.user_spans.values()]
                       + [(b, -1) for _, b in self.user_spans.values()])
        peak = now = 0
        for _, step in edges:
            now += step
            peak = max(peak, now)
        return peak

    def leave(self, user: str, admitted: int) -> None:
        with self._lock:
            self.in_flight[user] = self.in_flight.get(user, 0) - admitted

    def _inject(self, path: str) -> None:
        for item in self.injected:
            if item.count > 0 and item.match in path:
                item.count -= 1
                raise ApiError(item.status, item.reason, item.message, dict(item.headers))

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """One API call (top level or batch part) -> (status, headers, JSON body)."""
        parsed = urllib.parse.urlparse(target)
        query = urllib.parse.parse_qs(parsed.query)
        try:
            self._inject(parsed.path)
            payload = self._route(method, parsed.path, query, headers, body)
            return (
                200,
                {"Content-Type": "application/json; charset=UTF-8"},
                json.dumps(payload).encode(),
            )
        except ApiError as exc:
            out = {"Content-Type": "application/json; charset=UTF-8", **exc.headers}
            return exc.status, out, json.dumps(exc.body()).encode()

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> Any:
        from tests.connectors.google import fake_routes

        return fake_routes.route(self, method, path, query, headers, body)

    def mailbox(self, user: str) -> Mailbox:
        box = self.mailboxes.get(user)
        if box is None:
            raise ApiError(404, "notFound", "Mailbox not found")
        return box


def _rfc3339(epoch: float) -> str:
    """2026-06-01T12:00:03.250Z, the form Gmail writes retry times in."""
    stamp = datetime.fromtimestamp(epoch, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _concurrency_error() -> tuple[int, dict[str, str], bytes]:
    body = json.dumps(ApiError(429, "rateLimitExceeded", CONCURRENCY_MESSAGE).body()).encode()
    return 429, {"Content-Type": "application/json; charset=UTF-8"}, body


def _jwt_claims(assertion: str) -> dict[str, Any]:
    try:
        part = assertion.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):
        return {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_fake: FakeGoogle

    def log_message(self, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        fake = self.server_fake
        body = self._body()
        with fake._lock:
            fake.http_requests += 1
        path = self.path.split("?", 1)[0]
        if path == "/token":
            if fake.latency:
                time.sleep(fake.latency)
            with fake._lock:
                fake.token_requests += 1
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
            status, payload = fake.token(form)
            self._reply(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())
            return
        if path.startswith("/batch/"):
            self._batch(body)
            return
        user, admitted = fake.enter(self.headers.get("Authorization"), 1)
        try:
            if fake.latency:
                time.sleep(fake.latency)
            if not admitted:
                self._reply(*_concurrency_error())
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            kind = None
            if fake.faults is not None:
                kind = fake.faults.draw(f"{method} {self.path}", fault_kinds(self.path))
            if kind is None or kind in TRANSPORT_FAULTS:
                status, out_headers, out = fake.handle(method, self.path, headers, body)
            else:
                error = fake.faults.error(kind, fake, headers, self.path)  # type: ignore[union-attr]
                status, out_headers, out = error.status, dict(error.headers), json.dumps(
                    error.body()
                ).encode()
                out_headers["Content-Type"] = "application/json; charset=UTF-8"
        finally:
            fake.leave(user, admitted)
        if kind in TRANSPORT_FAULTS:
            self._transport_fault(kind, status, out_headers, out)
            return
        self._reply(status, out_headers, out)

    def _transport_fault(
        self, kind: str, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        """A read timeout, a reset, or a body cut short; then the connection is gone."""
        fake = self.server_fake
        assert fake.faults is not None
        self.close_connection = True
        if kind == "timeout":
            time.sleep(fake.faults.hold_seconds)
        elif kind == "truncated":
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
        # SO_LINGER 0: closing sends RST, as a dropped connection does
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _batch(self, body: bytes) -> None:
        fake = self.server_fake
        content_type = self.headers.get("Content-Type", "")
        message = BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        parts = message.get_payload()
        if not isinstance(parts, list):
            self._reply(400, {}, b"not multipart")
            return
        with fake._lock:
            fake.batch_sizes.append(len(parts))
        if fake.before_batch is not None:
            hook, fake.before_batch = fake.before_batch, None
            hook()
        if len(parts) > BATCH_LIMIT:  # the batch guide: "limited to 100 calls in a single batch"
            error = {
                "error": {
                    "code": 400,
                    "message": f"Inner request count exceeds the limit. Received: {len(parts)}, "
                    f"Limit: {BATCH_LIMIT}",
                    "status": "INVALID_ARGUMENT",
                }
            }
            self._reply(400, {"Content-Type": "application/json"}, json.dumps(error).encode())
            return
        if len(parts) > 50:
            fake.violations.append(f"batch of {len(parts)} requests (Gmail recommends at most 50)")
        if fake.faults is not None:  # the envelope itself may fail like any request
            lines = [str(p.get_payload(decode=False)).lstrip().split("\n", 1)[0] for p in parts]
            kind = fake.faults.draw("batch " + "|".join(lines), fault_kinds(""))
            if kind in TRANSPORT_FAULTS:
                self._transport_fault(kind, 200, {}, b"")
                return
            if kind is not None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                error = fake.faults.error(kind, fake, headers, "/batch/")
                out_headers = {"Content-Type": "application/json; charset=UTF-8", **error.headers}
                self._reply(error.status, out_headers, json.dumps(error.body()).encode())
                return
        boundary = "batch_fake_boundary"
        out = []
        user, admitted = fake.enter(self.headers.get("Authorization"), len(parts))
        try:
            if fake.latency:
                time.sleep(fake.latency)
            for index, part in enumerate(parts):
                content_id = part.get("Content-ID", "<x + 0>")
                raw = part.get_payload(decode=False)
                head, _, sub_body = raw.replace("\r\n", "\n").partition("\n\n")
                request_line, *header_lines = head.split("\n")
                method, target, _ = request_line.split(" ", 2)
                sub_headers = {}
                for line in header_lines:
                    key, _, value = line.partition(":")
                    sub_headers[key.strip().lower()] = value.strip()
                part_fault = None
                if fake.faults is not None and index < admitted:
                    part_fault = fake.faults.draw(f"part {method} {target}", PART_FAULTS)
                if part_fault is not None:  # this part fails; the batch still answers 200
                    error = fake.faults.error(part_fault, fake, sub_headers, target)  # type: ignore[union-attr]
                    status, headers = error.status, {
                        "Content-Type": "application/json; charset=UTF-8", **error.headers
                    }
                    payload = json.dumps(error.body()).encode()
                elif index < admitted:
                    status, headers, payload = fake.handle(
                        method, target, sub_headers, sub_body.encode()
                    )
                else:  # beyond the user's concurrency: refused like Gmail, part by part
                    status, headers, payload = _concurrency_error()
                lines = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}"]
                lines += [f"{k}: {v}" for k, v in headers.items()]
                inner = "\r\n".join(lines) + "\r\n\r\n" + payload.decode()
                out.append(
                    f"--{boundary}\r\nContent-Type: application/http\r\n"
                    f"Content-ID: <response-{content_id.strip('<>')}>\r\n\r\n{inner}\r\n"
                )
        finally:
            fake.leave(user, admitted)
        text = "".join(out) + f"--{boundary}--\r\n"
        self._reply(200, {"Content-Type": f"multipart/mixed; boundary={boundary}"}, text.encode())


def _project_error(service: str) -> ApiError:
    """What Google Cloud answers when a project's per-minute quota is spent."""
    return ApiError(
        429,
        "rateLimitExceeded",
        f"Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service "
        f"'{service}' for consumer 'project_number:1234567890'.",
    )
