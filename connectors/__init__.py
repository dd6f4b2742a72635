"""Sources of calendar, mail and directory metadata, normalized into records.

Importing this package (or ``connectors.records``) never imports a provider
library: Google and Microsoft code lives in its own subpackage and is loaded
lazily by :mod:`connectors.registry`.
"""
