"""The Microsoft connector: credentials once, then the calendar, mail and directory sources.

The factory hands it the account's validated
:class:`~connectors.microsoft.settings.MicrosoftSettings` (secrets still
references); the msal token cache lives under ``context.state_dir``. Sources:
``calendar`` (primary calendar view), ``mail`` (message delta per folder of
``mail_folders``) and, when ``directory`` is on, ``directory``. Delta
positions live in keyed connector state (``context.source_state``), committed
with each batch.
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
from peerpulse.connectors.microsoft.settings import MicrosoftSettings


def mailbox_for(context: SourceContext, settings: MicrosoftSettings) -> str:
    """``me`` for a signed-in manager; the mailbox address for app-only access."""
    if settings.mode != "application":
        return "me"
    if settings.mailbox:
        return settings.mailbox.lower()
    if len(context.owner_addresses) == 1:
        return next(iter(context.owner_addresses))
    raise SourceUnavailable(
        f"account {context.account} has aliases; say which mailbox the app reads",
        hint='set mailbox = "user@example.com" in the account\'s [accounts.source]',
    )


class MicrosoftConnector:
    """Offers ``calendar``, ``mail`` and (optionally) ``directory`` sources over Graph.

    ``send`` asks for Mail.Send too (the ``graph`` delivery backend's client).
    """

    def __init__(
        self, context: SourceContext, settings: MicrosoftSettings, *, send: bool = False
    ) -> None:
        self.context = context
        self.settings = settings
        self.session = session_for(settings)
        try:
            credentials = account_credentials(
                context.account,
                settings,
                self.session,
                state_dir=context.state_dir,
                base_dir=context.base_dir,
                send=send,
            )
            self.client = GraphClient(
                self.session,
                credentials,
                account=context.account,
                mailbox=mailbox_for(context, settings),
                concurrency=settings.concurrency,
                max_wait=settings.max_retry_wait_seconds,
                auth_command=auth_command(context.account),
            )
        except BaseException:
            self.session.close()
            raise
        self.deadline = time.monotonic() + settings.time_budget_seconds

    def sources(self) -> list[Any]:
        context, settings = self.context, self.settings
        found: list[Any] = []
        if settings.calendar:
            found.append(
                CalendarSource(
                    self.client,
                    lambda: context.source_state("calendar"),
                    account=context.account,
                    account_zone=context.timezone,
                    subjects=context.subjects,
                    window_past_days=settings.window_past_days,
                    window_future_days=settings.window_future_days,
                    page_size=settings.page_size,
                    now=context.current_time,
                )
            )
        if settings.mail:
            found.append(
                MailSource(
                    self.client,
                    lambda: context.source_state("mail"),
                    account=context.account,
                    owner=context.owner_addresses,
                    subjects=context.subjects,
                    folders=list(settings.mail_folders),
                    window_past_days=settings.window_past_days,
                    page_size=settings.page_size,
                    now=context.current_time,
                    deadline=self.deadline,
                    other_is_bulk=settings.other_is_bulk,
                )
            )
        if settings.directory:
            found.append(DirectorySource(self.client, account=context.account))
        return found

    def close(self) -> None:
        self.session.close()
