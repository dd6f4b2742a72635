"""The shared connector contract, run against the Google sources over the fake server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from peerpulse.connectors.google.connector import GoogleConnector

from tests.connectors.contract import SourceContract
from tests.connectors.google.conftest import NOW_MS, READ_SCOPES, USER, make_context, write_token
from tests.connectors.google.fake_data import Calendar, Mailbox, synthetic_mailbox
from tests.connectors.google.test_calendar import event


class _OverFake(SourceContract):
    fake: Any
    which = 0

    @pytest.fixture(autouse=True)
    def _server(self, fake: Any) -> None:
        self.fake = fake

    def _source(self, tmp_path: Path, **overrides: Any) -> Any:
        state = tmp_path / "state"
        state.mkdir(exist_ok=True)
        write_token(state, self.fake, READ_SCOPES)
        return GoogleConnector(*make_context(self.fake, state, **overrides)).sources()[0]


class TestGmailSource(_OverFake):
    def populated_source(self, tmp_path: Path) -> Any:
        self.fake.mailboxes[USER] = synthetic_mailbox(USER, 120, newest_ms=NOW_MS - 60_000)
        return self._source(tmp_path, calendars=[])

    def empty_source(self, tmp_path: Path) -> Any:
        self.fake.mailboxes[USER] = Mailbox(USER)
        return self._source(tmp_path, calendars=[])


class TestCalendarSource(_OverFake):
    def populated_source(self, tmp_path: Path) -> Any:
        cal = Calendar()
        for n in range(5):
            cal.put(event(n))
        self.fake.calendars[(USER, "primary")] = cal
        return self._source(tmp_path, mail=False)

    def empty_source(self, tmp_path: Path) -> Any:
        self.fake.calendars[(USER, "primary")] = Calendar()
        return self._source(tmp_path, mail=False)
