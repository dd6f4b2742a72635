"""Delivery through the account's own Gmail (users.messages.send), over connectors.google.send.

Needs the ``gmail.send`` scope in the account's token: ``peerpulse auth google
--account NAME`` asks for it when the account's delivery is ``gmail``.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from peerpulse.connectors.base import ConnectorError
from peerpulse.worker.delivery.base import DeliveryOutcome, DeliveryState


class GmailDeliveryBackend:
    """``send(message) -> DeliveryOutcome`` through Gmail; credentials load lazily per send."""

    def __init__(
        self,
        account: str,
        source_settings: Mapping[str, Any],
        *,
        state_dir: str | Path,
        base_dir: str | Path = ".",
        subject: str | None = None,
    ) -> None:
        self.account = account
        self.settings = dict(source_settings)
        self.settings["state_dir"] = str(state_dir)
        self.base_dir = str(base_dir)
        self.subject = subject

    def send(self, message: EmailMessage) -> DeliveryOutcome:
        from peerpulse.connectors.google.auth import SCOPE_GMAIL_SEND, account_credentials
        from peerpulse.connectors.google.send import send_message
        from peerpulse.connectors.google.services import GoogleApi

        try:
            credentials = account_credentials(
                self.account,
                self.settings,
                subject=self.subject or self.account,
                scopes=[SCOPE_GMAIL_SEND],
                base_dir=self.base_dir,
            )
        except ConnectorError as exc:
            hint = getattr(exc, "command", None)
            return DeliveryOutcome(
                DeliveryState.FAILED, f"{exc}" + (f"; run: {hint}" if hint else "")
            )
        api = GoogleApi(credentials, self.settings.get("api_endpoint"))
        result = send_message(api.gmail, api.http(), message)
        return DeliveryOutcome(
            DeliveryState(result.state),
            result.detail,
            location=f"gmail:{result.message_id}" if result.message_id else None,
        )


def make_gmail_backend(
    config: Any,
    *,
    owner: str,
    resolve_path: Any,
    account: Any = None,
    settings: Any = None,
) -> GmailDeliveryBackend:
    """The ``gmail`` delivery factory: sends with the account's own Google credentials."""
    from peerpulse.worker.errors import ConfigError

    if account is None or settings is None or account.source.type != "google":
        raise ConfigError(
            "delivery type 'gmail' needs a google source on the same account",
            key="delivery.type",
            hint="use type = \"smtp\" or \"file\", or set [accounts.source] type = \"google\"",
        )
    return GmailDeliveryBackend(
        account.name,
        account.source.model_dump(mode="python"),
        state_dir=settings.state_path,
        base_dir=settings.base_dir,
        subject=owner,
    )
