"""The digest ledger's state machine, straight against SQLite."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from peerpulse.worker import ledger
from peerpulse.worker.delivery.base import DeliveryOutcome, DeliveryState
from peerpulse.worker.ledger import LedgerState

NOW = datetime(2026, 11, 23, 7, tzinfo=UTC)
RAW = b"From: peerpulse <sam@example.com>\r\nMessage-ID: <1@example.com>\r\n\r\nhello\r\n"


def _record(store, message_id="<1@example.com>", raw=RAW, picks=None, empty=False):
    return ledger.record_rendered(
        store, account="work", recipient="sam@example.com", period="2026-W48",
        message_id=message_id, subject="Week 48", message=raw,
        picks=picks if picks is not None else {"peer_of_the_week": ["dana@example.com"]},
        empty=empty, now=NOW,
    )


def test_the_store_has_the_ledger_migration(store):
    assert store.schema_version() >= 2


def test_the_first_rendering_of_a_period_wins(store):
    first = _record(store)
    second = _record(store, message_id="<2@example.com>", raw=RAW.replace(b"hello", b"other"),
                     picks={"peer_of_the_week": ["lee@example.com"]})
    assert second == first
    assert second.message == RAW and second.message_id == "<1@example.com>"
    assert store.recommendation_history("work", "peer_of_the_week") == [
        ("2026-W48", "dana@example.com")]


def test_the_digest_and_its_picks_are_stored_together_or_not_at_all(store):
    def exploding():
        yield "dana@example.com"
        raise RuntimeError("killed mid-transaction")

    with pytest.raises(RuntimeError):
        _record(store, picks={"feedback": exploding()})
    assert ledger.entries(store, "work") == []
    assert store.recommendation_history("work", "feedback") == []


@pytest.mark.parametrize(
    ("outcome", "state", "error"),
    [
        (DeliveryOutcome(DeliveryState.SENT, "250 ok"), LedgerState.SENT, None),
        (DeliveryOutcome(DeliveryState.RETRY, "451 later"), LedgerState.PENDING, "451 later"),
        (DeliveryOutcome(DeliveryState.FAILED, "550 no"), LedgerState.FAILED, "550 no"),
        (DeliveryOutcome(DeliveryState.UNKNOWN, "lost"), LedgerState.UNKNOWN, "lost"),
    ],
)
def test_outcomes_move_a_claimed_digest_to_its_next_state(store, outcome, state, error):
    claimed = ledger.claim(store, _record(store), now=NOW)
    assert claimed is not None and claimed.state is LedgerState.SENDING
    assert claimed.attempts == 1
    done = ledger.finish(store, claimed, outcome, now=NOW)
    assert (done.state, done.last_error) == (state, error)


def test_only_a_pending_digest_can_be_claimed(store):
    entry = _record(store)
    assert ledger.claim(store, entry) is not None
    assert ledger.claim(store, entry) is None


def test_an_interrupted_send_becomes_unknown_and_is_reported_once(store):
    ledger.claim(store, _record(store))
    settled = ledger.settle_interrupted(store, "work", now=NOW)
    assert [e.state for e in settled] == [LedgerState.UNKNOWN]
    assert [e.period for e in ledger.unreported(store, "work")] == ["2026-W48"]
    ledger.mark_reported(store, settled[0], now=NOW)
    assert ledger.unreported(store, "work") == []
    assert ledger.settle_interrupted(store, "work") == []


def test_requeue_keeps_the_bytes_and_the_message_id(store):
    entry = ledger.claim(store, _record(store))
    ledger.finish(store, entry, DeliveryOutcome(DeliveryState.UNKNOWN, "lost"))
    again = ledger.requeue(store, entry)
    assert again.state is LedgerState.PENDING
    assert (again.message, again.message_id) == (RAW, "<1@example.com>")


def test_a_resend_is_a_new_row_after_the_last(store):
    entry = _record(store)
    resend = ledger.record_resend(store, entry, message_id="<2@example.com>", message=RAW)
    assert (resend.seq, resend.state) == (1, LedgerState.PENDING)
    assert ledger.latest(store, "work", "sam@example.com", "2026-W48") == resend


def test_a_message_id_is_never_reused_for_another_digest(store):
    entry = _record(store)
    with pytest.raises(Exception, match="UNIQUE"):
        ledger.record_resend(store, entry, message_id="<1@example.com>", message=RAW)


def test_status_line_says_period_state_and_recipient(store):
    assert ledger.last_entry(store, "work") is None
    _record(store, empty=True)
    assert ledger.last_entry(store, "work").startswith("2026-W48 empty to sam@example.com")
