"""Maps a config ``type`` string to the connector that implements it.

Modules are imported only when an account uses them, so msal or exchangelib are
needed only by those who configure Microsoft.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from peerpulse.connectors.base import Connector, SourceContext

CONNECTOR_TYPES: dict[str, str] = {
    "files": "peerpulse.connectors.files.connector:FilesConnector",
    "memory": "peerpulse.connectors.memory:MemoryConnector",
    "google": "peerpulse.connectors.google.connector:GoogleConnector",
    "microsoft": "peerpulse.connectors.microsoft.connector:MicrosoftConnector",
    "exchange": "peerpulse.connectors.microsoft.ews:ExchangeConnector",
}


def load_connector(type_name: str) -> Callable[[SourceContext], Connector]:
    """Return the connector factory for ``type_name``; KeyError if unknown."""
    target = CONNECTOR_TYPES[type_name]
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    factory: Callable[[SourceContext], Connector] = getattr(module, attr)
    return factory
