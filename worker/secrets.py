"""Secret references as the worker resolves them: a dangling one is a config error."""

from __future__ import annotations

from peerpulse.connectors import settings as connector_settings
from peerpulse.worker.errors import ConfigError


class SecretRef(connector_settings.SecretRef):
    """A secret by reference: an environment variable name or a file path."""

    def resolve(self) -> str:
        """The secret's value; raises ConfigError if the reference is dangling."""
        try:
            return self.value()
        except connector_settings.SecretUnavailable as exc:
            raise ConfigError(str(exc), key="secret") from None
