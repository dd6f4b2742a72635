"""The shared connector contract, run against the Microsoft sources over the fake Graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.connectors.contract import SourceContract
from tests.connectors.microsoft.conftest import connect, sign_in
from tests.connectors.microsoft.fake_data import USER, event, fill_mailbox
from tests.connectors.microsoft.fake_graph import Collection


class _OverFake(SourceContract):
    fake: Any

    @pytest.fixture(autouse=True)
    def _server(self, fake: Any) -> None:
        self.fake = fake

    def _source(self, tmp_path: Path, **overrides: Any) -> Any:
        state = tmp_path / "state"
        state.mkdir(exist_ok=True)
        sign_in(self.fake, state)
        overrides.setdefault("page_size", 20)
        return connect(self.fake, state, **overrides).sources()[0]


class TestMailSource(_OverFake):
    def populated_source(self, tmp_path: Path) -> Any:
        fill_mailbox(self.fake, inbox=45, sent=12)
        return self._source(tmp_path, calendar=False)

    def empty_source(self, tmp_path: Path) -> Any:
        return self._source(tmp_path, calendar=False)


class TestCalendarSource(_OverFake):
    def populated_source(self, tmp_path: Path) -> Any:
        self.fake.calendars[USER] = Collection("#microsoft.graph.event")
        for n in range(25):
            self.fake.calendars[USER].put(event(n))
        return self._source(tmp_path, mail=False)

    def empty_source(self, tmp_path: Path) -> Any:
        return self._source(tmp_path, mail=False)
