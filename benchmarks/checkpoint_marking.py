"""Benchmark: what the digest checkpoint's triggers cost a sync, per row written.

    python -m benchmarks.checkpoint_marking [--rows 20000] [--batch 1000] [--repeat 5]
                                            [--no-postgres]

Writes the same messages (in time order, as an mbox sync does, a few late ones
among them) through ``Store.apply_batch`` into a fresh store that has a digest
checkpoint of ``--state-mb`` megabytes (a real one holds every peer row of the
retention window), alternated within each repetition:

- ``none``: the checkpoint triggers disabled (the floor);
- ``shipped``: the triggers as migrated (SQLite: migration 7, every write updates
  the row; PostgreSQL: migration 8, a transaction's first write upserts the row,
  the later ones compare with a transaction-local setting);
- ``every-row`` (PostgreSQL only): the naive plpgsql trigger, an UPDATE per write.

On SQLite and on a throwaway PostgreSQL server (tests/pg_cluster.py). Prints, per
variant, the median wall time and the median CPU time (this process plus, for
PostgreSQL, the server's processes, from /proc: steadier than wall time on a
loaded machine), and each one's ratio to ``none``: the per-row cost of the marking
(issue 14, item 3: goal ≤ ~1.10).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from peerpulse.connectors.records import MessageMeta, SyncBatch
from peerpulse.worker.store import Store, open_store
from peerpulse.worker.store.rows import DigestCheckpoint

SQLITE_VARIANTS = ("none", "shipped")
POSTGRES_VARIANTS = ("none", "every-row", "shipped")
T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)


def messages(rows: int, seed: int = 5) -> list[MessageMeta]:
    rng = random.Random(seed)
    out = []
    for n in range(rows):
        late = rng.random() < 0.01  # delivered late: dated a few days back
        at = T0 + timedelta(minutes=7 * n) - (timedelta(days=3) if late else timedelta())
        peer = f"peer{rng.randrange(400)}@example.org"
        out.append(MessageMeta(
            source_id=f"m{n}", message_id=f"<m{n}@example.org>", thread_id=f"t{n // 4}",
            timestamp=at, sender=peer if n % 2 else "dana@example.com",
            to=("dana@example.com",) if n % 2 else (peer,),
            cc=tuple(f"cc{rng.randrange(50)}@example.org" for _ in range(n % 3)),
            subject=f"Re: topic {n // 4}",
        ))
    return out


def sqlite_setup(db: Any, variant: str) -> None:
    if variant == "none":
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%checkpoint%'"
        ).fetchall():
            db.execute(f"DROP TRIGGER {name}")


_NAIVE = """CREATE OR REPLACE FUNCTION {table}_checkpoint_mark() RETURNS trigger
LANGUAGE plpgsql AS $mark$
DECLARE at bigint; acct text;
BEGIN
  IF TG_OP = 'DELETE' THEN at := OLD.{column}; acct := OLD.account;
  ELSE at := NEW.{column}; acct := NEW.account; END IF;
  UPDATE digest_checkpoints SET generation = generation + 1,
    dirty_from = LEAST(dirty_from, at) WHERE account = acct;
  RETURN NULL;
END $mark$"""


def postgres_setup(conn: Any, variant: str) -> None:
    for table in ("events", "messages"):
        conn.execute(f"ALTER TABLE {table} {'DISABLE' if variant == 'none' else 'ENABLE'} "
                     "TRIGGER USER")
    if variant == "every-row":
        for table, column in (("events", "start_ts"), ("messages", "ts")):
            conn.execute(_NAIVE.format(table=table, column=column))


#: The PostgreSQL server's processes' CPU seconds (None: SQLite, in this process).
server_cpu: Callable[[], float] | None = None


def _children_cpu(parent: int) -> float:
    """CPU seconds (user + system) of ``parent``'s live child processes."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


#: The stored checkpoint's size (bytes): a real one holds every peer row of the window.
state_bytes = 0


def run_once(store: Store, batches: list[list[MessageMeta]]) -> tuple[float, float]:
    generation = store.begin_digest_checkpoint("bench")
    assert generation is not None
    store.save_digest_checkpoint("bench", DigestCheckpoint(
        "fp", int(T0.timestamp()), 0, None, generation, os.urandom(state_bytes)), generation)
    cpu = time.process_time() + (server_cpu() if server_cpu else 0.0)
    started = time.perf_counter()
    for i, batch in enumerate(batches):
        store.apply_batch("bench", "mail", SyncBatch(upserts=list(batch), run_id=f"r{i}"))
    wall = time.perf_counter() - started
    return wall, time.process_time() + (server_cpu() if server_cpu else 0.0) - cpu


def measure(open_fresh: Callable[[str], Store], batches: list[list[MessageMeta]],
            repeat: int, variants: tuple[str, ...]) -> dict[str, list[tuple[float, float]]]:
    times: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    for r in range(repeat):
        order = variants if r % 2 == 0 else tuple(reversed(variants))
        for variant in order:
            with open_fresh(variant) as store:
                times[variant].append(run_once(store, batches))
    return times


def report(backend: str, times: dict[str, list[tuple[float, float]]], rows: int) -> None:
    wall = {v: statistics.median(w for w, _ in t) for v, t in times.items()}
    cpu = {v: statistics.median(c for _, c in t) for v, t in times.items()}
    for v in times:
        print(f"{backend:>8} {v:>10}: wall {wall[v]:.3f}s ({1e6 * wall[v] / rows:.1f} us/row, "
              f"x{wall[v] / wall['none']:.3f})  cpu {cpu[v]:.3f}s "
              f"({1e6 * cpu[v] / rows:.1f} us/row, x{cpu[v] / cpu['none']:.3f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--state-mb", type=float, default=4.0,
                        help="size of the stored checkpoint the writes mark")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    global state_bytes
    state_bytes = int(args.state_mb * 1e6)
    rows = messages(args.rows)
    batches = [rows[i:i + args.batch] for i in range(0, len(rows), args.batch)]
    with tempfile.TemporaryDirectory() as tmp:
        import sqlite3

        def fresh_sqlite(variant: str) -> Store:
            path = Path(tmp) / f"{variant}-{time.monotonic_ns()}.sqlite3"
            open_store(path).close()
            with sqlite3.connect(path) as db:
                sqlite_setup(db, variant)
            db.close()
            return open_store(path)

        report("sqlite", measure(fresh_sqlite, batches, args.repeat, SQLITE_VARIANTS), args.rows)
    if args.no_postgres:
        return
    from tests.pg_cluster import Cluster, unavailable_reason

    reason = unavailable_reason()
    if reason:
        print(f"postgres: skipped ({reason})")
        return
    cluster = Cluster().start()
    try:
        import psycopg

        global server_cpu
        postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
        server_cpu = lambda: _children_cpu(postmaster)  # noqa: E731

        database = cluster.new_database()

        def fresh_postgres(variant: str) -> Store:
            url = cluster.new_schema_url(database)
            open_store(url).close()
            with psycopg.connect(url, autocommit=True) as conn:
                postgres_setup(conn, variant)
            return open_store(url)

        times = measure(fresh_postgres, batches, args.repeat, POSTGRES_VARIANTS)
        report("postgres", times, args.rows)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
