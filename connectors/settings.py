"""What a provider's settings model builds on: strict models and secret references.

A provider declares one pydantic model for its ``[accounts.source]`` table
(see :mod:`connectors.registry`). Deriving from :class:`ProviderSettings`
makes it strict (unknown keys are errors naming the key, values are frozen);
the worker adds the ``type`` tag, so the model lists only its own keys and
their defaults, once. Secrets are :class:`SecretRef` fields: a reference to an
environment variable or a file, never the secret itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from peerpulse.connectors.file_modes import secret_file_problem
from pydantic import BaseModel, ConfigDict, model_validator


class SecretUnavailable(ValueError):
    """A secret reference points at nothing usable (unset variable, unreadable file)."""


class StrictSettings(BaseModel):
    """Unknown keys are errors, values are frozen: the base of every settings model."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderSettings(StrictSettings):
    """Base of every provider's ``[accounts.source]`` model; override the hooks it needs."""

    def has_calendar(self) -> bool:
        """Whether this source syncs a calendar: without one, free time is unknown."""
        return True

    def local_paths(self) -> list[str]:
        """Paths of local exports this source reads (for hints when they are missing)."""
        return []


class SecretRef(BaseModel):
    """A secret by reference: an environment variable name or a file path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' (a variable name) or 'file' (a path)")
        return self

    def value(self) -> str:
        """The secret's value; SecretUnavailable if the reference is dangling.

        A relative file resolves against ``$CREDENTIALS_DIRECTORY`` (systemd
        ``LoadCredential=``) when set, else against the working directory.
        """
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise SecretUnavailable(f"environment variable {self.env} is not set")
            return value
        assert self.file is not None
        path = Path(os.path.expanduser(str(self.file)))
        creds = os.environ.get("CREDENTIALS_DIRECTORY")
        if not path.is_absolute() and creds:
            path = Path(creds) / path
        problem = secret_file_problem(path)
        if problem:
            raise SecretUnavailable(problem)
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise SecretUnavailable(f"cannot read secret file {path}: {exc.strerror}") from exc
