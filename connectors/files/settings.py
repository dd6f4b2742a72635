"""The ``files`` provider's ``[accounts.source]`` keys and their defaults."""

from __future__ import annotations

from peerpulse.connectors.settings import ProviderSettings
from pydantic import Field


class FilesSettings(ProviderSettings):
    """Local exports read in place; each list takes files, folders or globs."""

    calendar: list[str] = []  # ICS files, folders or globs
    mail: list[str] = []  # mbox files, Maildir folders, folders of .eml, globs
    people: list[str] = []  # CSV or TOML people files
    window_past_days: int = Field(default=400, ge=1, le=3650)
    window_future_days: int = Field(default=60, ge=0, le=730)

    def has_calendar(self) -> bool:
        return bool(self.calendar)

    def local_paths(self) -> list[str]:
        return [*self.calendar, *self.mail, *self.people]
