"""deliver_due_digest: due or not, once per period, empty digests, retries, --force."""

from __future__ import annotations

import email
import email.policy
import stat
from datetime import UTC, datetime, timedelta

import pytest
from peerpulse.worker import ledger
from peerpulse.worker.config import AccountConfig
from peerpulse.worker.delivery import make_backend
from peerpulse.worker.delivery.files import FileBackend
from peerpulse.worker.dispatch import ReportState, deliver_due_digest

from tests.worker.digest_builders import empty_digest, full_digest
from tests.worker.smtp_sink import RefuseRcpt, Sink, smtp_server

MONDAY_0659 = datetime(2026, 11, 23, 5, 59, tzinfo=UTC)  # 06:59 in Berlin
MONDAY_0800 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def _account(**digest) -> AccountConfig:
    return AccountConfig.model_validate({
        "name": "work", "owner": "sam@example.com", "timezone": "Europe/Berlin",
        "source": {"type": "memory"}, "digest": digest,
    })


def _smtp_account(port: int) -> AccountConfig:
    return AccountConfig.model_validate({
        "name": "work", "owner": "sam@example.com", "timezone": "Europe/Berlin",
        "source": {"type": "memory"},
        "delivery": {"type": "smtp", "host": "127.0.0.1", "port": port, "security": "none",
                     "timeout_seconds": 5},
    })


class Builder:
    """Counts how often the (expensive) digest computation runs."""

    def __init__(self, make=full_digest) -> None:
        self.calls: list[str] = []
        self.make = make

    def __call__(self, period: str):
        self.calls.append(period)
        return self.make(period)


def _deliver(store, account, now, backend, builder=None, **kwargs):
    return deliver_due_digest(store, account, now=now, build_digest=builder or Builder(),
                              backend=backend, **kwargs)


def test_nothing_happens_before_the_due_moment(store, tmp_path):
    builder = Builder()
    report = _deliver(store, _account(), MONDAY_0659, FileBackend(tmp_path / "out"), builder)
    assert report.state is ReportState.NOT_DUE
    assert report.reason == "next due 2026-11-23T07:00+01:00"
    assert builder.calls == [] and ledger.entries(store, "work") == []
    assert not report.failed


def test_a_due_digest_is_written_once_as_eml_html_and_txt(store, tmp_path):
    out = tmp_path / "out"
    builder = Builder()
    first = _deliver(store, _account(), MONDAY_0800, FileBackend(out), builder)
    assert first.state is ReportState.SENT
    assert first.location == str(out / "2026-W48-work.html")
    assert sorted(p.name for p in out.iterdir()) == [
        "2026-W48-work.eml", "2026-W48-work.html", "2026-W48-work.txt"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "2026-W48-work.eml").stat().st_mode) == 0o600
    eml = (out / "2026-W48-work.eml").read_bytes()
    assert eml == ledger.entries(store, "work")[0].message

    later = [MONDAY_0800 + timedelta(hours=h) for h in range(1, 24 * 6)]
    reports = [_deliver(store, _account(), t, FileBackend(out), builder) for t in later[::7]]
    assert {r.state for r in reports} == {ReportState.ALREADY_SENT}
    assert builder.calls == ["2026-W48"]  # computed once for the period


def test_the_picks_are_remembered_for_rotation_when_the_digest_is_fixed(store, tmp_path):
    _deliver(store, _account(), MONDAY_0800, FileBackend(tmp_path))
    assert store.recommendation_history("work", "peer_of_the_week") == [
        ("2026-W48", "dana@example.com")]
    assert store.recommendation_history("work", "feedback") == [("2026-W48", "yuki@example.com")]


def test_a_machine_off_for_three_weeks_sends_once_for_the_current_period(store, tmp_path):
    builder = Builder()
    backend = FileBackend(tmp_path)
    assert _deliver(store, _account(), datetime(2026, 11, 2, 7, tzinfo=UTC), backend,
                    builder).period == "2026-W45"
    back_on = datetime(2026, 11, 25, 9, tzinfo=UTC)  # Wednesday of W48
    reports = [_deliver(store, _account(), back_on + timedelta(hours=h), backend, builder)
               for h in range(12)]
    assert [r.state for r in reports] == [ReportState.SENT] + [ReportState.ALREADY_SENT] * 11
    assert builder.calls == ["2026-W45", "2026-W48"]
    assert [e.period for e in ledger.entries(store, "work")] == ["2026-W45", "2026-W48"]


def test_an_empty_digest_is_not_sent_unless_asked(store, tmp_path):
    out = tmp_path / "out"
    builder = Builder(empty_digest)
    report = _deliver(store, _account(), MONDAY_0800, FileBackend(out), builder)
    assert report.state is ReportState.EMPTY and not report.failed
    assert not out.exists()
    again = _deliver(store, _account(), MONDAY_0800 + timedelta(hours=1), FileBackend(out), builder)
    assert again.state is ReportState.EMPTY
    assert builder.calls == ["2026-W48"]


def test_an_empty_digest_is_sent_when_send_empty_is_on(store, tmp_path):
    report = _deliver(store, _account(send_empty=True), MONDAY_0800, FileBackend(tmp_path),
                      Builder(empty_digest))
    assert report.state is ReportState.SENT
    assert report.subject == "Week 48: nothing to do this week"


def test_force_resends_the_same_digest_with_a_new_message_id(store, tmp_path):
    backend = FileBackend(tmp_path)
    first = _deliver(store, _account(), MONDAY_0800, backend)
    forced = _deliver(store, _account(), MONDAY_0800 + timedelta(hours=2), backend, force=True)
    assert forced.state is ReportState.SENT
    assert forced.message_id != first.message_id
    rows = ledger.entries(store, "work")
    assert [(r.seq, r.state.value) for r in rows] == [(0, "sent"), (1, "sent")]
    a, b = (email.message_from_bytes(r.message, policy=email.policy.default) for r in rows)
    assert a.get_body(("html",)).get_content() == b.get_body(("html",)).get_content()
    assert a["Subject"] == b["Subject"]


def test_force_before_the_due_moment_sends_the_current_period_once(store, tmp_path):
    backend = FileBackend(tmp_path)
    forced = _deliver(store, _account(), MONDAY_0659, backend, force=True)
    assert (forced.state, forced.period) == (ReportState.SENT, "2026-W48")
    assert _deliver(store, _account(), MONDAY_0800, backend).state is ReportState.ALREADY_SENT


def test_a_temporary_refusal_is_retried_with_the_same_message_id(store):
    with smtp_server(RefuseRcpt("451 4.7.1 greylisted, try again later")) as (_, port):
        account = _smtp_account(port)
        backend = make_backend(account.delivery, owner=account.owner, resolve_path=lambda p: p)
        first = _deliver(store, account, MONDAY_0800, backend)
    assert first.state is ReportState.RETRY and first.failed
    assert "greylisted" in first.reason
    with smtp_server(Sink()) as (sink, port):
        account = _smtp_account(port)
        backend = make_backend(account.delivery, owner=account.owner, resolve_path=lambda p: p)
        second = _deliver(store, account, MONDAY_0800 + timedelta(hours=1), backend)
    assert second.state is ReportState.SENT
    assert second.message_id == first.message_id
    assert sink.messages == [ledger.entries(store, "work")[0].message]
    assert ledger.entries(store, "work")[0].attempts == 2


def test_a_permanent_refusal_is_reported_once_then_held_until_forced(store):
    with smtp_server(RefuseRcpt("550 5.1.1 no such mailbox")) as (_, port):
        account = _smtp_account(port)
        backend = make_backend(account.delivery, owner=account.owner, resolve_path=lambda p: p)
        first = _deliver(store, account, MONDAY_0800, backend)
        second = _deliver(store, account, MONDAY_0800 + timedelta(hours=1), backend)
    assert first.state is ReportState.FAILED and first.failed
    assert "no such mailbox" in first.reason and "--force" in first.reason
    assert second.state is ReportState.HELD and not second.failed
    with smtp_server(Sink()) as (sink, port):
        account = _smtp_account(port)
        backend = make_backend(account.delivery, owner=account.owner, resolve_path=lambda p: p)
        forced = _deliver(store, account, MONDAY_0800 + timedelta(hours=2), backend, force=True)
    assert forced.state is ReportState.SENT
    assert forced.message_id == first.message_id  # never accepted: same message, same id
    assert len(sink.messages) == 1


def test_a_digest_still_pending_when_its_period_ends_is_reported_not_sent_late(store, tmp_path):
    with smtp_server(RefuseRcpt("451 4.3.0 try later")) as (_, port):
        account = _smtp_account(port)
        backend = make_backend(account.delivery, owner=account.owner, resolve_path=lambda p: p)
        _deliver(store, account, MONDAY_0800, backend)
    next_week = _deliver(store, _account(), MONDAY_0800 + timedelta(days=7), FileBackend(tmp_path))
    assert (next_week.state, next_week.period) == (ReportState.SENT, "2026-W49")
    assert next_week.failed  # the lost W48 digest shows in the exit code
    assert "2026-W48" in next_week.notices[0] and "before its period ended" in next_week.notices[0]
    assert "2026-W48" in next_week.describe()


def test_a_backend_that_raises_leaves_an_unknown_not_a_duplicate(store):
    class Broken:
        def send(self, message):
            raise RuntimeError("bug in a backend")

    report = _deliver(store, _account(), MONDAY_0800, Broken())
    assert report.state is ReportState.UNKNOWN
    assert ledger.entries(store, "work")[0].state is ledger.LedgerState.UNKNOWN


def test_a_dry_run_writes_nothing(store, tmp_path):
    report = _deliver(store, _account(), MONDAY_0800, FileBackend(tmp_path / "out"), dry_run=True)
    assert report.state is ReportState.DRY_RUN and report.size_bytes
    assert ledger.entries(store, "work") == []
    assert store.recommendation_history("work", "peer_of_the_week") == []
    assert not (tmp_path / "out").exists()


def test_a_naive_clock_is_refused(store, tmp_path):
    with pytest.raises(ValueError):
        _deliver(store, _account(), datetime(2026, 11, 23, 8), FileBackend(tmp_path))


def test_the_report_describes_itself_in_one_line(store, tmp_path):
    report = _deliver(store, _account(), MONDAY_0800, FileBackend(tmp_path))
    assert report.describe().startswith(
        f"digest 2026-W48 sent ({tmp_path / '2026-W48-work.html'}): wrote 2026-W48-work.eml")
    assert ledger.last_entry(store, "work").startswith("2026-W48 sent to sam@example.com (")
