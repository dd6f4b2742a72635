"""Connector state: staged writes overlay committed reads and travel with the batch."""

from __future__ import annotations

import pytest
from peerpulse.connectors.records import SyncBatch
from peerpulse.connectors.state import StagedState, StateChange
from peerpulse.worker.store.sqlite import SqliteStore


class _StoreView:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    def get(self, key: str) -> str | None:
        return self.store.state_get("a", "s", key)

    def iter_prefix(self, prefix: str):  # noqa: ANN201
        return self.store.state_iter_prefix("a", "s", prefix)


@pytest.fixture
def store(tmp_path):  # noqa: ANN001, ANN201
    with SqliteStore(tmp_path / "state.db") as s:
        yield s


def test_staged_changes_commit_with_the_batch(store: SqliteStore) -> None:
    state = StagedState(_StoreView(store))
    state.put("file/b", "2")
    state.put("file/a", "1")
    assert state.get("file/a") == "1" and store.state_get("a", "s", "file/a") is None
    store.apply_batch("a", "s", SyncBatch(cursor="c1", state=state.take_changes()))
    assert store.state_get("a", "s", "file/a") == "1"
    assert list(store.state_iter_prefix("a", "s", "file/")) == [("file/a", "1"), ("file/b", "2")]


def test_reads_overlay_staged_puts_and_deletes_in_key_order(store: SqliteStore) -> None:
    changes = [StateChange(f"k/{i:04d}", str(i)) for i in range(1200)]
    store.apply_batch("a", "s", SyncBatch(state=[*changes, StateChange("other", "x")]))
    state = StagedState(_StoreView(store))
    state.delete("k/0001")
    state.put("k/0002", "two")
    state.put("k/9999", "last")
    state.put("k/", "first")
    pairs = list(state.iter_prefix("k/"))
    assert pairs[0] == ("k/", "first") and pairs[-1] == ("k/9999", "last")
    assert ("k/0001", "1") not in pairs and ("k/0002", "two") in pairs
    assert len(pairs) == 1200 - 1 + 2
    assert [k for k, _ in pairs] == sorted(k for k, _ in pairs)


def test_a_failed_batch_commits_neither_state_nor_cursor(store: SqliteStore) -> None:
    unstorable = StateChange("k2", object())  # type: ignore[arg-type]  # SQLite rejects it
    bad = SyncBatch(state=[StateChange("k", "v"), unstorable], cursor="c")
    with pytest.raises(Exception):  # noqa: B017, PT011
        store.apply_batch("a", "s", bad)
    assert store.state_get("a", "s", "k") is None and store.cursor("a", "s") is None


def test_with_a_committing_caller_only_the_last_batch_stays_in_memory(
    store: SqliteStore,
) -> None:
    state = StagedState(_StoreView(store), committed_each_batch=True)
    for i in range(3):
        state.put(f"k/{i}", str(i))
        store.apply_batch("a", "s", SyncBatch(state=state.take_changes()))
    assert len(state._in_flight) == 1  # the batch the caller commits next, not the run
    assert [k for k, _ in state.iter_prefix("k/")] == ["k/0", "k/1", "k/2"]  # from the store
    state.delete("k/1")
    store.apply_batch("a", "s", SyncBatch(state=state.take_changes()))
    assert state.get("k/1") is None and store.state_get("a", "s", "k/1") is None


def test_without_a_store_the_runs_changes_stay_readable() -> None:
    from peerpulse.connectors.base import SourceContext

    state = SourceContext("a", frozenset()).source_state("s")
    for i in range(3):
        state.put(f"k/{i}", str(i))
        state.take_changes()
    assert [k for k, _ in state.iter_prefix("k/")] == ["k/0", "k/1", "k/2"]


class _Counting:
    """A committed side that counts its reads (a remote store pays a round trip each)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values, self.gets, self.many = values, 0, 0

    def get(self, key: str) -> str | None:
        self.gets += 1
        return self.values.get(key)

    def get_many(self, keys: list[str]) -> dict[str, str]:
        self.many += 1
        return {k: self.values[k] for k in keys if k in self.values}

    def iter_prefix(self, prefix: str):  # noqa: ANN201
        return iter(sorted((k, v) for k, v in self.values.items() if k.startswith(prefix)))


def test_get_many_reads_the_committed_side_once_and_overlays_staged_changes() -> None:
    committed = _Counting({f"m/{i}": "x" for i in range(0, 500, 2)})
    state = StagedState(committed)
    state.put("m/1", "new")
    state.delete("m/2")
    found = state.get_many([f"m/{i}" for i in range(500)])
    assert (committed.many, committed.gets) == (1, 0)
    assert found["m/1"] == "new" and "m/2" not in found and "m/3" not in found
    assert len(found) == 250  # 250 committed even ids, one deleted, one staged odd id


def test_the_gmail_known_ids_lookup_is_one_query_per_listing_page(tmp_path) -> None:  # noqa: ANN001
    """A page of 500 listed ids was 500 queries (each a round trip on PostgreSQL)."""
    from peerpulse.connectors.google.known_ids import KnownIds

    committed = _Counting({})
    known = KnownIds(StagedState(committed), "g")
    known.add([("a1", "t1"), ("a2", "t1")])
    assert known.known_messages([f"a{i}" for i in range(500)]) == {"a1", "a2"}
    assert committed.gets == 0 and committed.many == 1
