"""What a re-base reads from the store (worker/checkpoint.py ``StoreSource``): the same
records as one query would give, read a little at a time (issue 14, item 1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from peerpulse.connectors.records import EventInstance, SyncBatch
from peerpulse.worker import checkpoint
from peerpulse.worker.checkpoint import StoreSource
from peerpulse.worker.store import SqliteStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _event(n: int, start: datetime, recurring: bool) -> EventInstance:
    return EventInstance(source_id=f"e{n}", series_id="weekly" if recurring else f"e{n}",
                         start=start, end=start + timedelta(hours=1),
                         organizer="dana@example.com", recurring=recurring)


def test_recurring_events_come_in_start_order_across_query_steps(tmp_path: Path,
                                                                  monkeypatch) -> None:
    """Series a month apart, one-off events between: every recurring one from the start
    to the horizon, none after it, in order, whatever the step between queries."""
    events = [_event(n, T0 + timedelta(days=11 * n, hours=n % 3), n % 2 == 0)
              for n in range(12)]
    horizon = int((T0 + timedelta(days=100)).timestamp())
    start = (T0 + timedelta(days=5)).timestamp()
    wanted = [e.source_id for e in events if e.recurring and start <= e.start.timestamp()
              < horizon]
    with SqliteStore(tmp_path / "state.sqlite3") as store:
        store.apply_batch("a", "s", SyncBatch(upserts=events))
        for step in (3600, 86400, 7 * 86400, 10**9):
            monkeypatch.setattr(checkpoint, "RECURRING_STEP", step)
            source = StoreSource(store, "a", T0 - timedelta(days=1), horizon)
            assert [e.source_id for e in source.recurring(start)] == wanted, step
    assert len(wanted) == 4
