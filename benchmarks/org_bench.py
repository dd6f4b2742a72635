"""Benchmark: organization mode on PostgreSQL (docs/ORGANIZATION.md, "Scaling").

    python -m benchmarks.org_bench store [--managers 1000] [--messages 1000] [--events 100]
    python -m benchmarks.org_bench workers [--accounts 24]
    (either: --database postgresql://... to use a server; default: a throwaway
    cluster started like the tests' (tests/pg_cluster.py), removed at the end)

``store``: fills one database with ``--managers`` synthetic mailboxes through
``PostgresStore.apply_batch`` (the sync's write path), and times one manager's
digest reads (every message and event of the account, decoded, as the digest
streams them) when the database holds 10 managers and when it holds all of
them; prints the ratio (goal <= 1.2: cost independent of the organization's
size), the write rate, and the database size per manager.

``workers``: an organization of ``--accounts`` mailboxes over one demo
organization's files; one tick (a sync and a digest per mailbox) drained by one
`org worker` and then, on a fresh database, by two; prints wall times, the
speed-up, sends per recipient and each run's peak worker RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.pg_local import local_cluster

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@contextlib.contextmanager
def _server(url: str | None) -> Iterator[tuple[str, object]]:
    """(a fresh database URL factory's cluster or None, ...) for the run."""
    if url:
        yield url, None
        return
    with local_cluster() as cluster:
        yield "", cluster


def _new_db(base: str, cluster: object) -> str:
    if cluster is not None:
        return cluster.new_database()  # type: ignore[attr-defined]
    return base


def _batch(account: int, messages: int, events: int):
    from peerpulse.connectors.records import EventInstance, MessageMeta, SyncBatch

    peers = [f"p{(account * 7 + k) % 400}@example.com" for k in range(40)]
    msgs = [
        MessageMeta(source_id=f"m{account}-{i}", message_id=f"m{account}-{i}@x",
                    thread_id=f"t{i // 4}", timestamp=T0 + timedelta(minutes=37 * i),
                    sender=peers[i % 40], to=(f"mgr{account}@example.com", peers[(i + 3) % 40]),
                    subject=f"subject {i}")
        for i in range(messages)]
    evs = [
        EventInstance(source_id=f"e{account}-{i}", series_id=f"s{i % 20}",
                      start=T0 + timedelta(hours=7 * i), end=T0 + timedelta(hours=7 * i + 1),
                      organizer=peers[i % 40], title=f"meeting {i}")
        for i in range(events)]
    return SyncBatch(upserts=[*msgs, *evs], cursor="c")


def _read_one(store, account: str) -> tuple[float, int]:
    started = time.perf_counter()
    n = sum(1 for _ in store.iter_messages(account)) + sum(1 for _ in store.iter_events(account))
    return time.perf_counter() - started, n


_DIGEST_READS = (
    "SELECT * FROM messages WHERE account = 'mgr3' AND ts >= -4611686018427387904 "
    "AND ts < 4611686018427387904 ORDER BY ts, source_id",
    "SELECT * FROM events WHERE account = 'mgr3' AND start_ts < 4611686018427387904 "
    "AND end_ts >= -4611686018427387904 ORDER BY start_ts, source_id",
)


def _server_side(url: str) -> dict:
    """The digest's two queries as the server runs them: min execution time of 15
    and the plan's node types (what must not change with the organization's size)."""
    import psycopg

    best = float("inf")
    nodes: list[str] = []
    with psycopg.connect(url) as conn:
        for _ in range(15):
            total = 0.0
            nodes = []
            for sql in _DIGEST_READS:
                plan = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}").fetchone()
                top = plan[0][0]
                total += top["Execution Time"]
                stack = [top["Plan"]]
                while stack:
                    node = stack.pop()
                    nodes.append(node["Node Type"])
                    stack.extend(node.get("Plans", []))
            best = min(best, total)
    return {"ms": round(best, 3), "nodes": nodes}


def _fill(store, managers: int, args: argparse.Namespace) -> tuple[int, float]:
    written, spent = 0, 0.0
    for account in range(managers):
        batch = _batch(account, args.messages, args.events)
        started = time.perf_counter()
        store.apply_batch(f"mgr{account}", "files", batch)
        spent += time.perf_counter() - started
        written += len(batch.upserts)
    return written, spent


def bench_store(args: argparse.Namespace) -> dict:
    """Two databases on one server, 10 managers and ``--managers``, the measured
    manager's rows identical in both; reads alternate between them (min of
    ``--repeat``) so the machine's load drifts equally over both."""
    import psycopg
    from peerpulse.worker.store.postgres import PostgresStore

    out: dict = {"managers": args.managers, "messages_each": args.messages,
                 "events_each": args.events}
    with _server(args.database) as (base, cluster):
        if cluster is None:
            raise SystemExit("store needs two fresh databases: run without --database")
        small_url, large_url = _new_db(base, cluster), _new_db(base, cluster)
        with PostgresStore(small_url) as small, PostgresStore(large_url) as large:
            _fill(small, 10, args)
            written, spent = _fill(large, args.managers, args)
            for url in (small_url, large_url):
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("VACUUM ANALYZE")
            with psycopg.connect(large_url, autocommit=True) as conn:
                size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
                empty = conn.execute("SELECT pg_database_size('template1')").fetchone()[0]
            times: dict[str, list[float]] = {"small": [], "large": []}
            for _ in range(args.repeat):
                for name, store in (("small", small), ("large", large)):
                    spent_read, rows = _read_one(store, "mgr3")
                    times[name].append(spent_read)
            plans = {name: _server_side(url) for name, url in
                     (("small", small_url), ("large", large_url))}
        out["rows_read_per_manager"] = rows
        out["server_ms_at_10"] = plans["small"]["ms"]
        out[f"server_ms_at_{args.managers}"] = plans["large"]["ms"]
        out["plans"] = {name: p["nodes"] for name, p in plans.items()}
        out["read_ms_at_10"] = round(1000 * min(times["small"]), 2)
        out[f"read_ms_at_{args.managers}"] = round(1000 * min(times["large"]), 2)
        out["read_ratio"] = round(min(times["large"]) / min(times["small"]), 3)
        out["write_rows_per_s"] = round(written / spent)
        out["db_bytes_per_manager"] = (size - empty) // args.managers
    return out


def _org_config(path: Path, url: str, demo: Path, meta: dict, accounts: int) -> None:
    parts = [f'state_dir = "{path.parent / "state"}"\ndatabase = "{url}"\n']
    for n in range(accounts):
        parts.append(f"""
[[accounts]]
name = "m{n}"
owner = "{meta['owner']}"
aliases = {json.dumps(meta['aliases'])}
timezone = "Europe/Berlin"
[accounts.source]
type = "files"
calendar = ["{demo}/calendar"]
mail = ["{demo}/mail"]
people = ["{demo}/people.csv"]
[accounts.digest]
recipient = "m{n}@example.com"
[accounts.delivery]
type = "file"
dir = "{path.parent}/out/m{n}"
""")
    path.write_text("".join(parts))


def _pp(*argv: str) -> list[str]:
    return [sys.executable, "-c", "from peerpulse.worker.cli import main; raise SystemExit(main())",
            *argv]


def bench_workers(args: argparse.Namespace) -> dict:
    now = "2026-11-23T09:30:00+00:00"
    out: dict = {"accounts": args.accounts}
    with _server(args.database) as (base, cluster), tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run(_pp("demo", "--out", str(root / "demo"), "--end", "2026-11-22",
                           "--managers", "22", "--months", "2"), check=True,
                       stdout=subprocess.DEVNULL)
        meta = json.loads((root / "demo" / "demo.json").read_text())
        for workers in (1, 2):
            if cluster is None and workers == 2:
                break  # a given database is not reset between runs
            run = root / f"run{workers}"
            run.mkdir()
            config = run / "org.toml"
            _org_config(config, _new_db(base, cluster), root / "demo", meta, args.accounts)
            subprocess.run(_pp("--config", str(config), "org", "migrate"), check=True,
                           stdout=subprocess.DEVNULL)
            subprocess.run(_pp("--config", str(config), "org", "enqueue", "tick", "--now", now),
                           check=True, stdout=subprocess.DEVNULL)
            started = time.perf_counter()
            procs = [subprocess.Popen(_pp("--config", str(config), "org", "worker", "--one-shot",
                                          "--concurrency", "1", "--now", now,
                                          "--tick-cron", "0 0 1 1 *"),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for _ in range(workers)]
            rss = 0
            for proc in procs:
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                rss = max(rss, usage.ru_maxrss)
            out[f"wall_s_{workers}_workers"] = round(time.perf_counter() - started, 2)
            out[f"peak_rss_mb_{workers}_workers"] = rss // 1024
            sent = sorted(p.name for p in (run / "out").rglob("*.eml"))
            out[f"digests_{workers}_workers"] = len(sent)
        if "wall_s_2_workers" in out:
            out["speedup"] = round(out["wall_s_1_workers"] / out["wall_s_2_workers"], 2)
    out["cpus"] = os.cpu_count()
    out["load_avg"] = os.getloadavg()[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["store", "workers"])
    parser.add_argument("--database", help="a postgresql:// URL (default: a throwaway server)")
    parser.add_argument("--managers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--accounts", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    result = bench_store(args) if args.what == "store" else bench_workers(args)
    result["self_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
