"""Local exports as a source: ICS calendars, mbox/Maildir/.eml mail, a people file.

What Google Takeout, Outlook and Thunderbird users can export, read in place
and turned into the normalized records of :mod:`connectors.records`. Registered
as the ``files`` provider (entry point group ``peerpulse.connectors``).
"""

from __future__ import annotations

from peerpulse.connectors.base import Connector, SourceContext
from peerpulse.connectors.files.settings import FilesSettings
from peerpulse.connectors.registry import Provider


def _connector(context: SourceContext, settings: FilesSettings) -> Connector:
    from peerpulse.connectors.files.connector import FilesConnector

    return FilesConnector(context, settings)


PROVIDER = Provider(name="files", settings=FilesSettings, connector=_connector)
