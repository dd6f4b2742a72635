"""Page-token bookkeeping for Google list calls, with a guard against a looping server.

Every Google list API pages with ``pageToken``/``nextPageToken``. A server (or a
proxy, or a bug on either side) that hands back a token it already gave would
make a hand-written ``while True`` loop list the same page forever, re-fetching
and re-storing it. :class:`PageTokens` remembers the tokens of one listing and
raises :class:`RepeatedPageToken` on the first repeat; :func:`pages` is the plain
loop for listings that need no per-page bookkeeping of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from peerpulse.connectors.base import ConnectorError


class RepeatedPageToken(ConnectorError):
    """The server returned a page token it had already returned in this listing."""


class PageTokens:
    """The page tokens one listing has seen; a token seen twice ends the listing.

    ``start`` is a token resumed from a stored cursor: it counts as seen, so a
    server pointing back at it is caught too.
    """

    __slots__ = ("_what", "_seen")

    def __init__(self, what: str, start: str | None = None) -> None:
        self._what = what
        self._seen: set[str] = {start} if start else set()

    def check(self, token: str | None) -> str | None:
        """``token`` (None when the listing is done), after making sure it is new."""
        if not token:
            return None
        if token in self._seen:
            raise RepeatedPageToken(
                f"{self._what}: the server returned the same page token twice "
                f"(after {len(self._seen)} pages); stopping instead of listing the same "
                "page forever. The next run starts this listing again."
            )
        self._seen.add(token)
        return token

    def next(self, response: Mapping[str, Any]) -> str | None:
        """The response's ``nextPageToken``, checked; None on the last page."""
        return self.check(response.get("nextPageToken"))


def pages(
    fetch: Callable[[str | None], Mapping[str, Any]], what: str
) -> Iterator[Mapping[str, Any]]:
    """Every page of one listing: ``fetch(token)`` is called with None, then each new token."""
    tokens = PageTokens(what)
    token: str | None = None
    while True:
        response = fetch(token)
        yield response
        token = tokens.next(response)
        if token is None:
            return
