"""Delivery through the account's own Microsoft 365 mailbox (Graph sendMail), over :mod:`.send`.

Needs Mail.Send: ``peerpulse auth microsoft --account NAME`` asks for it when the
account's delivery is ``graph``; in application mode the app needs the
``Mail.Send`` application permission (scoped like the others, docs/MICROSOFT.md).
Registered as the ``graph`` delivery backend of the ``microsoft`` provider.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from peerpulse.connectors.base import ConnectorError, SourceContext
from peerpulse.connectors.delivery import DeliveryOutcome, DeliveryState
from peerpulse.connectors.microsoft import GraphDeliverySettings
from peerpulse.connectors.microsoft.settings import MicrosoftSettings
from peerpulse.connectors.registry import DeliveryRequest, DeliveryUnusable


class GraphDeliveryBackend:
    """``send(message) -> DeliveryOutcome`` through Graph; credentials load per send."""

    def __init__(
        self,
        account: str,
        owner: str,
        source_settings: MicrosoftSettings,
        *,
        state_dir: str | Path,
        base_dir: str | Path = ".",
    ) -> None:
        self.account, self.owner = account, owner
        self.settings = source_settings
        self.state_dir = str(state_dir)
        self.base_dir = str(base_dir)

    def send(self, message: EmailMessage) -> DeliveryOutcome:
        from peerpulse.connectors.microsoft.connector import MicrosoftConnector
        from peerpulse.connectors.microsoft.send import send_message

        context = SourceContext(
            self.account,
            frozenset({self.owner.lower()}),
            base_dir=self.base_dir,
            state_dir=self.state_dir,
        )
        try:
            connector = MicrosoftConnector(context, self.settings, send=True)
        except ConnectorError as exc:
            hint = getattr(exc, "command", None)
            return DeliveryOutcome(
                DeliveryState.FAILED, f"{exc}" + (f"; run: {hint}" if hint else "")
            )
        try:
            result = send_message(connector.client, message)
        finally:
            connector.close()
        return DeliveryOutcome(DeliveryState(result.state), result.detail)


def make_graph_backend(
    config: GraphDeliverySettings, request: DeliveryRequest
) -> GraphDeliveryBackend:
    """The ``graph`` delivery factory: sends with the account's own Microsoft credentials."""
    if not isinstance(request.source, MicrosoftSettings):
        raise DeliveryUnusable(
            "delivery type 'graph' needs a microsoft source on the same account",
            hint='use type = "smtp" or "file", or set [accounts.source] type = "microsoft"',
        )
    return GraphDeliveryBackend(
        request.account,
        request.owner,
        request.source,
        state_dir=request.state_dir,
        base_dir=request.base_dir,
    )
