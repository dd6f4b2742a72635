"""The Google connector: credentials once, then the calendar, gmail and directory sources.

``context.settings`` is the account's ``[source]`` table (``GoogleSourceConfig``
dumped, secrets still references) plus ``state_dir``, which the worker adds:
the token file lives under it (the Gmail source's known ids live in its keyed
connector state, ``context.source_state``). Keys read here:

- ``mode``: ``user`` (installed-app token from ``peerpulse auth google``) or
  ``service_account`` (``service_account_key``, domain-wide delegation acting
  as ``subject``, default the account owner when it has a single address);
- ``calendars``, ``mail``, ``directory`` (+ ``directory_admin_view``): which sources;
- ``window_past_days`` / ``window_future_days``: the sync window;
- ``quota_units_per_minute``: the project's Gmail per-user quota (15,000 legacy,
  6,000 for projects created from May 2026; also selects per-method prices);
- ``mail_fetch`` (``auto`` | ``messages`` | ``threads``), ``batches_in_flight``;
- ``sent_first_share``: how much the SENT-first listing may add to the initial
  sync's request floor (default 0.03; 0 turns SENT-first off), see
  :func:`connectors.google.mail_cursor.sent_page_budget`;
- ``time_budget_seconds``: the initial mail sync stops there and resumes next run;
- ``api_endpoint`` / ``token_endpoint``: a fake server in tests.
"""

from __future__ import annotations

import time
from typing import Any

from peerpulse.connectors.base import SourceContext, SourceUnavailable
from peerpulse.connectors.google.auth import account_credentials, auth_command, scopes_for
from peerpulse.connectors.google.batch import MAX_BATCH, BatchFetcher
from peerpulse.connectors.google.calendar import CalendarSource
from peerpulse.connectors.google.directory import DirectorySource
from peerpulse.connectors.google.mail import SENT_SHARE, MailSource
from peerpulse.connectors.google.pacing import UNIT_COSTS, Pacer, bucket_for, regime_for
from peerpulse.connectors.google.services import GoogleApi

# Aim a little under the quota: timing jitter must not turn into 429s.
HEADROOM = 0.95
CALENDAR_REQUESTS_PER_MINUTE = 500  # Calendar allows 600 per user per minute (research §2.2)
DIRECTORY_REQUESTS_PER_MINUTE = 2000  # Directory allows 2,400


def subject_for(context: SourceContext) -> str:
    """The mailbox a service account acts as: ``subject``, else the only owner address."""
    subject = context.settings.get("subject")
    if subject:
        return str(subject).lower()
    if len(context.owner_addresses) == 1:
        return next(iter(context.owner_addresses))
    raise SourceUnavailable(
        f"account {context.account} has aliases; say which mailbox the service account acts as",
        hint='set subject = "user@example.com" in the account\'s [source]',
    )


class GoogleConnector:
    """Offers ``calendar``, ``gmail`` and (organization mode) ``directory`` sources."""

    def __init__(self, context: SourceContext) -> None:
        self.context = context
        settings = context.settings
        service = settings.get("mode") == "service_account"
        user = subject_for(context) if service else context.account
        scopes = scopes_for(settings)
        credentials = account_credentials(
            context.account, settings, subject=user, scopes=scopes, base_dir=context.base_dir
        )
        self.api = GoogleApi(credentials, settings.get("api_endpoint"))
        rate = float(settings.get("quota_units_per_minute", 15000))
        self.costs = UNIT_COSTS[regime_for(int(rate))]
        # Burst half a second of quota (at least one batch): Google's per-user limit is a
        # moving average that tolerates short bursts, and the margin absorbs latency jitter
        # that would otherwise bunch our evenly paced requests on arrival.
        capacity = max(MAX_BATCH * self.costs["messages.get"], rate / 120)
        self.mail_pacer = Pacer(bucket_for("gmail", user, rate * HEADROOM, capacity))
        self.calendar_pacer = Pacer(bucket_for("calendar", user, CALENDAR_REQUESTS_PER_MINUTE, 10))
        self.directory_pacer = Pacer(
            bucket_for("directory", user, DIRECTORY_REQUESTS_PER_MINUTE, 10)
        )
        self.fetcher = BatchFetcher(
            self.mail_pacer,
            self.api.gmail_batch_uri,
            self.api.http,
            in_flight=int(settings.get("batches_in_flight", 2)),
            auth_command=auth_command(context.account),
        )
        self.deadline = time.monotonic() + float(settings.get("time_budget_seconds", 1800))

    def sources(self) -> list[Any]:
        context, settings = self.context, self.context.settings
        found: list[Any] = []
        if settings.get("calendars"):
            found.append(
                CalendarSource(
                    self.api,
                    self.calendar_pacer,
                    account=context.account,
                    calendars=list(settings["calendars"]),
                    account_zone=context.timezone,
                    subjects=context.subjects,
                    window_past_days=int(settings.get("window_past_days", 400)),
                    window_future_days=int(settings.get("window_future_days", 60)),
                    now=context.current_time,
                )
            )
        if settings.get("mail", True):
            found.append(
                MailSource(
                    self.api,
                    self.mail_pacer,
                    self.fetcher,
                    account=context.account,
                    owner=context.owner_addresses,
                    subjects=context.subjects,
                    state_dir=str(settings["state_dir"]),
                    window_past_days=int(settings.get("window_past_days", 400)),
                    now=context.current_time,
                    deadline=self.deadline,
                    method=str(settings.get("mail_fetch", "auto")),
                    costs=self.costs,
                    state=lambda: context.source_state(MailSource.name),
                    sent_share=float(settings.get("sent_first_share", SENT_SHARE)),
                )
            )
        if settings.get("directory"):
            found.append(
                DirectorySource(
                    self.api,
                    self.directory_pacer,
                    account=context.account,
                    admin_view=bool(settings.get("directory_admin_view", False)),
                )
            )
        return found

    def close(self) -> None:
        self.fetcher.close()
