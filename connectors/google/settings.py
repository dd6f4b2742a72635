"""The ``google`` provider's ``[accounts.source]`` keys and their defaults (the only copy)."""

from __future__ import annotations

from typing import Literal

from peerpulse.connectors.settings import ProviderSettings, SecretRef
from pydantic import Field


class GoogleSettings(ProviderSettings):
    """Google Workspace / Gmail for one account.

    ``mode`` is ``user`` (installed-app token from ``peerpulse auth google``) or
    ``service_account`` (``service_account_key`` with domain-wide delegation,
    acting as ``subject``, default the account owner when it has one address).
    ``quota_regime`` is the Gmail quota regime: ``"2026"`` (6,000 units/min per
    user and the new per-method prices; projects created from May 2026, later
    all) or ``"legacy"`` (15,000). ``quota_units_per_minute`` overrides the rate;
    with no regime set, ``"legacy"`` when that rate is above 6,000, else
    ``"2026"`` (see docs/GOOGLE.md). ``concurrent_requests`` bounds the Gmail
    sub-requests in flight per mailbox (the limit is undocumented; see
    :mod:`connectors.google.pacing` and docs/GOOGLE.md).
    ``sent_first_share`` is how much the SENT-first listing may add to
    the initial sync's request floor (0 turns it off), see
    :func:`connectors.google.mail_cursor.sent_page_budget`; ``sent_first_days``
    is how far back that SENT-first phase goes (older sent mail comes with the
    full listing). The initial mail sync
    stops after ``time_budget_seconds`` and resumes next run.
    ``project_quota_units_per_minute`` paces every mailbox of ``quota_project``
    together under the project's Gmail quota (in organization mode across all
    workers, through the shared database: docs/ORGANIZATION.md); the project's
    Calendar requests are then paced too, under
    ``project_calendar_requests_per_minute`` (default Calendar's 10,000), and its
    Directory requests under ``project_directory_requests_per_minute`` (default
    2,400, the Directory API's published limit).
    """

    mode: Literal["user", "service_account"] = "user"
    client_secrets: SecretRef | None = None  # OAuth client JSON (installed app)
    service_account_key: SecretRef | None = None  # org mode: key JSON with domain-wide delegation
    calendars: list[str] = ["primary"]
    mail: bool = True
    directory: bool = False
    window_past_days: int = Field(default=400, ge=1, le=3650)
    window_future_days: int = Field(default=60, ge=0, le=730)
    quota_regime: Literal["2026", "legacy"] | None = None
    quota_units_per_minute: int | None = Field(default=None, ge=100)
    concurrent_requests: int = Field(default=25, ge=1, le=100)  # Gmail sub-requests in flight
    api_endpoint: str | None = None  # tests point this at a local fake server
    token_endpoint: str | None = None
    time_budget_seconds: int = Field(default=1800, ge=10)
    subject: str | None = None  # service_account mode: the mailbox to act as (default: owner)
    directory_admin_view: bool = False  # users.list as an administrator (else domain_public)
    mail_fetch: Literal["auto", "messages", "threads"] = "auto"  # auto: cheaper for the mailbox
    batches_in_flight: int = Field(default=2, ge=1, le=8)  # concurrent Gmail batches per mailbox
    sent_first_share: float = Field(default=0.03, ge=0, le=1)  # SENT-first pages, share of floor
    sent_first_days: int = Field(default=180, ge=1, le=3650)  # SENT-first horizon, days back
    # Benchmarks only: against a fake server whose clock runs k times faster (quota windows
    # 60/k s, latency / k), pace k times faster with the same units per burst and batch.
    time_scale: float = Field(default=1.0, ge=1.0, le=1000.0)
    # The Gmail quota of the whole Google Cloud project (1,200,000 units/min by default,
    # docs/GOOGLE.md), shared by every mailbox and every worker; unset: not enforced here.
    project_quota_units_per_minute: int | None = Field(default=None, ge=100)
    quota_project: str | None = None  # default: the service-account key's project_id
    # The Calendar quota of the same project, in requests per minute (10,000 by default,
    # docs/GOOGLE.md); paced whenever the project is (this or the Gmail figure set).
    project_calendar_requests_per_minute: int | None = Field(default=None, ge=10)
    # The Admin SDK Directory quota of the same project, in requests per minute (2,400 by
    # default, docs/GOOGLE.md); paced whenever the project is (this or the Gmail figure set).
    project_directory_requests_per_minute: int | None = Field(default=None, ge=10)

    def has_calendar(self) -> bool:
        return bool(self.calendars)
