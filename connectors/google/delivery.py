"""Delivery through the account's own Gmail (users.messages.send), over :mod:`.send`.

Needs the ``gmail.send`` scope in the account's token: ``peerpulse auth google
--account NAME`` asks for it when the account's delivery is ``gmail``.
Registered as the ``gmail`` delivery backend of the ``google`` provider.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from peerpulse.connectors.base import ConnectorError
from peerpulse.connectors.delivery import DeliveryOutcome, DeliveryState
from peerpulse.connectors.google import GmailDeliverySettings
from peerpulse.connectors.google.settings import GoogleSettings
from peerpulse.connectors.registry import DeliveryRequest, DeliveryUnusable


class GmailDeliveryBackend:
    """``send(message) -> DeliveryOutcome`` through Gmail; credentials load lazily per send."""

    def __init__(
        self,
        account: str,
        source_settings: GoogleSettings,
        *,
        state_dir: str | Path,
        base_dir: str | Path = ".",
        subject: str | None = None,
    ) -> None:
        self.account = account
        self.settings = source_settings
        self.state_dir = str(state_dir)
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
                state_dir=self.state_dir,
            )
        except ConnectorError as exc:
            hint = getattr(exc, "command", None)
            return DeliveryOutcome(
                DeliveryState.FAILED, f"{exc}" + (f"; run: {hint}" if hint else "")
            )
        api = GoogleApi(credentials, self.settings.api_endpoint)
        result = send_message(api.gmail, api.http(), message)
        return DeliveryOutcome(
            DeliveryState(result.state),
            result.detail,
            location=f"gmail:{result.message_id}" if result.message_id else None,
        )


def make_gmail_backend(
    config: GmailDeliverySettings, request: DeliveryRequest
) -> GmailDeliveryBackend:
    """The ``gmail`` delivery factory: sends with the account's own Google credentials."""
    if not isinstance(request.source, GoogleSettings):
        raise DeliveryUnusable(
            "delivery type 'gmail' needs a google source on the same account",
            hint="use type = \"smtp\" or \"file\", or set [accounts.source] type = \"google\"",
        )
    return GmailDeliveryBackend(
        request.account,
        request.source,
        state_dir=request.state_dir,
        base_dir=request.base_dir,
        subject=request.owner,
    )
