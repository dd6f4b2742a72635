"""A server that repeats a page token ends the listing with a clear error, not a loop."""

from __future__ import annotations

from typing import Any

import pytest
from peerpulse.connectors.base import ConnectorError
from peerpulse.connectors.google.auth import SCOPE_DIRECTORY
from peerpulse.connectors.google.connector import GoogleConnector
from peerpulse.connectors.google.paging import PageTokens, RepeatedPageToken, pages

from tests.connectors.google import fake_routes
from tests.connectors.google.conftest import drain, make_context, write_token
from tests.connectors.google.test_directory_and_send import user


def test_pages_follow_tokens_to_the_last_page() -> None:
    served = {None: {"n": 1, "nextPageToken": "a"}, "a": {"n": 2, "nextPageToken": "b"},
              "b": {"n": 3}}
    asked: list[str | None] = []

    def fetch(token: str | None) -> dict[str, Any]:
        asked.append(token)
        return served[token]

    assert [r["n"] for r in pages(fetch, "test.list")] == [1, 2, 3]
    assert asked == [None, "a", "b"]


def test_pages_stop_on_a_repeated_token_naming_the_listing() -> None:
    calls = 0

    def fetch(token: str | None) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        assert calls < 10, "looped"
        return {"nextPageToken": "same"}

    with pytest.raises(RepeatedPageToken, match="test.list: the server returned the same page"):
        list(pages(fetch, "test.list"))
    assert calls == 2


def test_a_resumed_token_counts_as_seen() -> None:
    tokens = PageTokens("test.list", start="resume")
    assert tokens.next({"nextPageToken": "fresh"}) == "fresh"
    assert tokens.next({}) is None
    with pytest.raises(RepeatedPageToken):
        tokens.check("resume")


def test_directory_sync_against_a_server_repeating_its_token_fails_clearly(
    fake, state_dir, store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_page = fake_routes._page

    def stuck_page(items: list[Any], key: str, one: dict[str, str], ceiling: int) -> dict[str, Any]:
        out = real_page(items, key, one, ceiling)
        if "nextPageToken" in out:
            out["nextPageToken"] = str(ceiling)  # always "the second page", again and again
        return out

    monkeypatch.setattr(fake_routes, "_page", stuck_page)
    fake.directory = [user(f"p{i}@example.com", "Engineer") for i in range(1200)]
    write_token(state_dir, fake, {SCOPE_DIRECTORY})
    context = make_context(fake, state_dir, calendars=[], mail=False, directory=True)
    (source,) = GoogleConnector(*context).sources()
    with pytest.raises(ConnectorError, match="users.list: the server returned the same page"):
        drain(store, source)
    assert len([m for m, _ in fake.log if "users" in m]) == 2  # the repeat is the second page
