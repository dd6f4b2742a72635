"""A batch that fails to encode midway leaves the store and the cursor exactly as before."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from peerpulse.connectors.records import (
    Attendee,
    EventInstance,
    MessageMeta,
    Person,
    RecordKey,
    RecordKind,
    SkippedInput,
    SyncBatch,
)
from peerpulse.worker.store import open_store
from peerpulse.worker.store.sqlite import SqliteStore

from tests.fuzz.budget import budget

T0 = datetime(2025, 1, 6, 9, tzinfo=UTC)


def message(n: int, timestamp: Any = T0) -> MessageMeta:
    return MessageMeta(f"m{n}", f"m{n}@x", f"t{n}", timestamp, "lee@corp.example",
                       to=("me@corp.example",), subject=f"s{n}")


def event(n: int, start: Any = T0) -> EventInstance:
    end = start + timedelta(minutes=30) if start is not None else T0
    return EventInstance(f"e{n}", f"e{n}", start, end, "me@corp.example",
                         (Attendee("lee@corp.example"),), attendee_count=2, title=f"t{n}")


def person(n: int) -> Person:
    return Person(email=f"p{n}@corp.example", name=f"P{n}", title=f"Title {n}")


def _bad(kind: str) -> Any:
    """A record its codec cannot encode (a connector bug the store must survive)."""
    if kind == "message":
        return message(999, timestamp=None)
    return event(999, start=None)


def dump(store: SqliteStore) -> dict[str, list[tuple[Any, ...]]]:
    db = sqlite3.connect(store.path)
    try:
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(db.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
    finally:
        db.close()


@pytest.fixture(scope="module")
def seeded() -> Iterator[SqliteStore]:
    with tempfile.TemporaryDirectory() as name, open_store(Path(name) / "s.sqlite3") as store:
        store.apply_batch("a", "files", SyncBatch(
            upserts=[message(1), message(2), event(1), event(2), person(1)],
            cursor="cursor-1", scope="f", run_id="r1",
            skipped=[SkippedInput("x.ics", "broken")]))
        yield store


good = st.one_of(
    st.integers(0, 5).map(message), st.integers(0, 5).map(event), st.integers(0, 3).map(person)
)


@budget(60)
@given(
    st.lists(good, max_size=8),
    st.integers(0, 8),
    st.sampled_from(["message", "event"]),
    st.booleans(),
    st.lists(st.sampled_from([RecordKey(RecordKind.MESSAGE, "m1"),
                              RecordKey(RecordKind.EVENT, "e2")]), max_size=2),
)
@example([message(3), event(3)], 2, "message", True, [])  # fails after both tables were written
@example([], 0, "event", False, [RecordKey(RecordKind.MESSAGE, "m1")])
def test_a_batch_failing_midway_changes_nothing(
    seeded: SqliteStore,
    records: list[Any],
    where: int,
    kind: str,
    prune: bool,
    deletions: list[RecordKey],
) -> None:
    before = dump(seeded)
    upserts = list(records)
    upserts.insert(min(where, len(upserts)), _bad(kind))
    batch = SyncBatch(upserts=upserts, deletions=deletions, cursor="cursor-2", scope="f",
                      run_id="r2", prune_scope=prune, skipped=[SkippedInput("y.ics", "bad")])
    with pytest.raises(Exception):  # noqa: B017 - any failure, as long as nothing is kept
        seeded.apply_batch("a", "files", batch)
    assert dump(seeded) == before
    assert seeded.cursor("a", "files") == "cursor-1"
    # The connection is not left inside the failed transaction: the next batch commits.
    # (A write: BEGIN inside a still-open transaction would raise. Idempotent, so
    # later examples start from the same state.)
    seeded.record_recommendations("a", "probe", "s", ["probe@example.com"])
    assert ("probe", "probe@example.com") in seeded.recommendation_history("a", "s")
