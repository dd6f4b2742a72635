"""One account's due digest: decide, render once, claim, send, record, report.

The story of a run, for one account and its recipient:

1. settle what earlier runs left: a row still "sending" is from a run that died
   mid-send and becomes "unknown"; a pending digest of an earlier period expired;
2. ask the schedule whether this period's digest is due (``--force`` skips this);
3. if the period has no digest yet, build it (the expensive part, only now),
   render it, and store it with its Message-ID and the rotation picks in one
   transaction: from here on the period's digest is fixed;
4. claim it (committed "sending"), hand it to the backend, record the outcome.

Every path returns a :class:`DeliveryReport` for the CLI to print; failures and
unknown outcomes are reported once, by the run that finds them, so cron mail
and the journal say it once rather than every hour.

``PEERPULSE_FAULT`` (see worker/delivery/faults.py) kills the process at named
steps; it exists for tests/worker/test_exactly_once.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from peerpulse.rules.recommendations import Digest
from peerpulse.worker import gaps, ledger, schedule
from peerpulse.worker.config import AccountConfig
from peerpulse.worker.delivery.base import DeliveryBackend, DeliveryOutcome, DeliveryState
from peerpulse.worker.digest.ics_hold import build_hold
from peerpulse.worker.digest.message import (
    build_message,
    message_bytes,
    new_message_id,
    parse_stored,
    with_new_identity,
)
from peerpulse.worker.digest.render import render_digest
from peerpulse.worker.faults import fault_point
from peerpulse.worker.ledger import LedgerEntry, LedgerState
from peerpulse.worker.store import Store

log = logging.getLogger("peerpulse")


class ReportState(StrEnum):
    SENT = "sent"  # delivered by this run
    NOT_DUE = "not_due"  # this period's due moment has not come yet
    ALREADY_SENT = "already_sent"  # this period's digest went out earlier
    EMPTY = "empty"  # nothing to do this period and send_empty is off
    RETRY = "retry"  # not delivered (temporary problem); the next run tries again
    FAILED = "failed"  # refused for good; reported once
    UNKNOWN = "unknown"  # may or may not have arrived; reported once, not resent by default
    HELD = "held"  # failed or unknown earlier and already reported; waiting for --force
    DRY_RUN = "dry_run"  # nothing written, nothing sent


_FAILURES = {ReportState.RETRY, ReportState.FAILED, ReportState.UNKNOWN}


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What happened to one account's digest in this run."""

    account: str
    recipient: str
    period: str | None
    state: ReportState
    message_id: str | None = None
    location: str | None = None
    reason: str = ""
    subject: str | None = None
    size_bytes: int | None = None
    notices: tuple[str, ...] = ()  # problems with earlier periods, found by this run

    @property
    def failed(self) -> bool:
        """True when the exit code should show a problem (this period or an earlier one)."""
        return self.state in _FAILURES or bool(self.notices)

    def describe(self) -> str:
        """One line (plus notices) for the terminal, cron mail or the journal."""
        period = f" {self.period}" if self.period else ""
        line = f"digest{period} {self.state.value.replace('_', ' ')}"
        if self.location:
            line += f" ({self.location})"
        if self.reason:
            line += f": {self.reason}"
        return "\n".join([line, *self.notices])


def deliver_due_digest(
    store: Store,
    account: AccountConfig,
    *,
    now: datetime,
    build_digest: Callable[[str], Digest],
    backend: DeliveryBackend,
    force: bool = False,
    dry_run: bool = False,
) -> DeliveryReport:
    """Deliver ``account``'s digest if one is due and not yet delivered; say what happened.

    ``build_digest(period)`` is called only when the period has no stored digest.
    ``force`` delivers now even if not due or already sent (a resend gets a new
    Message-ID). ``dry_run`` decides and renders but writes and sends nothing.
    The caller holds the run lock.
    """
    run = _Run(store, account, now, build_digest, backend, force, dry_run)
    return run.deliver()


class _Run:
    def __init__(
        self, store: Store, account: AccountConfig, now: datetime,
        build_digest: Callable[[str], Digest], backend: DeliveryBackend, force: bool,
        dry_run: bool,
    ) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.store, self.account, self.now = store, account, now
        self.build_digest, self.backend = build_digest, backend
        self.force, self.dry_run = force, dry_run
        self.recipient = account.recipient
        self.sender = getattr(account.delivery, "sender", None) or account.owner
        self.notices: list[str] = []

    # -- the story ---------------------------------------------------------------------

    def deliver(self) -> DeliveryReport:
        cfg = self.account.digest
        tz = self.account.zone
        if not self.dry_run:
            ledger.settle_interrupted(self.store, self.account.name, now=self.now)
        period = schedule.due_period(self.now, tz, cfg.day, cfg.time)
        if period is None and not self.force:
            self._collect_notices(current=None)
            upcoming = schedule.next_due(self.now, tz, cfg.day, cfg.time)
            return self._report(None, ReportState.NOT_DUE,
                                reason=f"next due {upcoming.isoformat(timespec='minutes')}")
        period = period or schedule.period_of(self.now, tz)
        if not self.dry_run:
            ledger.expire_pending(self.store, self.account.name, period, now=self.now)
        self._collect_notices(current=period)
        entry = ledger.latest(self.store, self.account.name, self.recipient, period)
        if entry is None:
            return self._first_delivery(period)
        return self._existing(entry)

    def _first_delivery(self, period: str) -> DeliveryReport:
        digest = self.build_digest(period)
        if digest.period != period:  # the ledger's period is the authority
            digest = replace(digest, period=period)
        skip = digest.is_empty and not self.account.digest.send_empty and not self.force
        raw, message_id, subject = self._render(digest)
        if self.dry_run:
            what = "would not send (nothing to do; send_empty is off)" if skip else "would send"
            return self._report(period, ReportState.DRY_RUN, message_id=message_id,
                                subject=subject, size=len(raw), reason=what)
        picks = {"peer_of_the_week": [digest.peer_of_the_week.person.email]
                 if digest.peer_of_the_week else [],
                 "feedback": [p.email for p in digest.feedback]}
        entry = ledger.record_rendered(
            self.store, account=self.account.name, recipient=self.recipient, period=period,
            message_id=message_id, subject=subject, message=raw, picks=picks, empty=skip,
            now=self.now,
        )
        fault_point("after_render")
        if entry.state == LedgerState.EMPTY:
            return self._entry_report(entry, ReportState.EMPTY,
                                      "nothing to do this week; not sent (send_empty = false)")
        return self._send(entry)

    def _existing(self, entry: LedgerEntry) -> DeliveryReport:
        state = entry.state
        if state == LedgerState.PENDING:
            return self._send(entry)
        if self.force:
            return self._forced(entry)
        if state == LedgerState.SENT:
            return self._entry_report(entry, ReportState.ALREADY_SENT, "")
        if state == LedgerState.EMPTY:
            return self._entry_report(entry, ReportState.EMPTY,
                                      "nothing to do this week; not sent (send_empty = false)")
        if state == LedgerState.UNKNOWN and self.account.digest.resend_unknown:
            if self.dry_run:
                return self._entry_report(entry, ReportState.DRY_RUN,
                                          "would resend with the same Message-ID")
            return self._send(ledger.requeue(self.store, entry))
        return self._problem(entry)

    def _forced(self, entry: LedgerEntry) -> DeliveryReport:
        if self.dry_run:
            return self._entry_report(entry, ReportState.DRY_RUN, "would resend (--force)")
        if entry.state in (LedgerState.FAILED, LedgerState.EMPTY):
            # Never accepted anywhere: the same bytes and Message-ID are the right resend.
            return self._send(ledger.requeue(self.store, entry))
        message_id = new_message_id(entry.period, self.account.owner)
        raw = with_new_identity(entry.message, message_id=message_id, date=self.now)
        resend = ledger.record_resend(self.store, entry, message_id=message_id, message=raw,
                                      now=self.now)
        return self._send(resend)

    def _send(self, entry: LedgerEntry) -> DeliveryReport:
        if self.dry_run:
            return self._entry_report(entry, ReportState.DRY_RUN, "would send the stored digest")
        claimed = ledger.claim(self.store, entry, now=self.now)
        if claimed is None:
            return self._entry_report(entry, ReportState.HELD, "another run claimed it")
        fault_point("after_claim")
        try:
            outcome = self.backend.send(parse_stored(claimed.message))
        except Exception as exc:  # a backend bug: we cannot tell whether anything left
            log.error("%s: the delivery backend raised %r", self.account.name, exc)
            outcome = DeliveryOutcome(DeliveryState.UNKNOWN, f"backend error: {exc!r}")
        fault_point("before_mark_sent")
        done = ledger.finish(self.store, claimed, outcome, now=self.now)
        if done.state == LedgerState.SENT:
            return self._entry_report(done, ReportState.SENT, outcome.detail)
        if done.state == LedgerState.PENDING:
            return self._entry_report(done, ReportState.RETRY,
                                      f"{outcome.detail}; the next run tries again")
        return self._problem(done)

    def _problem(self, entry: LedgerEntry) -> DeliveryReport:
        """A failed or unknown digest: reported by the first run that sees it, then held."""
        how = ("`peerpulse digest --force` resends it"
               + ("" if entry.state == LedgerState.FAILED
                  else "; or set digest.resend_unknown = true to resend the same message"))
        if entry.reported_at is not None:
            return self._entry_report(entry, ReportState.HELD,
                                      f"{entry.state.value} earlier ({entry.last_error}); {how}")
        if not self.dry_run:
            ledger.mark_reported(self.store, entry, now=self.now)
        state = ReportState.FAILED if entry.state == LedgerState.FAILED else ReportState.UNKNOWN
        return self._entry_report(entry, state, f"{entry.last_error}; {how}")

    # -- helpers -----------------------------------------------------------------------

    def _render(self, digest: Digest) -> tuple[bytes, str, str]:
        cfg = self.account.digest
        hold = build_hold(digest, organizer=self.account.owner, now=self.now) \
            if cfg.attach_hold else None
        missed = tuple(gaps.missed_before(ledger.entries(self.store, self.account.name),
                                          digest.period))
        rendered = render_digest(digest, recipient=self.recipient, sender=self.sender,
                                 now=self.now, hold_attached=hold is not None, missed=missed)
        message_id = new_message_id(digest.period, self.account.owner)
        local_now = self.now.astimezone(self.account.zone)
        message = build_message(rendered, account=self.account.name, message_id=message_id,
                                date=local_now, hold=hold)
        return message_bytes(message), message_id, rendered.subject

    def _collect_notices(self, current: str | None) -> None:
        for entry in ledger.unreported(self.store, self.account.name):
            if entry.period == current:
                continue  # the current period's problem is the report itself
            if not self.dry_run:
                ledger.mark_reported(self.store, entry, now=self.now)
            self.notices.append(
                f"  earlier digest {entry.period} to {entry.recipient} {entry.state.value}: "
                f"{entry.last_error}"
            )

    def _entry_report(self, entry: LedgerEntry, state: ReportState, reason: str) -> DeliveryReport:
        return self._report(entry.period, state, message_id=entry.message_id,
                            location=entry.location, reason=reason, subject=entry.subject,
                            size=len(entry.message))

    def _report(
        self, period: str | None, state: ReportState, *, message_id: str | None = None,
        location: str | None = None, reason: str = "", subject: str | None = None,
        size: int | None = None,
    ) -> DeliveryReport:
        return DeliveryReport(
            account=self.account.name, recipient=self.recipient, period=period, state=state,
            message_id=message_id, location=location, reason=reason, subject=subject,
            size_bytes=size, notices=tuple(self.notices),
        )
