"""The Google connector: credentials once, then the calendar, gmail and directory sources.

It receives the account's ``[source]`` table as a typed
:class:`~connectors.google.settings.GoogleSettings` (secrets still references;
the keys and their defaults are documented there) and the worker's
``state_dir`` on the context: the token file lives under it (the Gmail
source's known ids live in its keyed connector state,
``context.source_state``).

Quota: ``quota_regime`` ``2026`` (default: projects created from May 2026, and
by Google's plan all projects later; 6,000 units/min per user, messages.get 20,
threads.get 40) or ``legacy`` (15,000 units/min, 5 and 10) picks the prices;
``quota_units_per_minute`` is the project's per-user quota when it is not the
regime's (without a regime, 6,000 or less means the 2026 prices);
``concurrent_requests`` bounds Gmail sub-requests in flight per user (default
25, see :mod:`connectors.google.pacing`; halved while Google says too many).
"""

from __future__ import annotations

import time
from typing import Any

from peerpulse.connectors.base import SourceContext, SourceUnavailable
from peerpulse.connectors.google.auth import account_credentials, scopes_for
from peerpulse.connectors.google.batch import BatchFetcher
from peerpulse.connectors.google.calendar import CalendarSource
from peerpulse.connectors.google.directory import DirectorySource
from peerpulse.connectors.google.mail import MailSource
from peerpulse.connectors.google.pacing import (
    QUOTA_PER_MINUTE,
    UNIT_COSTS,
    Pacer,
    bucket_for,
    gate_for,
    project_limiter,
    regime_for,
)
from peerpulse.connectors.google.services import GoogleApi, auth_failure
from peerpulse.connectors.google.settings import GoogleSettings

# Aim a little under the quota: timing jitter must not turn into 429s.
HEADROOM = 0.95
CALENDAR_REQUESTS_PER_MINUTE = 500  # Calendar allows 600 per user per minute
# Calendar's per-project quota: "10,000 requests/min per project and 600 requests/min per
# user per project, on a sliding window" (developers.google.com/workspace/calendar/api/
# guides/quota; /work/shared/research/api-limits-and-semantics.md, 2.2). At 600 a user,
# 17 mailboxes syncing at full speed spend it: an organization's hourly tick does.
CALENDAR_PROJECT_REQUESTS_PER_MINUTE = 10_000
DIRECTORY_REQUESTS_PER_MINUTE = 2000  # Directory allows 2,400
# The Directory API's published limit is "2,400 queries per minute per user per Google
# Cloud project" (developers.google.com/workspace/admin/directory/v1/limits; research
# 2.3); the project's own "Queries per minute" (Admin SDK quotas page) is not published,
# so the project is paced at that figure unless the configuration says what its page shows.
DIRECTORY_PROJECT_REQUESTS_PER_MINUTE = 2400


def quota_of(settings: GoogleSettings) -> tuple[str, float]:
    """(price regime, per-user units/min) from ``quota_regime``, ``quota_units_per_minute``."""
    rate = settings.quota_units_per_minute
    regime = settings.quota_regime or (regime_for(rate) if rate else "2026")
    return regime, float(rate or QUOTA_PER_MINUTE[regime])


def project_pacer(settings: GoogleSettings, credentials: Any) -> Any:
    """The project-wide Gmail limiter, when ``project_quota_units_per_minute`` is set:
    one per project in the process, drawing from the shared database in organization
    mode (see :func:`connectors.google.pacing.project_limiter`)."""
    rate = settings.project_quota_units_per_minute
    if not rate:
        return None
    project = settings.quota_project or getattr(credentials, "project_id", None) or "default"
    return project_limiter(str(project), rate * HEADROOM)


def calendar_project_pacer(settings: GoogleSettings, credentials: Any) -> Any:
    """The project-wide Calendar limiter (1 unit a request), when the project is paced
    (``project_calendar_requests_per_minute`` or ``project_quota_units_per_minute``
    set): its own bucket (row ``<project>/calendar``), as Calendar's quota is apart
    from Gmail's."""
    return _api_pacer(settings, credentials, "calendar",
                      settings.project_calendar_requests_per_minute,
                      CALENDAR_PROJECT_REQUESTS_PER_MINUTE)


def directory_project_pacer(settings: GoogleSettings, credentials: Any) -> Any:
    """The project-wide Admin SDK Directory limiter (1 unit a users.list page), when the
    project is paced (``project_directory_requests_per_minute`` or
    ``project_quota_units_per_minute`` set): its own bucket (row ``<project>/directory``),
    as the Admin SDK's quota is apart from Gmail's and Calendar's. Without a shared
    directory every mailbox lists the whole directory as itself, so an organization's
    first tick sends thousands of users.list pages at once."""
    return _api_pacer(settings, credentials, "directory",
                      settings.project_directory_requests_per_minute,
                      DIRECTORY_PROJECT_REQUESTS_PER_MINUTE)


def _api_pacer(settings: GoogleSettings, credentials: Any, api: str, rate: float | None,
               default: float) -> Any:
    """A project-wide limiter of its own for an API whose quota is apart from Gmail's
    (row ``<project>/<api>``), at ``rate`` (else ``default``) requests a minute less
    the headroom; None when the project is not paced."""
    if not rate and not settings.project_quota_units_per_minute:
        return None
    project = settings.quota_project or getattr(credentials, "project_id", None) or "default"
    return project_limiter(f"{project}/{api}", (rate or default) * HEADROOM)


def subject_for(context: SourceContext, settings: GoogleSettings) -> str:
    """The mailbox a service account acts as: ``subject``, else the only owner address."""
    subject = settings.subject
    if subject:
        return str(subject).lower()
    if len(context.owner_addresses) == 1:
        return next(iter(context.owner_addresses))
    raise SourceUnavailable(
        f"account {context.account} has aliases; say which mailbox the service account acts as",
        hint='set subject = "user@example.com" in the account\'s [source]',
    )


def scaled(pacer: Pacer, k: float) -> Pacer:
    """``pacer`` with its waits ``k`` times shorter (``time_scale``; 1 leaves it as it is)."""
    if k != 1.0:
        pacer.base_delay /= k
        pacer.max_delay /= k
        pacer.long_wait /= k
        pacer.max_sleep /= k
    return pacer


class GoogleConnector:
    """Offers ``calendar``, ``gmail`` and (organization mode) ``directory`` sources."""

    def __init__(self, context: SourceContext, settings: GoogleSettings) -> None:
        self.context = context
        self.settings = settings
        service = settings.mode == "service_account"
        user = subject_for(context, settings) if service else context.account
        scopes = scopes_for(settings)
        credentials = account_credentials(
            context.account,
            settings,
            subject=user,
            scopes=scopes,
            base_dir=context.base_dir,
            state_dir=context.state_dir,
        )
        self.api = GoogleApi(credentials, settings.api_endpoint, service_account=service)
        regime, rate = quota_of(settings)
        self.costs = UNIT_COSTS[regime]
        # Burst one second of quota: the legacy quota page calls the per-user limit "250
        # units per second, moving average (allows short bursts)"; every batch fits in it
        # (batch.py sizes batches in units), so no batch lands on Google all at once above it.
        # ``time_scale`` (benchmarks against a fake whose clock runs k times faster): every
        # rate and wait scales by k, every amount in units stays, so the sync is the same one.
        k = settings.time_scale
        capacity = rate / 60
        self.mail_pacer = scaled(Pacer(
            bucket_for("gmail", user, rate * HEADROOM * k, capacity, initial=0.0, time_scale=k),
            gate=gate_for("gmail", user, settings.concurrent_requests),
            project=project_pacer(settings, credentials),
        ), k)
        self.calendar_pacer = scaled(Pacer(
            bucket_for("calendar", user, CALENDAR_REQUESTS_PER_MINUTE * k, 10),
            project=calendar_project_pacer(settings, credentials),
        ), k)
        self.directory_pacer = scaled(Pacer(
            bucket_for("directory", user, DIRECTORY_REQUESTS_PER_MINUTE * k, 10),
            project=directory_project_pacer(settings, credentials),
        ), k)
        self.fetcher = BatchFetcher(
            self.mail_pacer,
            self.api.gmail_batch_uri,
            self.api.http,
            in_flight=settings.batches_in_flight,
            batch_units=capacity,
            auth_failure=lambda exc: auth_failure(self.api, context.account, exc),
        )
        self.deadline = time.monotonic() + float(settings.time_budget_seconds)

    def sources(self) -> list[Any]:
        context, settings = self.context, self.settings
        found: list[Any] = []
        if settings.calendars:
            found.append(
                CalendarSource(
                    self.api,
                    self.calendar_pacer,
                    account=context.account,
                    calendars=list(settings.calendars),
                    account_zone=context.timezone,
                    subjects=context.subjects,
                    window_past_days=settings.window_past_days,
                    window_future_days=settings.window_future_days,
                    now=context.current_time,
                    state=lambda: context.source_state(CalendarSource.name),
                )
            )
        if settings.mail:
            found.append(
                MailSource(
                    self.api,
                    self.mail_pacer,
                    self.fetcher,
                    account=context.account,
                    owner=context.owner_addresses,
                    subjects=context.subjects,
                    state_dir=str(context.state_dir or context.base_dir),
                    window_past_days=settings.window_past_days,
                    now=context.current_time,
                    deadline=self.deadline,
                    method=settings.mail_fetch,
                    costs=self.costs,
                    state=lambda: context.source_state(MailSource.name),
                    sent_share=settings.sent_first_share,
                    sent_days=settings.sent_first_days,
                )
            )
        if settings.directory:
            found.append(
                DirectorySource(
                    self.api,
                    self.directory_pacer,
                    account=context.account,
                    admin_view=settings.directory_admin_view,
                )
            )
        return found

    def close(self) -> None:
        self.fetcher.close()
