"""The ``[accounts.source]`` models of the ``microsoft`` and ``exchange`` providers.

The one place their keys and defaults live. The worker composes them into the
config (adding the ``type`` tag; strict: an unknown key is an error naming it)
and hands the connector the validated model. Secrets are :class:`SecretRef`
fields (``{env = "NAME"}`` or ``{file = "path"}``), never inline values.

Two modes:

- ``delegated`` (one manager): device-code sign-in once with
  ``peerpulse auth microsoft --account NAME``; scheduled runs use the cached
  refresh token silently and never prompt.
- ``application`` (an organization): client credentials, a certificate
  (``certificate_key`` + ``certificate_thumbprint``) or a ``client_secret``;
  the app reads the mailboxes named by ``mailbox`` (default: the account's
  owner address). Restrict the app to those mailboxes (docs/MICROSOFT.md).
"""

from __future__ import annotations

from typing import Literal

from peerpulse.connectors.settings import ProviderSettings, SecretRef
from pydantic import Field, field_validator, model_validator

GRAPH_ROOT = "https://graph.microsoft.com"
LOGIN_ROOT = "https://login.microsoftonline.com"


class MicrosoftSettings(ProviderSettings):
    """Microsoft 365 through Graph (calendar, mail metadata, directory)."""

    mode: Literal["delegated", "application"] = "delegated"
    tenant: str = "organizations"  # tenant id or domain; "organizations" for delegated sign-in
    client_id: str  # the app registration's Application (client) id
    client_secret: SecretRef | None = None  # application mode, if no certificate
    certificate_key: SecretRef | None = None  # application mode: PEM private key
    certificate_thumbprint: str | None = None  # SHA-1 thumbprint of the uploaded certificate
    mailbox: str | None = None  # application mode: the mailbox read (default: the owner)
    calendar: bool = True
    mail: bool = True
    mail_folders: list[str] = ["sentitems", "inbox"]  # well-known names or folder ids; in order
    directory: bool = False  # organization: users, departments, titles, managers
    window_past_days: int = Field(default=400, ge=1, le=3650)
    window_future_days: int = Field(default=60, ge=0, le=730)
    # Prefer: odata.maxpagesize. A preference, not a limit: Graph serves smaller pages when it
    # wants to, so asking for the list maximum (1..1000) never fails.
    page_size: int = Field(default=1000, ge=10, le=1000)
    concurrency: int = Field(default=4, ge=1, le=4)  # in-flight requests per mailbox (Outlook: 4)
    max_retry_wait_seconds: float = Field(default=300, ge=1)  # a longer Retry-After ends the run
    time_budget_seconds: int = Field(default=1800, ge=10)
    other_is_bulk: bool = True  # received mail Focused Inbox files as "Other" counts as bulk
    graph_endpoint: str = GRAPH_ROOT  # tests point these at a local fake server
    login_endpoint: str = LOGIN_ROOT

    @field_validator("mail_folders")
    @classmethod
    def _folders(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a folder is listed twice")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> MicrosoftSettings:
        if self.mode == "application":
            if self.certificate_key is None and self.client_secret is None:
                raise ValueError(
                    "application mode needs certificate_key (+ certificate_thumbprint) "
                    "or client_secret"
                )
            if self.certificate_key is not None and not self.certificate_thumbprint:
                raise ValueError("certificate_key needs certificate_thumbprint")
            if self.tenant in ("organizations", "common", "consumers"):
                raise ValueError("application mode needs the tenant id or domain, not a keyword")
        return self

    def has_calendar(self) -> bool:
        return self.calendar


# Exchange Online's EWS is being shut down (phased from 2026-10-01, gone 2027-04-01;
# docs/MICROSOFT.md): its endpoints are refused in favour of Graph.
EXCHANGE_ONLINE_HOSTS = ("outlook.office365.com", "outlook.office.com", "outlook.live.com")


class ExchangeSettings(ProviderSettings):
    """Exchange Server on premises through EWS (exchangelib)."""

    server: str  # host name (https://HOST/EWS/Exchange.asmx) or the full EWS URL
    username: str  # DOMAIN\\user or user@domain
    mailbox: str | None = None  # the mailbox read (default: the owner address)
    password: SecretRef
    auth: Literal["ntlm", "basic"] = "ntlm"
    version: Literal["Exchange2013", "Exchange2016"] = "Exchange2016"  # 2019 accepts 2016
    calendar: bool = True
    mail: bool = True
    mail_folders: list[str] = ["sent", "inbox"]  # exchangelib's well-known folder names
    window_past_days: int = Field(default=400, ge=1, le=3650)
    window_future_days: int = Field(default=60, ge=0, le=730)
    max_connections: int = Field(default=2, ge=1, le=8)  # sessions to the server
    max_retry_wait_seconds: float = Field(default=300, ge=1)  # FaultTolerance(max_wait)
    sync_page: int = Field(default=512, ge=1, le=512)  # SyncFolderItems MaxChangesReturned

    @field_validator("server")
    @classmethod
    def _on_premises(cls, value: str) -> str:
        host = value.lower().removeprefix("https://").removeprefix("http://").split("/")[0]
        if host in EXCHANGE_ONLINE_HOSTS or host.endswith((".office365.com", ".outlook.com")):
            raise ValueError(
                "EWS in Exchange Online is being retired (blocked from October 2026, gone in "
                'April 2027): use type = "microsoft" (Microsoft Graph) for Microsoft 365 '
                "mailboxes; type = \"exchange\" is for Exchange Server on premises"
            )
        return value

    @field_validator("mail_folders")
    @classmethod
    def _known_folders(cls, value: list[str]) -> list[str]:
        unknown = [f for f in value if f not in {"inbox", "sent", "archive"}]
        if unknown:
            raise ValueError(f"unknown folder {unknown[0]!r}; known: inbox, sent, archive")
        return value

    def has_calendar(self) -> bool:
        return self.calendar
