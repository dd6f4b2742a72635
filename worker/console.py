"""What every command shares for talking to the user: the output environment, --now, JSON.

Apart from ``cli`` (argument parsing) and ``commands`` (what each command does) so
that both can use it without importing each other.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from peerpulse.worker.errors import ConfigError


@dataclass
class Env:
    """What a command may touch of the outside world; tests inject their own."""

    stdout: Any = sys.stdout
    stderr: Any = sys.stderr

    def print(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    @property
    def interactive(self) -> bool:
        return bool(getattr(self.stdout, "isatty", lambda: False)())


def parse_now(value: str | None) -> datetime | None:
    """--now / PEERPULSE_NOW: an ISO date or datetime; naive means UTC."""
    value = value or os.environ.get("PEERPULSE_NOW")
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"--now/PEERPULSE_NOW must be an ISO date or datetime, got {value!r}",
            file="command line",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=_json_default)
