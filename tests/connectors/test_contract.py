"""The shared source contract, run against the in-memory fake and the files connector."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from peerpulse.connectors.base import SourceContext
from peerpulse.connectors.files.connector import FilesConnector
from peerpulse.connectors.files.settings import FilesSettings
from peerpulse.connectors.memory import MemoryConnector
from peerpulse.connectors.records import MessageMeta

from tests.connectors.contract import SourceContract

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def _files_source(tmp_path: Path, name: str, entries: list[str]) -> Any:
    context = SourceContext(
        account="contract",
        owner_addresses=frozenset({"owner@example.com"}),
        base_dir=str(tmp_path),
        now=NOW,
    )
    (source,) = FilesConnector(context, FilesSettings(**{name: entries})).sources()
    return source


class TestMemoryConnector(SourceContract):
    def populated_source(self, tmp_path: Path) -> Any:
        message = MessageMeta("m1", "m1", "m1", NOW, "a@example.com", to=("owner@example.com",))
        context = SourceContext("contract", frozenset())
        return MemoryConnector(context, sources={"mail": [message]}).sources()[0]

    def empty_source(self, tmp_path: Path) -> Any:
        context = SourceContext("contract", frozenset())
        return MemoryConnector(context, sources={"mail": []}).sources()[0]


class TestFilesMail(SourceContract):
    def populated_source(self, tmp_path: Path) -> Any:
        (tmp_path / "inbox.mbox").write_text(
            "From a Mon Mar  4 10:00:00 2024\nMessage-ID: <x@y>\nFrom: A <A@Example.com>\n"
            "To: Owner@Example.com\nDate: Mon, 4 Mar 2024 11:00:00 +0100\n\nhi\n"
        )
        return _files_source(tmp_path, "mail", ["inbox.mbox"])

    def empty_source(self, tmp_path: Path) -> Any:
        (tmp_path / "empty.mbox").write_bytes(b"")
        return _files_source(tmp_path, "mail", ["empty.mbox"])


class TestFilesCalendar(SourceContract):
    def populated_source(self, tmp_path: Path) -> Any:
        (tmp_path / "cal.ics").write_text(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:e\nDTSTART;TZID=Europe/Paris:20240510T100000\n"
            "DTEND;TZID=Europe/Paris:20240510T110000\nATTENDEE:mailto:Bob@Example.com\n"
            "END:VEVENT\nEND:VCALENDAR\n"
        )
        return _files_source(tmp_path, "calendar", ["cal.ics"])

    def empty_source(self, tmp_path: Path) -> Any:
        (tmp_path / "cal.ics").write_text("BEGIN:VCALENDAR\nEND:VCALENDAR\n")
        return _files_source(tmp_path, "calendar", ["cal.ics"])


class TestFilesPeople(SourceContract):
    def populated_source(self, tmp_path: Path) -> Any:
        (tmp_path / "people.toml").write_text('[[person]]\nemail = "Ann@Example.com"\n')
        return _files_source(tmp_path, "people", ["people.toml"])

    def empty_source(self, tmp_path: Path) -> Any:
        (tmp_path / "people.csv").write_text("email,name\n")
        return _files_source(tmp_path, "people", ["people.csv"])
