"""Google Workspace / Gmail: Calendar events, Gmail header metadata, Directory, Gmail send.

Only this package imports google-api-python-client, google-auth and httplib2,
and only when an account uses it: this module (the ``google`` entry point of
``peerpulse.connectors``) defines the settings model and lazy factories.
Module map: ``settings`` (the ``[accounts.source]`` keys), ``auth``
(installed-app OAuth, service accounts, token files), ``pacing`` (per-user
quota bucket and back-off), ``services`` (one HTTP connection per thread,
endpoints), ``batch`` (multipart batches with per-item re-queue),
``calendar``, ``mail`` (+ ``mail_cursor``, ``known_ids``), ``directory``, ``send``,
``delivery`` (the ``gmail`` backend), ``normalize`` (API JSON -> records) and
``connector`` (wires the sources).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from peerpulse.connectors.base import Connector, SourceContext
from peerpulse.connectors.delivery import DeliveryBackend
from peerpulse.connectors.google.settings import GoogleSettings
from peerpulse.connectors.registry import (
    AuthCommand,
    AuthRequest,
    Delivery,
    DeliveryRequest,
    Provider,
)
from peerpulse.connectors.settings import StrictSettings


class GmailDeliverySettings(StrictSettings):
    """``[accounts.delivery] type = "gmail"``: no keys; it uses the account's Google source."""


def _connector(context: SourceContext, settings: GoogleSettings) -> Connector:
    from peerpulse.connectors.google.connector import GoogleConnector

    return GoogleConnector(context, settings)


def _authorize(request: AuthRequest[Any]) -> Path:
    from peerpulse.connectors.google.auth import authorize

    return authorize(
        request.account,
        request.settings,
        state_dir=request.state_dir,
        base_dir=request.base_dir,
        console=request.console,
        send=request.send,
        say=request.say,
    )


def _gmail_backend(config: GmailDeliverySettings, request: DeliveryRequest) -> DeliveryBackend:
    from peerpulse.connectors.google.delivery import make_gmail_backend

    return make_gmail_backend(config, request)


PROVIDER = Provider(
    name="google",
    settings=GoogleSettings,
    connector=_connector,
    auth=AuthCommand(
        provider="google",
        title="Google",
        help="Google installed-app OAuth flow",
        description="Open the Google consent page (or print a URL with "
        "--console) and store the refresh token.",
        run=_authorize,
    ),
    delivery=Delivery(name="gmail", settings=GmailDeliverySettings, backend=_gmail_backend),
    init_source="""[accounts.source]
type = "google"                            # Google Calendar + Gmail metadata (read-only scopes)
client_secrets = { file = "client_secret.json" }  # your OAuth client (Desktop app), 0600
calendars = ["primary"]
mail = true
# people: add a CSV with `peerpulse people suggest` after the first sync
""",
    init_next="put your OAuth client in client_secret.json beside the config, "
    "then `peerpulse auth google --account {account}`",
)
