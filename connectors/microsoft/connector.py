"""The Microsoft connector: credentials once, then the calendar, mail and directory sources.

``context.settings`` is the account's ``[source]`` table
(:class:`~connectors.microsoft.settings.MicrosoftSourceConfig` dumped, secrets
still references) plus ``state_dir``, which the worker adds (the msal token
cache lives under it). Sources: ``calendar`` (primary calendar view),
``mail`` (message delta per folder of ``mail_folders``) and, when
``directory`` is on, ``directory``. Delta positions live in keyed connector
state (``context.source_state``), committed with each batch.
"""

from __future__ import annotations

import time
from typing import Any

from peerpulse.connectors.base import SourceContext, SourceUnavailable
from peerpulse.connectors.microsoft.auth import account_credentials, auth_command
from peerpulse.connectors.microsoft.calendar import CalendarSource
from peerpulse.connectors.microsoft.directory import DirectorySource
from peerpulse.connectors.microsoft.graph import GraphClient
from peerpulse.connectors.microsoft.http import session_for
from peerpulse.connectors.microsoft.mail import MailSource
from peerpulse.connectors.microsoft.settings import MicrosoftSourceConfig

DEFAULTS = MicrosoftSourceConfig.model_fields


def _setting(settings: dict[str, Any], key: str) -> Any:
    """The account's value, else the model's default (defined once, in settings.py)."""
    if key in settings and settings[key] is not None:
        return settings[key]
    return DEFAULTS[key].default


def mailbox_for(context: SourceContext) -> str:
    """``me`` for a signed-in manager; the mailbox address for app-only access."""
    settings = context.settings
    if settings.get("mode") != "application":
        return "me"
    if settings.get("mailbox"):
        return str(settings["mailbox"]).lower()
    if len(context.owner_addresses) == 1:
        return next(iter(context.owner_addresses))
    raise SourceUnavailable(
        f"account {context.account} has aliases; say which mailbox the app reads",
        hint='set mailbox = "user@example.com" in the account\'s [source]',
    )


class MicrosoftConnector:
    """Offers ``calendar``, ``mail`` and (optionally) ``directory`` sources over Graph."""

    def __init__(self, context: SourceContext) -> None:
        self.context = context
        settings = dict(context.settings)
        self.settings = settings
        self.session = session_for(settings)
        credentials = account_credentials(
            context.account, settings, self.session, base_dir=context.base_dir
        )
        self.client = GraphClient(
            self.session,
            credentials,
            account=context.account,
            mailbox=mailbox_for(context),
            concurrency=int(_setting(settings, "concurrency")),
            max_wait=float(_setting(settings, "max_retry_wait_seconds")),
            auth_command=auth_command(context.account),
        )
        self.deadline = time.monotonic() + float(_setting(settings, "time_budget_seconds"))

    def sources(self) -> list[Any]:
        context, settings = self.context, self.settings
        page_size = int(_setting(settings, "page_size"))
        past = int(_setting(settings, "window_past_days"))
        found: list[Any] = []
        if _setting(settings, "calendar"):
            found.append(
                CalendarSource(
                    self.client,
                    lambda: context.source_state("calendar"),
                    account=context.account,
                    account_zone=context.timezone,
                    subjects=context.subjects,
                    window_past_days=past,
                    window_future_days=int(_setting(settings, "window_future_days")),
                    page_size=page_size,
                    now=context.current_time,
                )
            )
        if _setting(settings, "mail"):
            found.append(
                MailSource(
                    self.client,
                    lambda: context.source_state("mail"),
                    account=context.account,
                    owner=context.owner_addresses,
                    subjects=context.subjects,
                    folders=list(_setting(settings, "mail_folders")),
                    window_past_days=past,
                    page_size=page_size,
                    now=context.current_time,
                    deadline=self.deadline,
                    other_is_bulk=bool(_setting(settings, "other_is_bulk")),
                )
            )
        if _setting(settings, "directory"):
            found.append(DirectorySource(self.client, account=context.account))
        return found

    def close(self) -> None:
        self.session.close()
