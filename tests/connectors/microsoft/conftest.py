"""Fixtures: a running fake Graph, a signed-in account, contexts wired to a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from peerpulse.connectors.base import SourceContext
from peerpulse.connectors.microsoft import graph
from peerpulse.connectors.microsoft.auth import authorize
from peerpulse.connectors.microsoft.http import session_for

from tests.connectors.microsoft.fake_data import NOW, USER
from tests.connectors.microsoft.fake_graph import FakeGraph

CLIENT_ID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture(autouse=True)
def _fresh_slots() -> None:
    graph.reset_slots()


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    server = FakeGraph().start()
    server.mailbox(USER)
    server.device_user = USER
    yield server
    server.stop()
    assert server.violations == [], server.violations


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


def base_settings(fake: FakeGraph, state_dir: Path, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "type": "microsoft",
        "mode": "delegated",
        "tenant": "organizations",
        "client_id": CLIENT_ID,
        "calendar": True,
        "mail": True,
        "directory": False,
        "window_past_days": 30,
        "window_future_days": 30,
        "state_dir": str(state_dir),
        **fake.settings(),
    }
    settings.update(overrides)
    return settings


def sign_in(fake: FakeGraph, state_dir: Path, account: str = "alice", **overrides: Any) -> Path:
    """What `peerpulse auth microsoft --account alice` does, against the fake."""
    settings = base_settings(fake, state_dir, **overrides)
    return authorize(account, settings, session_for(settings), state_dir=state_dir,
                     say=lambda _: None)


def make_context(
    fake: FakeGraph, state_dir: Path, store: Any = None, **overrides: Any
) -> SourceContext:
    from peerpulse.worker.sync import _CommittedState

    subjects = overrides.pop("subjects", "kept")
    settings = base_settings(fake, state_dir, **overrides)
    return SourceContext(
        account="alice",
        owner_addresses=frozenset({USER}),
        timezone="Europe/Berlin",
        subjects=subjects,
        settings=settings,
        now=NOW,
        committed_state=(lambda name: _CommittedState(store, "alice", name)) if store else None,
    )


def drain(store: Any, source: Any, account: str = "alice") -> list[Any]:
    """What worker.sync does: apply each batch (records, cursor, state) in one transaction."""
    batches = []
    for batch in source.sync(store.cursor(account, source.name)):
        store.apply_batch(account, source.name, batch)
        batches.append(batch)
    return batches


def source_named(connector: Any, name: str) -> Any:
    return next(s for s in connector.sources() if s.name == name)
