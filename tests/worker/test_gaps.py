"""A week whose every run died before rendering does not vanish (issue 10, item 2)."""

from __future__ import annotations

from datetime import timedelta

from peerpulse.worker import ledger
from peerpulse.worker.commands import _account_status
from peerpulse.worker.delivery import make_backend
from peerpulse.worker.delivery.files import FileBackend
from peerpulse.worker.gaps import unsent_periods

from tests.worker.smtp_sink import RefuseRcpt, smtp_server
from tests.worker.test_delivery_orchestration import (
    MONDAY_0800,
    _account,
    _deliver,
    _smtp_account,
)

WEEK = timedelta(days=7)


def _gaps(store, now):  # type: ignore[no-untyped-def]
    account = _account()
    return [(g.period, g.state) for g in unsent_periods(
        ledger.entries(store, "work"), now, account.timezone, account.digest.day,
        account.digest.time)]


def _text(out, period):  # type: ignore[no-untyped-def]
    return (out / f"{period}-work.txt").read_text()


def test_a_week_with_no_run_is_listed_and_mentioned_once_in_the_next_footer(store, tmp_path):
    out = tmp_path / "out"
    _deliver(store, _account(), MONDAY_0800, FileBackend(out))  # 2026-W48 sent
    # Every run of W49 died before rendering: the ledger has nothing for it.
    w50 = MONDAY_0800 + 2 * WEEK
    assert _gaps(store, w50) == [("2026-W49", "missed"), ("2026-W50", "missed")]
    status = _account_status(store, _account(), w50)["unsent"]
    assert status[0]["action"].startswith("nothing")
    assert "peerpulse run" in status[1]["action"]

    _deliver(store, _account(), w50, FileBackend(out))
    assert _gaps(store, w50) == [("2026-W49", "missed")]
    assert "No digest went out for week 49" in _text(out, "2026-W50")
    assert "No digest went out for week 49" in (out / "2026-W50-work.html").read_text()

    _deliver(store, _account(), w50 + WEEK, FileBackend(out))
    assert "No digest went out" not in _text(out, "2026-W51")
    assert "No digest went out" not in _text(out, "2026-W48")


def test_a_failed_week_is_listed_with_force_as_the_remedy(store, tmp_path):
    _deliver(store, _account(), MONDAY_0800, FileBackend(tmp_path / "out"))
    w49 = MONDAY_0800 + WEEK
    with smtp_server(RefuseRcpt("550 5.1.1 no such mailbox")) as (_, port):
        account = _smtp_account(port)
        backend = make_backend(account.delivery, owner=account.owner, resolve_path=lambda p: p)
        _deliver(store, account, w49, backend)
    (gap,) = unsent_periods(ledger.entries(store, "work"), w49, "Europe/Berlin", "monday",
                            _account().digest.time)
    assert (gap.period, gap.state) == ("2026-W49", "failed")
    assert "peerpulse digest --force" in gap.action


def test_nothing_is_listed_before_the_first_digest_or_when_all_went_out(store, tmp_path):
    assert _gaps(store, MONDAY_0800) == []
    _deliver(store, _account(), MONDAY_0800, FileBackend(tmp_path / "out"))
    assert _gaps(store, MONDAY_0800 + timedelta(days=6)) == []
