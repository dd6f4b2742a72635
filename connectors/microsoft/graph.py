"""Graph requests for one mailbox: auth, pacing by concurrency, Retry-After, errors, links.

Outlook's limits are per app and mailbox: 10,000 requests per 10 minutes and at
most 4 concurrent requests (docs/MICROSOFT.md, "Limits and pacing"). A
semaphore per mailbox keeps us at ``concurrency`` (≤ 4) in flight, a
process-wide one bounds all mailboxes together. A 429 or 503 waits
``Retry-After`` (seconds or an HTTP date), else exponential back-off; a wait
longer than ``max_wait`` ends the run for this source (its cursors are kept)
rather than sleeping past the cron window.

A 401 refreshes the token (it may have expired, been revoked or rotated
early); a 401 to the token just refreshed means the grant is gone.
``@odata.nextLink``/``deltaLink`` are followed only on the Graph host, so a
bearer token never goes elsewhere, and a link seen twice in one listing stops
it (a looping server must not spin us).
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests
from peerpulse.connectors.base import AuthRequired, ConnectorError, SourceUnavailable
from peerpulse.connectors.microsoft.settings import GRAPH_ROOT

log = logging.getLogger(__name__)

API = GRAPH_ROOT + "/v1.0/"
MAX_ATTEMPTS = 7
GLOBAL_IN_FLIGHT = 16  # all mailboxes of this process together
RETRY_STATUSES = {429, 500, 502, 503, 504}

_mailbox_locks: dict[str, threading.BoundedSemaphore] = {}
_global = threading.BoundedSemaphore(GLOBAL_IN_FLIGHT)
_registry_lock = threading.Lock()


def mailbox_slots(mailbox: str, concurrency: int) -> threading.BoundedSemaphore:
    """The in-flight slots of one mailbox, shared by every source reading it."""
    with _registry_lock:
        if mailbox not in _mailbox_locks:
            _mailbox_locks[mailbox] = threading.BoundedSemaphore(concurrency)
        return _mailbox_locks[mailbox]


def reset_slots() -> None:
    """Forget the per-mailbox semaphores (tests)."""
    with _registry_lock:
        _mailbox_locks.clear()


class GraphError(ConnectorError):
    """Graph answered with an error the caller may handle (``status``, ``code``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"Graph said {status} {code}: {message}".strip())
        self.status, self.code, self.message = status, code, message

    @property
    def sync_state_lost(self) -> bool:
        """The delta token expired: 410 Gone, or a 4xx ``syncStateNotFound`` (any case)."""
        return self.status == 410 or (
            400 <= self.status < 500
            and self.code.lower() in {"syncstatenotfound", "resyncrequired", "syncstateinvalid"}
        )


class GraphUnreachable(SourceUnavailable):
    """No answer from Graph; ``not_sent`` when the request certainly never left."""

    def __init__(self, message: str, not_sent: bool) -> None:
        super().__init__(message)
        self.not_sent = not_sent


class AccessDenied(SourceUnavailable):
    """Graph refused this mailbox or operation (403): permissions or the access policy."""


class RepeatedLink(ConnectorError):
    """The server returned a link it had already returned in this listing."""


def error_of(response: requests.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", str(body)[:200]
    return str(error.get("code") or ""), str(error.get("message") or "")[:300]


def retry_after(response: requests.Response) -> float | None:
    """Seconds the server asked us to wait, if it said (delta-seconds or an HTTP date)."""
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class GraphClient:
    """Authorized JSON requests against one mailbox (``me`` or ``users/{upn}``)."""

    def __init__(
        self,
        session: requests.Session,
        credentials: Any,
        *,
        account: str,
        mailbox: str,
        concurrency: int = 4,
        max_wait: float = 300.0,
        auth_command: str = "",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session, self.credentials = session, credentials
        self.account = account
        self.mailbox = mailbox
        self.base = API + ("me" if mailbox == "me" else f"users/{mailbox}")
        # "me" is a different mailbox for every signed-in account
        self.slots = mailbox_slots(f"me:{account}" if mailbox == "me" else mailbox, concurrency)
        self.max_wait = max_wait
        self.auth_command = auth_command
        self.sleep = sleep
        self.requests = 0  # HTTP requests sent to Graph (retries included)
        self.throttled = 0
        self._count_lock = threading.Lock()

    # -- urls ------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """``path`` under this mailbox (``calendarView/delta``), or under the API root
        when it starts with a slash (``/users``)."""
        if path.startswith("/"):
            return API + path.lstrip("/")
        return f"{self.base}/{path}"

    @staticmethod
    def check_link(link: str) -> str:
        if not link.startswith(GRAPH_ROOT + "/"):
            raise ConnectorError(f"Graph returned a link off its own host: {link[:80]!r}")
        return link

    # -- requests --------------------------------------------------------------------

    def get(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        *,
        prefer: list[str] | None = None,
    ) -> dict[str, Any]:
        response = self.request("GET", url, params=params, prefer=prefer)
        try:
            body = response.json()
        except ValueError:
            raise ConnectorError(f"Graph returned a page that is not JSON ({url[:80]})") from None
        if not isinstance(body, dict):
            raise ConnectorError(f"Graph returned a page that is not an object ({url[:80]})")
        return body

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
        prefer: list[str] | None = None,
        retry: bool = True,
    ) -> requests.Response:
        """Send with auth; retry throttling and outages; raise GraphError for other errors.

        ``retry=False`` (sendMail) sends once: a request that may have been
        accepted must not be repeated blindly.
        """
        refresh = False
        for attempt in range(MAX_ATTEMPTS):
            # A 401 to a token refreshed for this very attempt means the grant is gone; a
            # 401 after other failures is a token that expired meanwhile (chaos runs found
            # one refresh per request too few: the second expiry asked for a new sign-in).
            fresh, refresh = refresh, False
            headers = {"Authorization": "Bearer " + self.credentials.token(force_refresh=fresh)}
            if prefer:
                headers["Prefer"] = ", ".join(prefer)
            if content_type:
                headers["Content-Type"] = content_type
            try:
                with self.slots, _global:
                    with self._count_lock:
                        self.requests += 1
                    response = self.session.request(
                        method, url, params=params, json=json, data=data, headers=headers
                    )
            except requests.RequestException as exc:
                if not retry or attempt == MAX_ATTEMPTS - 1:
                    not_sent = isinstance(exc, requests.ConnectTimeout) or (
                        "NewConnectionError" in str(exc) or "Connection refused" in str(exc)
                    )
                    raise GraphUnreachable(
                        f"cannot reach Microsoft Graph: {exc}", not_sent
                    ) from None
                self._wait(attempt, None)
                continue
            status = response.status_code
            if status < 400:
                return response
            if status == 401 and not fresh:
                refresh = True
                continue
            code, message = error_of(response)
            if status == 401:
                raise AuthRequired(
                    f"Graph refused account {self.account}'s token twice ({code or status})",
                    command=self.auth_command,
                )
            if status in RETRY_STATUSES and retry and attempt < MAX_ATTEMPTS - 1:
                if status == 429:
                    with self._count_lock:
                        self.throttled += 1
                self._wait(attempt, retry_after(response), status)
                continue
            if status == 403 and code in {"ErrorAccessDenied", "Authorization_RequestDenied"}:
                raise AccessDenied(
                    f"Graph denied access to mailbox {self.mailbox} ({code}: {message})",
                    hint="check the app's permissions and its application access policy / "
                    "RBAC scope (docs/MICROSOFT.md)"
                    + (f", or sign in again: {self.auth_command}" if self.mailbox == "me" else ""),
                )
            raise GraphError(status, code, message)
        raise SourceUnavailable("Microsoft Graph kept failing; giving up for this run")

    def _wait(self, attempt: int, asked: float | None, status: int = 0) -> None:
        if asked is None:
            asked = min(60.0, 2.0**attempt) * random.uniform(0.5, 1.0)
        if asked > self.max_wait:
            raise SourceUnavailable(
                f"Graph asked account {self.account} to wait {asked:.0f} s (status {status}); "
                "the next run continues",
                hint="raise max_retry_wait_seconds to wait inside one run",
            )
        log.info("%s: Graph throttled (%s); waiting %.1f s", self.account, status or "error", asked)
        self.sleep(asked)

    # -- listings --------------------------------------------------------------------

    def pages(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        *,
        prefer: list[str] | None = None,
        what: str = "listing",
    ) -> Iterator[dict[str, Any]]:
        """Every page of a listing, following ``@odata.nextLink`` (which carries the query)."""
        seen: set[str] = set()
        next_url: str | None = url
        first = True
        while next_url:
            page = self.get(next_url, params if first else None, prefer=prefer)
            first = False
            yield page
            link = page.get("@odata.nextLink")
            if link:
                if link in seen:
                    raise RepeatedLink(f"{what}: Graph returned the same next link twice")
                seen.add(link)
            next_url = self.check_link(str(link)) if link else None
