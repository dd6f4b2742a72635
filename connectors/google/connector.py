"""The Google connector: credentials once, then the calendar, gmail and directory sources.

``context.settings`` is the account's ``[source]`` table (``GoogleSourceConfig``
dumped, secrets still references) plus ``state_dir``, which the worker adds:
the token file and the Gmail known-ids file live under it. Keys read here:

- ``mode``: ``user`` (installed-app token from ``peerpulse auth google``) or
  ``service_account`` (``service_account_key``, domain-wide delegation acting
  as ``subject``, default the account owner when it has a single address);
- ``calendars``, ``mail``, ``directory`` (+ ``directory_admin_view``): which sources;
- ``window_past_days`` / ``window_future_days``: the sync window;
- ``quota_regime``: ``2026`` (default: projects created from May 2026, and by
  Google's plan all projects later; 6,000 units/min per user, messages.get 20,
  threads.get 40) or ``legacy`` (15,000 units/min, 5 and 10): the prices;
- ``quota_units_per_minute``: the project's Gmail per-user quota when it is
  not the regime's (without a regime, 6,000 or less means the 2026 prices);
- ``concurrent_requests``: Gmail sub-requests in flight per user (default 25,
  see :mod:`connectors.google.pacing`; halved while Google says too many);
- ``mail_fetch`` (``auto`` | ``messages`` | ``threads``), ``batches_in_flight``;
- ``sent_first_share``: how much the SENT-first listing may add to the initial
  sync's request floor (default 0.03; 0 turns SENT-first off), see
  :func:`connectors.google.mail_state.sent_page_budget`;
- ``time_budget_seconds``: the initial mail sync stops there and resumes next run;
- ``api_endpoint`` / ``token_endpoint``: a fake server in tests.
"""

from __future__ import annotations

import time
from typing import Any

from peerpulse.connectors.base import SourceContext, SourceUnavailable
from peerpulse.connectors.google.auth import account_credentials, scopes_for
from peerpulse.connectors.google.batch import BatchFetcher
from peerpulse.connectors.google.calendar import CalendarSource
from peerpulse.connectors.google.directory import DirectorySource
from peerpulse.connectors.google.mail import SENT_SHARE, MailSource
from peerpulse.connectors.google.pacing import (
    CONCURRENT_REQUESTS,
    QUOTA_PER_MINUTE,
    UNIT_COSTS,
    Pacer,
    bucket_for,
    gate_for,
    regime_for,
)
from peerpulse.connectors.google.services import GoogleApi, auth_failure

# Aim a little under the quota: timing jitter must not turn into 429s.
HEADROOM = 0.95
CALENDAR_REQUESTS_PER_MINUTE = 500  # Calendar allows 600 per user per minute (research §2.2)
DIRECTORY_REQUESTS_PER_MINUTE = 2000  # Directory allows 2,400


def quota_of(settings: dict[str, Any]) -> tuple[str, float]:
    """(price regime, per-user units/min) from ``quota_regime``, ``quota_units_per_minute``."""
    rate = settings.get("quota_units_per_minute")
    regime = settings.get("quota_regime") or (regime_for(int(rate)) if rate else "2026")
    return str(regime), float(rate or QUOTA_PER_MINUTE[str(regime)])


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
        self.api = GoogleApi(
            credentials, settings.get("api_endpoint"), service_account=service
        )
        regime, rate = quota_of(settings)
        self.costs = UNIT_COSTS[regime]
        # Burst one second of quota: the legacy quota page calls the per-user limit "250
        # units per second, moving average (allows short bursts)"; every batch fits in it
        # (batch.py sizes batches in units), so no batch lands on Google all at once above it.
        capacity = rate / 60
        concurrent = int(settings.get("concurrent_requests", CONCURRENT_REQUESTS))
        self.mail_pacer = Pacer(
            bucket_for("gmail", user, rate * HEADROOM, capacity, initial=0.0),
            gate=gate_for("gmail", user, concurrent),
        )
        self.calendar_pacer = Pacer(bucket_for("calendar", user, CALENDAR_REQUESTS_PER_MINUTE, 10))
        self.directory_pacer = Pacer(
            bucket_for("directory", user, DIRECTORY_REQUESTS_PER_MINUTE, 10)
        )
        self.fetcher = BatchFetcher(
            self.mail_pacer,
            self.api.gmail_batch_uri,
            self.api.http,
            in_flight=int(settings.get("batches_in_flight", 2)),
            batch_units=capacity,
            auth_failure=lambda exc: auth_failure(self.api, context.account, exc),
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
