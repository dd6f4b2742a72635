"""What only the PostgreSQL store must show: per-account indexes, concurrent
writers (several workers share one database), read-only opening, no password in
messages. The behaviour both backends share is in test_store_contract.py."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from peerpulse.connectors.records import EventInstance, MessageMeta, SyncBatch
from peerpulse.worker.store import StoreError, codec, open_store
from peerpulse.worker.store.postgres import PostgresStore, redact
from peerpulse.worker.store.rows import LedgerState

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _messages(account: str, n: int) -> SyncBatch:
    return SyncBatch(upserts=[
        MessageMeta(source_id=f"{account}-{i}", message_id=f"{account}-{i}@x", thread_id="t",
                    timestamp=T0 + timedelta(minutes=i), sender="lee@example.com",
                    to=("dana@example.com",))
        for i in range(n)])


def _plan(url: str, sql: str, params: tuple) -> dict:
    with psycopg.connect(url) as conn:
        conn.execute("SET enable_seqscan = off")
        row = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()
    return row[0][0]["Plan"]


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize("sql", [
    "SELECT * FROM messages WHERE account = %s AND ts >= 0 AND ts < 9e9 ORDER BY ts, source_id",
    "SELECT * FROM events WHERE account = %s AND start_ts < 9e9 AND end_ts >= 0 "
    "ORDER BY start_ts, source_id",
    "SELECT * FROM people WHERE account = %s",
    "SELECT * FROM digest_ledger WHERE account = %s",
    "SELECT * FROM recommendation_history WHERE account = %s",
    "SELECT * FROM connector_state WHERE account = %s",
    "SELECT * FROM title_changes WHERE account = %s AND seen_at >= 0",
])
def test_one_managers_reads_use_an_index_on_account_and_never_sort(pg_url, sql):
    """An index led by account serves every per-manager read (so its cost does not
    grow with the organization) and the digest's order comes from the index."""
    with open_store(pg_url) as store:
        store.apply_batch("a", "s", _messages("a", 3))
    plan = _plan(pg_url, sql, ("a",))
    kinds = {node["Node Type"] for node in _nodes(plan)}
    assert "Seq Scan" not in kinds, json.dumps(plan)
    assert "Sort" not in kinds, json.dumps(plan)


def test_a_managers_digest_reads_only_its_rows(pg_url):
    with open_store(pg_url) as store:
        for account in ("a", "b", "c"):
            store.apply_batch(account, "s", _messages(account, 200))
    with psycopg.connect(pg_url) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("ANALYZE messages")
        row = conn.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM messages WHERE account = %s "
            "AND ts >= 0 AND ts < 9000000000 ORDER BY ts, source_id", ("b",)).fetchone()
    plan = row[0][0]["Plan"]
    scanned = [n for n in _nodes(plan) if "Index" in n["Node Type"]]
    assert scanned and scanned[0]["Actual Rows"] == 200
    assert scanned[0].get("Rows Removed by Filter", 0) == 0


def test_two_workers_claiming_one_period_only_one_wins(pg_url):
    """The ledger's claim is the exactly-once gate across processes: many threads,
    each with its own store (own pool, own connections), race for one row."""
    key = ("a", "sam@example.com", "2026-W48", 0)
    with open_store(pg_url) as store:
        store.ledger_insert_first(key, message_id="<1@x>", subject="s", message=b"m",
                                  state=LedgerState.PENDING, created_at=1, picks={})
    stores = [open_store(pg_url) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    wins: list[int] = []

    def race(n: int) -> None:
        barrier.wait()
        if stores[n].ledger_claim(key, 100 + n) is not None:
            wins.append(n)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for s in stores:
        s.close()
    assert len(wins) == 1


def test_concurrent_resends_get_distinct_seqs(pg_url):
    key = ("a", "sam@example.com", "2026-W48", 0)
    with open_store(pg_url) as store:
        first = store.ledger_insert_first(key, message_id="<1@x>", subject="s", message=b"m",
                                          state=LedgerState.SENT, created_at=1, picks={})
    stores = [open_store(pg_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def resend(n: int) -> None:
        barrier.wait()
        try:
            stores[n].ledger_insert_next(first, message_id=f"<r{n}@x>", message=b"m",
                                         created_at=2)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=resend, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    with open_store(pg_url) as store:
        seqs = [e.seq for e in store.ledger_entries("a")]
    for s in stores:
        s.close()
    assert errors == [] and seqs == [0, 1, 2, 3, 4]


def test_workers_starting_together_migrate_once(pg_url):
    opened: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        try:
            with open_store(pg_url) as store:
                opened.append(store.schema_version())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and len(set(opened)) == 1 and len(opened) == 4


def test_a_read_only_store_never_creates_the_schema_nor_writes(pg_url):
    with pytest.raises(StoreError, match="no peerpulse schema"):
        open_store(pg_url, read_only=True)
    open_store(pg_url).close()
    with open_store(pg_url, read_only=True) as store:
        assert store.store_id() is None
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            store.apply_batch("a", "s", _messages("a", 1))


def test_a_connection_error_names_the_server_without_the_password(pg_cluster):
    url = f"postgresql://nobody@127.0.0.1:{pg_cluster.port}/nope"
    with pytest.raises(StoreError) as caught:
        PostgresStore(url, password="s3cret-value")
    assert "127.0.0.1" in str(caught.value) and "s3cret-value" not in str(caught.value)


def test_redact_drops_password_and_options():
    assert redact("postgresql://u:pw@db:5432/pp?options=-csearch_path%3Dx") == (
        "postgresql://u@db:5432/pp")


def test_connections_the_server_dropped_are_replaced_not_failed(pg_url):
    """A database restart or failover kills every connection of a worker's pool;
    the next job's store operations must reconnect, not fail."""
    with open_store(pg_url) as store:
        store.apply_batch("a", "s", _messages("a", 2))
        with psycopg.connect(pg_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
        assert killed >= 1
        assert store.counts("a").messages == 2
        assert [m.source_id for m in store.iter_messages("a")] == ["a-0", "a-1"]


def test_a_digest_beginning_while_a_sync_writes_waits_for_it_and_sees_its_records(pg_url):
    """The checkpoint's mark under concurrency (issue 14, item 1): a writing
    transaction's first record locks the checkpoint row (creating it if no digest
    made one yet), so a digest beginning meanwhile waits for the commit and then
    reads the records; its later records, which only compare with a
    transaction-local setting, are marked at their time."""
    with open_store(pg_url) as store:
        store.apply_batch("a", "s", _messages("a", 3))
        found = store.digest_checkpoint("a")
        assert found is not None and found.dirty_from == int(T0.timestamp())  # made by a write
        generation = store.begin_digest_checkpoint("a")
        began: list[int | None] = []
        with psycopg.connect(pg_url) as conn:  # a sync's transaction, left open
            columns = ("account", "source", "source_id", "scope", "run_id",
                       *codec.MESSAGE_COLUMNS)
            for minute in (50, 40, 60):  # the earliest after the first: still marked
                m = MessageMeta(source_id=f"late-{minute}", message_id=f"late-{minute}@x",
                                thread_id="t", timestamp=T0 + timedelta(minutes=minute),
                                sender="lee@example.com", to=("dana@example.com",))
                conn.execute(
                    f"INSERT INTO messages ({', '.join(columns)}) "
                    f"VALUES ({', '.join('%s' for _ in columns)})",
                    ("a", "s", m.source_id, "", "", *codec.message_row(m)))
            waiter = threading.Thread(
                target=lambda: began.append(store.begin_digest_checkpoint("a")))
            waiter.start()
            waiter.join(timeout=2)
            assert waiter.is_alive() and not began  # the digest waits for the sync
            marked = conn.execute(
                "SELECT dirty_from, generation FROM digest_checkpoints WHERE account = 'a'"
            ).fetchone()
            assert marked == (int((T0 + timedelta(minutes=40)).timestamp()), generation + 1)
            conn.commit()
        waiter.join(timeout=30)
        assert began and began[0] is not None and began[0] > generation + 1
        ids = {m.source_id for m in store.iter_messages("a")}
        assert {"late-40", "late-50", "late-60"} <= ids  # what the digest then reads


@pytest.mark.parametrize("table, column", [("messages", "subject"), ("events", "title")])
def test_record_labels_search_an_index_on_account_and_source_id(pg_url, table, column):
    """record_labels' lookup (same SQL as PostgresStore.record_labels): the index
    condition names source_id, so a few ids never read every record of the account."""
    with open_store(pg_url) as store:
        store.apply_batch("a", "s", _messages("a", 500))
        store.apply_batch("a", "c", SyncBatch(upserts=[
            EventInstance(source_id=f"a-e{i}", series_id="s", start=T0 + timedelta(hours=i),
                          end=T0 + timedelta(hours=i + 1), organizer="lee@example.com")
            for i in range(500)]))
        assert store.record_labels("a", ["a-1", "a-9"]) == {}  # messages without subjects
    with psycopg.connect(pg_url) as conn:
        conn.execute(f"ANALYZE {table}")
    plan = _plan(pg_url, f"SELECT source_id, {column} FROM {table} WHERE account = %s "
                 f"AND source_id = ANY(%s) AND {column} IS NOT NULL", ("a", ["a-1", "a-2"]))
    conds = [n.get("Index Cond", "") for n in _nodes(plan)]
    assert any("source_id" in c for c in conds), json.dumps(plan)
