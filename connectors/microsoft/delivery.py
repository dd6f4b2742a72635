"""Delivery through the account's own Microsoft 365 mailbox (Graph sendMail), over
connectors.microsoft.send.

Needs Mail.Send: ``peerpulse auth microsoft --account NAME`` asks for it when the
account's delivery is ``graph``; in application mode the app needs the
``Mail.Send`` application permission (scoped like the others, docs/MICROSOFT.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from peerpulse.connectors.base import ConnectorError
from peerpulse.worker.delivery.base import DeliveryOutcome, DeliveryState


class GraphDeliveryBackend:
    """``send(message) -> DeliveryOutcome`` through Graph; credentials load per send."""

    def __init__(
        self,
        account: str,
        owner: str,
        source_settings: Mapping[str, Any],
        *,
        state_dir: str | Path,
        base_dir: str | Path = ".",
    ) -> None:
        self.account, self.owner = account, owner
        self.settings = dict(source_settings)
        self.settings["state_dir"] = str(state_dir)
        self.base_dir = str(base_dir)

    def send(self, message: EmailMessage) -> DeliveryOutcome:
        from peerpulse.connectors.base import SourceContext
        from peerpulse.connectors.microsoft.auth import account_credentials, auth_command
        from peerpulse.connectors.microsoft.connector import mailbox_for
        from peerpulse.connectors.microsoft.graph import GraphClient
        from peerpulse.connectors.microsoft.http import session_for
        from peerpulse.connectors.microsoft.send import send_message

        session = session_for(self.settings)
        try:
            credentials = account_credentials(
                self.account, self.settings, session, base_dir=self.base_dir, send=True
            )
            context = SourceContext(self.account, frozenset({self.owner}), settings=self.settings)
            client = GraphClient(
                session,
                credentials,
                account=self.account,
                mailbox=mailbox_for(context),
                auth_command=auth_command(self.account),
            )
        except ConnectorError as exc:
            hint = getattr(exc, "command", None)
            session.close()
            return DeliveryOutcome(
                DeliveryState.FAILED, f"{exc}" + (f"; run: {hint}" if hint else "")
            )
        try:
            result = send_message(client, message)
        finally:
            session.close()
        return DeliveryOutcome(DeliveryState(result.state), result.detail)


def make_graph_backend(
    config: Any,
    *,
    owner: str,
    resolve_path: Any,
    account: Any = None,
    settings: Any = None,
) -> GraphDeliveryBackend:
    """The ``graph`` delivery factory: sends with the account's own Microsoft credentials."""
    from peerpulse.worker.errors import ConfigError

    if account is None or settings is None or account.source.type != "microsoft":
        raise ConfigError(
            "delivery type 'graph' needs a microsoft source on the same account",
            key="delivery.type",
            hint='use type = "smtp" or "file", or set [accounts.source] type = "microsoft"',
        )
    return GraphDeliveryBackend(
        account.name,
        owner,
        account.source.model_dump(mode="python"),
        state_dir=settings.state_path,
        base_dir=settings.base_dir,
    )
