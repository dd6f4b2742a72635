"""Fixtures: a running fake Graph, a signed-in account, contexts wired to a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from peerpulse.connectors.base import SourceContext
from peerpulse.connectors.microsoft import graph
from peerpulse.connectors.microsoft.auth import authorize
from peerpulse.connectors.microsoft.connector import MicrosoftConnector
from peerpulse.connectors.microsoft.http import session_for
from peerpulse.connectors.microsoft.settings import MicrosoftSettings

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


def base_settings(fake: FakeGraph, **overrides: Any) -> MicrosoftSettings:
    settings: dict[str, Any] = {
        "mode": "delegated",
        "tenant": "organizations",
        "client_id": CLIENT_ID,
        "calendar": True,
        "mail": True,
        "directory": False,
        "window_past_days": 30,
        "window_future_days": 30,
        **fake.settings(),
    }
    settings.update(overrides)
    return MicrosoftSettings.model_validate(settings)


def sign_in(fake: FakeGraph, state_dir: Path, account: str = "alice", **overrides: Any) -> Path:
    """What `peerpulse auth microsoft --account alice` does, against the fake."""
    send = overrides.pop("send", False)
    settings = base_settings(fake, **overrides)
    return authorize(account, settings, session_for(settings), state_dir=state_dir,
                     send=send, say=lambda _: None)


class Wiring(NamedTuple):
    """What the provider's factory receives: the context and the typed settings."""

    context: SourceContext
    settings: MicrosoftSettings


def make_context(fake: FakeGraph, state_dir: Path, store: Any = None, **overrides: Any) -> Wiring:
    """Context (``subjects`` goes there) and settings (every other override) of account alice."""
    from peerpulse.worker.sync import _CommittedState

    subjects = overrides.pop("subjects", "kept")
    context = SourceContext(
        account="alice",
        owner_addresses=frozenset({USER}),
        timezone="Europe/Berlin",
        subjects=subjects,
        state_dir=str(state_dir),
        now=NOW,
        committed_state=(lambda name: _CommittedState(store, "alice", name)) if store else None,
    )
    return Wiring(context, base_settings(fake, **overrides))


def connect(
    fake: FakeGraph, state_dir: Path, store: Any = None, *, send: bool = False, **overrides: Any
) -> MicrosoftConnector:
    """The connector for account alice; ``send`` asks for Mail.Send as Graph delivery does."""
    context, settings = make_context(fake, state_dir, store, **overrides)
    return MicrosoftConnector(context, settings, send=send)


def drain(store: Any, source: Any, account: str = "alice") -> list[Any]:
    """What worker.sync does: apply each batch (records, cursor, state) in one transaction."""
    batches = []
    for batch in source.sync(store.cursor(account, source.name)):
        store.apply_batch(account, source.name, batch)
        batches.append(batch)
    return batches


def source_named(connector: Any, name: str) -> Any:
    return next(s for s in connector.sources() if s.name == name)
