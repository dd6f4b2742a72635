"""The built-in delivery backends' ``[accounts.delivery]`` keys and defaults.

The worker's config adds the ``type`` tag when it composes the union of every
registered backend (see :mod:`connectors.registry`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from peerpulse.connectors.settings import StrictSettings
from peerpulse.worker.secrets import SecretRef
from pydantic import Field


class SmtpSettings(StrictSettings):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretRef | None = None
    sender: str | None = None  # From: address; defaults to the account owner
    timeout_seconds: float = 30.0


class FileSettings(StrictSettings):
    dir: Path = Path("out")


class StdoutSettings(StrictSettings):
    format: Literal["text", "html", "eml"] = "text"
