"""Microsoft 365 through Microsoft Graph, and Exchange Server on premises through EWS.

Two providers live here: ``microsoft`` (Graph: calendar view, mail metadata,
directory, and the ``graph`` delivery backend over sendMail) and ``exchange``
(EWS with exchangelib, on-premises servers only). This module is what their
entry points in ``peerpulse.connectors`` name: the settings models and lazy
factories; only the modules below import msal, requests and exchangelib, and
only when an account uses them.

Module map: ``settings`` (both ``[accounts.source]`` models and their defaults),
``http`` (one routed session for msal and Graph), ``auth`` (device code, client
credentials, the 0600 token cache), ``graph`` (requests: concurrency per
mailbox, Retry-After, 401 refresh, links), ``delta`` (delta positions in keyed
state), ``calendar``, ``mail``, ``directory``, ``send``, ``delivery`` (the
``graph`` backend) and ``normalize`` (Graph JSON -> records); ``connector``
wires the sources. ``ews`` (+ ``ews_normalize``) is the ``exchange`` connector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from peerpulse.connectors.base import Connector, SourceContext
from peerpulse.connectors.delivery import DeliveryBackend
from peerpulse.connectors.microsoft.settings import ExchangeSettings, MicrosoftSettings
from peerpulse.connectors.registry import (
    AuthCommand,
    AuthRequest,
    Delivery,
    DeliveryRequest,
    Provider,
)
from peerpulse.connectors.settings import StrictSettings


class GraphDeliverySettings(StrictSettings):
    """``[accounts.delivery] type = "graph"``: no keys; it uses the account's Microsoft source."""


def _connector(context: SourceContext, settings: MicrosoftSettings) -> Connector:
    from peerpulse.connectors.microsoft.connector import MicrosoftConnector

    return MicrosoftConnector(context, settings)


def _exchange_connector(context: SourceContext, settings: ExchangeSettings) -> Connector:
    from peerpulse.connectors.microsoft.ews import ExchangeConnector

    return ExchangeConnector(context, settings)


def _authorize(request: AuthRequest[Any]) -> Path:
    """Device-code sign-in: prints a code to enter from any browser (so ``--console``
    changes nothing: nothing opens or listens on this machine)."""
    from peerpulse.connectors.microsoft.auth import authorize
    from peerpulse.connectors.microsoft.http import session_for

    session = session_for(request.settings)
    try:
        return authorize(
            request.account,
            request.settings,
            session,
            state_dir=request.state_dir,
            send=request.send,
            say=request.say,
        )
    finally:
        session.close()


def _graph_backend(config: GraphDeliverySettings, request: DeliveryRequest) -> DeliveryBackend:
    from peerpulse.connectors.microsoft.delivery import make_graph_backend

    return make_graph_backend(config, request)


PROVIDER = Provider(
    name="microsoft",
    settings=MicrosoftSettings,
    connector=_connector,
    auth=AuthCommand(
        provider="microsoft",
        title="Microsoft",
        help="Microsoft 365 device-code sign-in",
        description="Print a code to enter at microsoft.com/devicelogin from any browser, "
        "then store the msal token cache (0600).",
        run=_authorize,
    ),
    delivery=Delivery(name="graph", settings=GraphDeliverySettings, backend=_graph_backend),
    init_source="""[accounts.source]
type = "microsoft"                         # Microsoft 365: calendar + mail metadata via Graph
client_id = "00000000-0000-0000-0000-000000000000"  # your app registration's client id
tenant = "organizations"                   # or your tenant id / domain
mail_folders = ["sentitems", "inbox"]      # Sent Items first
# people: add a CSV with `peerpulse people suggest` after the first sync
""",
    init_next="put your app registration's client id in the config (docs/MICROSOFT.md), "
    "then `peerpulse auth microsoft --account {account}`",
)

EXCHANGE = Provider(
    name="exchange",
    settings=ExchangeSettings,
    connector=_exchange_connector,
    init_source="""[accounts.source]
type = "exchange"                          # Exchange Server on premises (EWS); not Exchange Online
server = "mail.example.com"                # host name or the full EWS URL
username = "DOMAIN\\\\user"
password = { env = "PEERPULSE_EWS_PASSWORD" }  # a reference, never the password itself
# people: add a CSV with `peerpulse people suggest` after the first sync
""",
    init_next="set server and username in the config and export PEERPULSE_EWS_PASSWORD, "
    "then `peerpulse sync`",
)
