"""The one HTTP session of a Microsoft account, shared by msal and the Graph client.

msal only accepts ``https`` authorities, so a test cannot hand it a local
``http://127.0.0.1`` fake as its authority. Instead every request goes through
:class:`RoutedSession`, which maps the public roots (``https://graph.microsoft.com``,
``https://login.microsoftonline.com``) to the configured endpoints. In production
the map is the identity; in tests it points both roots at the fake server, and
the links the fake hands out (``@odata.nextLink``) look exactly like Graph's.
"""

from __future__ import annotations

from typing import Any

import requests
from peerpulse.connectors.microsoft.settings import GRAPH_ROOT, LOGIN_ROOT, MicrosoftSettings

TIMEOUT = 60.0  # seconds; Graph's gateway gives up on a request after about 30


class RoutedSession(requests.Session):
    """A requests session that rewrites the Microsoft roots and always has a timeout."""

    def __init__(self, routes: dict[str, str] | None = None, timeout: float = TIMEOUT) -> None:
        super().__init__()
        self.routes = {k.rstrip("/"): v.rstrip("/") for k, v in (routes or {}).items() if k != v}
        self.timeout = timeout
        self.retry_after: float | None = None  # of the last answer (sign-in retries read it)

    def route(self, url: str) -> str:
        for public, local in self.routes.items():
            if url == public or url.startswith(public + "/"):
                return local + url[len(public) :]
        return url

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        self.retry_after = None
        response = super().request(str(method), self.route(str(url)), *args, **kwargs)
        self.retry_after = _delta_seconds(response.headers.get("Retry-After"))
        return response


def _delta_seconds(raw: str | None) -> float | None:
    """A Retry-After in seconds (what the sign-in service sends), bounded; else None.
    msal reads the token endpoint's answers itself, so its credentials look here."""
    try:
        return min(300.0, max(0.0, float(raw))) if raw else None
    except ValueError:
        return None


def session_for(settings: MicrosoftSettings) -> RoutedSession:
    """The session for one account's settings (``graph_endpoint``/``login_endpoint``)."""
    return RoutedSession(
        {GRAPH_ROOT: settings.graph_endpoint, LOGIN_ROOT: settings.login_endpoint}
    )
