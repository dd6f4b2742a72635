"""The SQLite store: upserts never duplicate, batches and cursors are atomic."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from peerpulse.connectors.records import (
    Attendee,
    EventInstance,
    MessageMeta,
    Person,
    RecordKey,
    RecordKind,
    ResponseStatus,
    SkippedInput,
    SyncBatch,
)
from peerpulse.worker.store import StoreError, open_store

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def message(n: int, **kw) -> MessageMeta:
    base = dict(
        source_id=f"m{n}@x",
        message_id=f"m{n}@x",
        thread_id="t",
        timestamp=T0 + timedelta(hours=n),
        sender="lee@example.com",
        to=("dana@example.com",),
    )
    base.update(kw)
    return MessageMeta(**base)


def event(n: int, **kw) -> EventInstance:
    base = dict(
        source_id=f"e{n}",
        series_id=f"e{n}",
        start=T0 + timedelta(days=n),
        end=T0 + timedelta(days=n, hours=1),
        organizer="dana@example.com",
        attendees=(Attendee("lee@example.com", "Lee", ResponseStatus.ACCEPTED),),
        attendee_count=2,
    )
    base.update(kw)
    return EventInstance(**base)


def test_records_round_trip_through_the_store_unchanged(store):
    m = message(1, cc=("a@x", "b@x"), references=("r1@x", "r2@x"), list_id="l.x", subject="Hi")
    e = event(1, title="1:1", original_tz="Europe/Berlin", self_response=ResponseStatus.ACCEPTED)
    p = Person(
        "lee@example.com",
        "Lee",
        ("lchen@example.com",),
        "Finance",
        "Director",
        "ceo@example.com",
        True,
        ("key",),
        12,
    )
    store.apply_batch("a", "s", SyncBatch(upserts=[m, e, p], cursor="c1", scope="f"))
    assert list(store.iter_messages("a")) == [m]
    assert list(store.iter_events("a")) == [e]
    assert store.people("a") == [p]
    assert store.cursor("a", "s") == "c1"


def test_reapplying_the_same_batch_never_duplicates(store):
    batch = SyncBatch(upserts=[message(1), message(2), event(1)], cursor="c", scope="f")
    store.apply_batch("a", "s", batch)
    store.apply_batch("a", "s", batch)
    counts = store.counts("a")
    assert (counts.messages, counts.events) == (2, 1)


def test_a_batch_and_its_cursor_commit_together_or_not_at_all(store, monkeypatch):
    store.apply_batch("a", "s", SyncBatch(upserts=[message(1)], cursor="c1", scope="f"))
    bad = SyncBatch(upserts=[message(2), message(3)], cursor="c2", scope="f")
    # A record the codec cannot encode fails mid-transaction, after rows were written.
    broken = message(4, timestamp=None)  # type: ignore[arg-type]
    bad.upserts.append(broken)
    with pytest.raises(AttributeError):
        store.apply_batch("a", "s", bad)
    assert store.cursor("a", "s") == "c1"
    assert [m.source_id for m in store.iter_messages("a")] == ["m1@x"]


def test_pruning_a_scope_removes_records_not_seen_in_this_run(store):
    store.apply_batch(
        "a",
        "s",
        SyncBatch(upserts=[event(1), event(2)], scope="cal.ics", run_id="r1", prune_scope=True),
    )
    store.apply_batch(
        "a", "s", SyncBatch(upserts=[event(9)], scope="other.ics", run_id="r1", prune_scope=True)
    )
    store.apply_batch(
        "a", "s", SyncBatch(upserts=[event(1)], scope="cal.ics", run_id="r2", prune_scope=True)
    )
    assert sorted(e.source_id for e in store.iter_events("a")) == ["e1", "e9"]


def test_deletions_remove_exactly_the_named_records(store):
    store.apply_batch("a", "s", SyncBatch(upserts=[message(1), message(2)], scope="m"))
    store.apply_batch("a", "s", SyncBatch(deletions=[RecordKey(RecordKind.MESSAGE, "m1@x")]))
    assert [m.source_id for m in store.iter_messages("a")] == ["m2@x"]


def test_accounts_and_sources_never_see_each_others_records(store):
    store.apply_batch("a", "s", SyncBatch(upserts=[message(1)], scope="m"))
    store.apply_batch("b", "s", SyncBatch(upserts=[message(1), message(2)], scope="m"))
    assert store.counts("a").messages == 1
    assert store.counts("b").messages == 2


def test_a_title_change_between_directory_syncs_is_recorded(store):
    lee = Person("lee@example.com", "Lee", title="Manager")
    store.apply_batch("a", "people", SyncBatch(upserts=[lee], scope="p"))
    store.apply_batch("a", "people", SyncBatch(upserts=[lee], scope="p"))
    promoted = Person("lee@example.com", "Lee", title="Director")
    store.apply_batch("a", "people", SyncBatch(upserts=[promoted], scope="p"))
    changes = store.title_changes("a", since=datetime(2000, 1, 1, tzinfo=UTC))
    assert [(c.email, c.old_title, c.new_title) for c in changes] == [
        ("lee@example.com", "Manager", "Director")
    ]


def test_retention_purges_only_old_metadata(store):
    store.apply_batch("a", "s", SyncBatch(upserts=[message(1), message(500), event(1), event(40)]))
    purged = store.purge_before("a", T0 + timedelta(days=10))
    assert purged == {"events": 1, "messages": 1, "commands": 0}
    assert [m.source_id for m in store.iter_messages("a")] == ["m500@x"]


def test_skipped_inputs_are_counted_per_account(store):
    store.apply_batch("a", "s", SyncBatch(skipped=[SkippedInput("f.ics:VEVENT #2", "no DTSTART")]))
    store.apply_batch("a", "s", SyncBatch(skipped=[SkippedInput("f.ics:VEVENT #2", "no DTSTART")]))
    assert store.counts("a").skipped_inputs == 1
    assert store.skipped_inputs("a") == [("s", "f.ics:VEVENT #2", "no DTSTART")]


def test_time_windows_select_overlapping_events_and_messages(store):
    store.apply_batch("a", "s", SyncBatch(upserts=[message(1), message(48), event(0), event(5)]))
    since = T0 + timedelta(days=1)
    assert [m.source_id for m in store.iter_messages("a", since=since)] == ["m48@x"]
    assert [e.source_id for e in store.iter_events("a", since=since)] == ["e5"]


def test_recommendation_history_remembers_picks_once(store):
    store.record_recommendations("a", "2026-W47", "peer_of_the_week", ["lee@example.com"])
    store.record_recommendations("a", "2026-W47", "peer_of_the_week", ["lee@example.com"])
    store.record_recommendations("a", "2026-W48", "peer_of_the_week", ["kim@example.com"])
    assert store.recommendation_history("a", "peer_of_the_week") == [
        ("2026-W47", "lee@example.com"),
        ("2026-W48", "kim@example.com"),
    ]


def test_reopening_keeps_data_and_does_not_rerun_migrations(tmp_path):
    path = tmp_path / "s.sqlite3"
    with open_store(path) as first:
        first.apply_batch("a", "s", SyncBatch(upserts=[message(1)], cursor="c"))
        version = first.schema_version()
    with open_store(path) as second:
        assert second.schema_version() == version
        assert second.cursor("a", "s") == "c"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "s.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a peerpulse state database|cannot open"):
        open_store(path)


def test_a_newer_schema_is_refused_rather_than_corrupted(tmp_path):
    path = tmp_path / "s.sqlite3"
    open_store(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO schema_version VALUES (999, 'future', 0)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer peerpulse"):
        open_store(path)


def test_a_title_change_is_stamped_with_the_sync_clock_not_the_wall_clock(store):
    """A sync run with --now (replay, back-dated demo) dates the promotion at that time."""
    synced_at = datetime(2021, 3, 4, 9, 0, tzinfo=UTC)
    lee = Person("lee@example.com", "Lee", title="Manager")
    store.apply_batch("a", "people", SyncBatch(upserts=[lee], scope="p"), now=synced_at)
    promoted = Person("lee@example.com", "Lee", title="Director")
    store.apply_batch("a", "people", SyncBatch(upserts=[promoted], scope="p"), now=synced_at)
    (change,) = store.title_changes("a", since=datetime(2000, 1, 1, tzinfo=UTC))
    assert change.seen_at == synced_at
    assert store.title_changes("a", since=datetime(2021, 3, 5, tzinfo=UTC)) == []


def test_a_read_only_store_reads_but_never_migrates_or_writes(tmp_path):
    path = tmp_path / "s.sqlite3"
    with open_store(path) as writer:
        writer.apply_batch("a", "s", SyncBatch(upserts=[message(1)], cursor="c"))
        newest = writer.schema_version()
    with open_store(path, read_only=True) as reader:
        assert reader.cursor("a", "s") == "c"
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.apply_batch("a", "s", SyncBatch(upserts=[message(2)], cursor="d"))
    from tests.worker.test_status_upgrade import _downgrade

    _downgrade(path)  # the previous release's file: read through an upgraded copy
    with open_store(path, read_only=True) as reader:
        assert reader.upgrade_pending == (newest - 1, newest)
        assert reader.cursor("a", "s") == "c"
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.apply_batch("a", "s", SyncBatch(upserts=[message(2)], cursor="d"))
    db = sqlite3.connect(path)
    assert db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] < newest
    db.close()


def test_the_state_folder_is_private_whatever_the_umask(tmp_path):
    import os
    import stat

    from peerpulse.worker.store import open_store

    old = os.umask(0)
    try:
        open_store(tmp_path / "state" / "deep" / "peerpulse.sqlite3").close()
    finally:
        os.umask(old)
    for folder in ("state", "state/deep"):
        assert stat.S_IMODE((tmp_path / folder).stat().st_mode) == 0o700, folder


def test_record_labels_find_records_by_id_through_an_index(store):
    """Talking points ask for a few dozen ids of any source: the lookup must search
    an index on (account, source_id), not read every record of the account (the
    primary key leads with source, so before migration 10 it could not)."""
    store.apply_batch("a", "s", SyncBatch(upserts=[
        message(1, subject="Budget"), event(1, title="1:1"), message(2)]))
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    try:
        labels = store.record_labels("a", ["m1@x", "e1", "m2@x", "missing"])
    finally:
        store._db.set_trace_callback(None)
    assert labels == {"m1@x": "Budget", "e1": "1:1"}
    lookups = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert {t for s in lookups for t in ("messages", "events") if f"FROM {t}" in s} == {
        "messages", "events"}
    for sql in lookups:
        plan = " ".join(row[3] for row in store._db.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "SCAN" not in plan, (sql, plan)
        assert "source_id=?" in plan, (sql, plan)


def test_a_bounded_window_of_events_is_searched_by_their_end(store):
    """Next week's events (the digest's free slots) come through ``events_by_end``:
    by start, SQLite read every event starting before the window's end (60-70 ms of
    CPU at 100k events, for about ten)."""
    store.apply_batch("a", "s", SyncBatch(upserts=[event(n) for n in range(40)]))
    seen: list[str] = []
    store._db.set_trace_callback(seen.append)
    try:
        found = list(store.iter_events("a", since=T0 + timedelta(days=30),
                                       until=T0 + timedelta(days=32)))
    finally:
        store._db.set_trace_callback(None)
    assert [e.source_id for e in found] == ["e30", "e31"]
    (sql,) = [s for s in seen if "FROM events" in s]
    plan = " ".join(str(row) for row in store._db.execute("EXPLAIN QUERY PLAN " + sql))
    assert "events_by_end" in plan, plan


def test_recurring_events_are_searched_by_their_own_index(store):
    """The team meeting's series (recurring events of 13 weeks) come through
    ``events_recurring`` (migration 14): by start, SQLite visited every event of those
    weeks (15 ms of CPU at 100k events, for ~90 recurring ones)."""
    store.apply_batch("a", "s", SyncBatch(upserts=[
        event(n, recurring=n % 5 == 0) for n in range(40)]))
    seen: list[str] = []
    store._db.set_trace_callback(seen.append)
    try:
        lo, hi = T0 + timedelta(days=10), T0 + timedelta(days=30)
        found = list(store.iter_events_starting("a", int(lo.timestamp()), int(hi.timestamp()),
                                                recurring_only=True))
    finally:
        store._db.set_trace_callback(None)
    assert [e.source_id for e in found] == ["e10", "e15", "e20", "e25"]
    (sql,) = [s for s in seen if "FROM events" in s]
    plan = " ".join(str(row) for row in store._db.execute("EXPLAIN QUERY PLAN " + sql))
    assert "events_recurring" in plan, plan
