"""Fixtures: a running fake Google server, an authorized account, a connector factory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from peerpulse.connectors.base import SourceContext
from peerpulse.connectors.google import pacing
from peerpulse.connectors.google.auth import (
    SCOPE_CALENDAR,
    SCOPE_DIRECTORY,
    SCOPE_GMAIL_METADATA,
    SCOPE_GMAIL_SEND,
)
from peerpulse.connectors.google.settings import GoogleSettings
from peerpulse.worker.sync import store_state

from tests.connectors.google.fake_data import Calendar, Mailbox
from tests.connectors.google.fake_google import FakeGoogle

USER = "alice@example.com"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
READ_SCOPES = {SCOPE_CALENDAR, SCOPE_GMAIL_METADATA}


@pytest.fixture(autouse=True)
def _fresh_buckets() -> None:
    pacing.reset_buckets()


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    server = FakeGoogle(allowed_scopes=READ_SCOPES | {SCOPE_GMAIL_SEND, SCOPE_DIRECTORY}).start()
    server.mailboxes[USER] = Mailbox(USER)
    server.calendars[(USER, "primary")] = Calendar()
    yield server
    server.stop()
    assert server.violations == [], server.violations


def write_token(
    state_dir: Path,
    fake: FakeGoogle,
    scopes: set[str],
    account: str = "alice",
    user: str = USER,
    refresh: str = "refresh-1",
) -> Path:
    fake.grant(user, scopes, refresh)
    path = state_dir / "tokens" / f"{account}-google.json"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(
        json.dumps(
            {
                "token": "expired",
                "refresh_token": refresh,
                "client_id": "cid.apps.googleusercontent.com",
                "client_secret": "shh",
                "scopes": sorted(scopes),
                "expiry": "2000-01-01T00:00:00Z",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    path.chmod(0o600)
    return path


def make_context(
    fake: FakeGoogle, state_dir: Path, store: Any = None, **overrides: Any
) -> tuple[SourceContext, GoogleSettings]:
    """A context and the typed settings, in the order GoogleConnector takes them; with
    ``store``, connector state reads from it (as in the worker, so each batch must be
    applied before the next is drawn: :func:`drain`)."""
    settings: dict[str, Any] = {
        "mode": "user",
        "calendars": ["primary"],
        "mail": True,
        "directory": False,
        "window_past_days": 30,
        "window_future_days": 30,
        "quota_units_per_minute": 3_000_000,
        "api_endpoint": fake.url,
        "token_endpoint": fake.token_url,
        "time_budget_seconds": 600,
        "mail_fetch": "auto",
        "batches_in_flight": 2,
    }
    subjects = overrides.pop("subjects", "kept")
    settings.update(overrides)
    context = SourceContext(
        account="alice",
        owner_addresses=frozenset({USER}),
        timezone="Europe/Berlin",
        subjects=subjects,
        state_dir=str(state_dir),
        now=NOW,
        committed_state=store_state(store, "alice") if store is not None else None,
    )
    return context, GoogleSettings(**settings)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


def drain(store: Any, source: Any, account: str = "alice") -> list[Any]:
    """What worker.sync does: apply each batch with its cursor."""
    batches = []
    for batch in source.sync(store.cursor(account, source.name)):
        store.apply_batch(account, source.name, batch)
        batches.append(batch)
    return batches
