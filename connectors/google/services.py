"""Endpoints and HTTP connections for one Google account.

httplib2 is not thread-safe, so every thread gets its own ``httplib2.Http``
wrapped with the shared credentials; requests are built once
from the bundled discovery documents (``static_discovery=True``: no network)
and executed with the calling thread's connection. ``api_endpoint`` points
everything at a fake server in tests; the batch URI is built here because
``new_batch_http_request()`` ignores ``api_endpoint`` (issue
googleapis/google-api-python-client#1107).
"""

from __future__ import annotations

import threading
from typing import Any

import google_auth_httplib2
import httplib2
from googleapiclient.discovery import build

GMAIL_ROOT = "https://gmail.googleapis.com/"
CALENDAR_ROOT = "https://www.googleapis.com/"
ADMIN_ROOT = "https://admin.googleapis.com/"


class GoogleApi:
    """Built services plus a per-thread authorized connection."""

    def __init__(
        self,
        credentials: Any,
        api_endpoint: str | None = None,
        timeout: float = 60,
        *,
        service_account: bool = False,
    ) -> None:
        self.credentials = credentials
        self.service_account = service_account
        self.root = api_endpoint.rstrip("/") + "/" if api_endpoint else None
        self.timeout = timeout
        self._local = threading.local()
        self._services: dict[str, Any] = {}
        self._lock = threading.Lock()

    def http(self) -> google_auth_httplib2.AuthorizedHttp:
        """This thread's connection (created on first use)."""
        conn = getattr(self._local, "http", None)
        if conn is None:
            conn = google_auth_httplib2.AuthorizedHttp(
                self.credentials, http=httplib2.Http(timeout=self.timeout)
            )
            self._local.http = conn
        return conn

    def _service(self, name: str, version: str, path: str) -> Any:
        with self._lock:
            if name not in self._services:
                options = {"api_endpoint": self.root + path} if self.root else None
                self._services[name] = build(
                    name,
                    version,
                    http=self.http(),
                    static_discovery=True,
                    client_options=options,
                    cache_discovery=False,
                )
            return self._services[name]

    @property
    def gmail(self) -> Any:
        return self._service("gmail", "v1", "")

    @property
    def calendar(self) -> Any:
        return self._service("calendar", "v3", "calendar/v3/")

    @property
    def directory(self) -> Any:
        return self._service("admin", "directory_v1", "")

    @property
    def gmail_batch_uri(self) -> str:
        return (self.root or GMAIL_ROOT) + "batch/gmail/v1"


def auth_failure(api: GoogleApi, account: str, exc: BaseException) -> Exception:
    """The error a refused token or a 401 means for this account (see auth.token_failure)."""
    from peerpulse.connectors.google.auth import token_failure

    scopes = getattr(api.credentials, "scopes", None) or ()
    return token_failure(exc, account, service=api.service_account, scopes=scopes)


def run_request(api: GoogleApi, pacer: Any, request: Any, units: float, account: str) -> Any:
    """Execute one request under the pacer on this thread's connection.

    A 401 after the library's own refresh, a 403 for missing scopes, or a refresh
    refused mid-run (``invalid_grant``) all mean the same to a user: authorize
    again; to a service account they mean its delegation is missing.
    """
    import google.auth.exceptions
    from googleapiclient.errors import HttpError
    from peerpulse.connectors.google.pacing import error_reason

    try:
        return pacer.call(units, lambda: request.execute(http=api.http()))
    except HttpError as exc:
        if exc.resp.status == 401 or (
            exc.resp.status == 403
            and error_reason(exc) in {"insufficientPermissions", "PERMISSION_DENIED"}
        ):
            raise auth_failure(
                api, account, RuntimeError(f"{exc.resp.status} {error_reason(exc)}")
            ) from None
        raise
    except google.auth.exceptions.RefreshError as exc:
        raise auth_failure(api, account, exc) from None
