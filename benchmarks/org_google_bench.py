"""Benchmark: an organization of managers synced through the Google connector by
`org worker` processes (``make bench-org``; docs/SCALING.md).

    python -m benchmarks.org_google_bench [--sizes 1 10 300 1000] [--speedup-at 300]
        [--concurrency 25] [--latency 0.1] [--window-days 3]

Every manager's mailbox and calendar is the demo organization's (the demo
generator, then ``tests/connectors/google/fake_org.py``: the demo owner's mail
as each manager's own), served by the local fake Google server with what makes
a Google sync slow in production: ``--latency`` seconds per HTTP request, the
2026 per-user quota (6,000 units/min, messages.get 20, threads.get 40) as a
moving average and a minute window, at most 25 requests in flight per user,
the project quota (1,200,000 units/min) shared by all workers through the
database, and service-account tokens with domain-wide delegation (one JWT
grant per manager). ``--window-days`` keeps mailboxes small (the days of mail
synced) so a run of 1,000 managers fits in minutes.

Per size: one tick's syncs (every mailbox, from nothing) drained by one worker
and, at ``--speedup-at`` (and the sizes above it), by two on a fresh database;
wall time from the workers' start to the empty queue (``--one-shot``), peak RSS
of each worker (``wait4``), Gmail API calls and HTTP requests per message
synced, quota units, database size per manager. Then one manager's digest
(``digest --dry-run``, in this process) timed alternately on the 10-manager and
the largest database (min of ``--repeat``). Size 1 is the single-manager figure
the per-message ratios divide by. Digest delivery for every manager is not in
the wall time: it is CPU-bound (rules over each manager's rows) and scales with
cores, not with waiting; its per-manager time is what is reported.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.pg_local import local_cluster

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-11-23T09:30:00+00:00"
PROJECT_QUOTA = 1_200_000


def _pp(*argv: str) -> list[str]:
    return [sys.executable, "-c", "from peerpulse.worker.cli import main; raise SystemExit(main())",
            *argv]


def _cli(*argv: str) -> tuple[int, str]:
    from peerpulse.worker.cli import Env, main

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue() + err.getvalue()


def _config(path: Path, url: str, fake: Any, managers: int, args: argparse.Namespace) -> Path:
    from tests.connectors.google.fake_org import account_toml, service_account_key

    key = service_account_key(path.parent / "sa-key.json", fake.token_url)
    extra = (f"window_past_days = {args.window_days}\nquota_regime = \"2026\"\n"
             f"project_quota_units_per_minute = {PROJECT_QUOTA}\n")
    path.write_text(
        f'state_dir = "{path.parent / "state"}"\n[database]\nurl = "{url}"\n'
        f"pool_size = {args.pool_size}\n"
        + "".join(account_toml(k, key=key, fake=fake, smtp_port=1, extra_source=extra,
                               directory=False) for k in range(managers)))
    code, out = _cli("--config", str(path), "org", "migrate")
    if code:
        raise SystemExit(f"org migrate failed: {out}")
    return path


def _drain(config: Path, workers: int,
           args: argparse.Namespace) -> tuple[float, list[int], list[float]]:
    """Start ``workers`` one-shot workers on the deferred syncs; (wall s, peak RSS kB and
    CPU seconds of each)."""
    started = time.perf_counter()
    procs = [subprocess.Popen(_pp("--config", str(config), "org", "worker", "--one-shot",
                                  "--concurrency", str(args.concurrency), "--now", NOW,
                                  "--tick-cron", "0 0 1 1 *", "--queues", "sync"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(workers)]
    # The workers' own peak RSS is the kernel's VmHWM of their process, read while they
    # run: wait4's ru_maxrss would also count this (large) process, which the child
    # was forked from before it exec'd the worker.
    peaks = [0] * len(procs)
    cpu = [0.0] * len(procs)
    running = set(range(len(procs)))
    while running:
        for i in sorted(running):
            peaks[i] = max(peaks[i], _hwm_kb(procs[i].pid))
            pid, status, usage = os.wait4(procs[i].pid, os.WNOHANG)
            if pid == 0:
                continue
            running.discard(i)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"a worker failed ({status}); rerun with its output")
            cpu[i] = round(usage.ru_utime + usage.ru_stime, 2)
        time.sleep(0.2)
    return time.perf_counter() - started, peaks, cpu


def _hwm_kb(pid: int) -> int:
    """VmHWM (peak resident set) of a live process, 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _database(url: str, managers: int) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        empty = conn.execute("SELECT pg_database_size('template1')").fetchone()[0]
        messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        failed = conn.execute("SELECT count(*) FROM sync_runs WHERE outcome NOT IN ('ok') "
                              "AND source <> 'connect'").fetchone()[0]
        jobs = conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status <> "
                            "'succeeded' AND queue_name = 'sync'").fetchone()[0]
    return {"db_bytes_per_manager": (size - empty) // managers, "messages": messages,
            "events": events, "failed_source_runs": failed, "unfinished_jobs": jobs}


@contextmanager
def enqueued(template: Any, managers: int, run: Path, url: str,
             args: argparse.Namespace) -> Iterator[tuple[Any, Path]]:
    """A fake Google on 127.0.0.1 holding ``managers`` mailboxes (2026 prices, the
    per-user and project quotas), and the config of an organization whose sync of all
    of them is enqueued in the database at ``url``; the fake stops on exit."""
    from peerpulse.connectors.google.auth import SCOPE_DIRECTORY

    from tests.connectors.google.conftest import READ_SCOPES
    from tests.connectors.google.fake_google import FakeGoogle
    from tests.connectors.google.fake_org import populate

    fake = FakeGoogle(allowed_scopes=READ_SCOPES | {SCOPE_DIRECTORY}, latency=args.latency,
                      quota_per_minute=6000, prices="2026", max_concurrent=25,
                      project_quota_per_minute=PROJECT_QUOTA).start()
    try:
        populate(fake, template, managers)
        run.mkdir()
        config = _config(run / "org.toml", url, fake, managers, args)
        code, out = _cli("--config", str(config), "org", "enqueue", "sync", "--now", NOW)
        if code:
            raise SystemExit(out)
        yield fake, config
    finally:
        fake.stop()


def one_run(cluster: Any, template: Any, managers: int, workers: int,
            args: argparse.Namespace, root: Path) -> tuple[dict[str, Any], Path]:
    url = cluster.new_database()
    with enqueued(template, managers, root / f"n{managers}-w{workers}", url, args) as (
            fake, config):
        wall, rss, cpu = _drain(config, workers, args)
        stats = _database(url, managers)
        calls = len(fake.log)
        gmail_calls = sum(1 for name, _ in fake.log if name.startswith(
            ("messages.", "threads.", "history.", "getProfile")))
        result = {
            "managers": managers, "workers": workers, "wall_s": round(wall, 2),
            "mailboxes_per_s": round(managers / wall, 2),
            "peak_rss_mb_per_worker": [r // 1024 for r in rss],
            "cpu_s_per_worker": cpu, "cpu_ms_per_mailbox": round(1000 * sum(cpu) / managers),
            "api_calls": calls, "http_requests": fake.http_requests,
            "token_requests": fake.token_requests,
            "gmail_calls_per_message": round(gmail_calls / max(1, stats["messages"]), 4),
            "http_requests_per_message": round(
                (fake.http_requests - fake.token_requests) / max(1, stats["messages"]), 4),
            "quota_429s": fake.throttled, "project_429s": fake.project_throttled,
            "concurrency_refusals": fake.concurrency_refusals,
            "units": sum(fake.units.values()),
            "project_utilization": round(fake.project_units / (
                PROJECT_QUOTA / 60 * max(1e-9, fake.project_span[1] - fake.project_span[0])), 4),
            **stats,
        }
    print(json.dumps(result), flush=True)
    return result, config


def digest_times(small: Path, large: Path, repeat: int) -> dict[str, float]:
    """One manager's digest (mgr3: computed from the store and rendered, what a digest
    job does), alternately on the small and the large organization, min of ``repeat``
    each, in ms; settings and rules loaded once, as a worker does. Also the time to load
    each config (``digest --dry-run`` from the command line pays that per call; it
    grows with the number of accounts listed in the file)."""
    from datetime import datetime

    from peerpulse.worker import config as config_module
    from peerpulse.worker.digest.render import render_digest
    from peerpulse.worker.pipeline import compute_for_account, read_rules
    from peerpulse.worker.store.postgres import PostgresStore

    now = datetime.fromisoformat(NOW)
    opened = {}
    out: dict[str, float] = {}
    for name, config in (("small", small), ("large", large)):
        started = time.perf_counter()
        settings = config_module.load(config)
        out[f"config_load_ms_{name}"] = round(1000 * (time.perf_counter() - started), 1)
        assert settings.database is not None
        opened[name] = (settings, read_rules(settings), PostgresStore(settings.database.url,
                                                                       migrate=False))
    best = {"small": float("inf"), "large": float("inf")}
    try:
        for _ in range(repeat):
            for name, (settings, rules, store) in opened.items():
                account = settings.account("mgr3")
                started = time.perf_counter()
                result = compute_for_account(store, settings, account, rules, now=now)
                render_digest(result.digest, recipient=account.recipient,
                              sender="peerpulse@example.com", now=now)
                best[name] = min(best[name], time.perf_counter() - started)
    finally:
        for _, _, store in opened.values():
            store.close()
    out.update({k: round(v * 1000, 1) for k, v in best.items()})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 300, 1000])
    parser.add_argument("--speedup-at", type=int, default=300,
                        help="from this size on, also run two workers")
    parser.add_argument("--concurrency", type=int, default=25, help="jobs per worker")
    parser.add_argument("--pool-size", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--window-days", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from tests.connectors.google.fake_org import read_demo

    results: list[dict[str, Any]] = []
    configs: dict[int, Path] = {}
    with local_cluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run(_pp("demo", "--out", str(root / "demo"), "--end", "2026-11-22",
                           "--managers", "22", "--months", "2"), check=True,
                       stdout=subprocess.DEVNULL)
        meta = json.loads((root / "demo" / "demo.json").read_text())
        template = read_demo(root / "demo", meta)
        for managers in args.sizes:
            for workers in (1, 2) if managers >= args.speedup_at else (1,):
                result, config = one_run(cluster, template, managers, workers, args, root)
                results.append(result)
                configs.setdefault(managers, config)
        summary = summarize(results, configs, args)
    summary["cpus"] = os.cpu_count()
    summary["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(summary, indent=2))


def summarize(results: list[dict[str, Any]], configs: dict[int, Path],
              args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": len(results)}
    one = {r["managers"]: r for r in results if r["workers"] == 1}
    two = {r["managers"]: r for r in results if r["workers"] == 2}
    for n in sorted(two):
        out[f"speedup_2_workers_at_{n}"] = round(one[n]["wall_s"] / two[n]["wall_s"], 2)
    single = one.get(1)
    if single:
        for n, r in sorted(one.items()):
            out[f"gmail_calls_per_message_ratio_at_{n}"] = round(
                r["gmail_calls_per_message"] / single["gmail_calls_per_message"], 3)
            out[f"http_requests_per_message_ratio_at_{n}"] = round(
                r["http_requests_per_message"] / single["http_requests_per_message"], 3)
    out["peak_rss_mb_1_worker"] = {n: r["peak_rss_mb_per_worker"][0] for n, r in one.items()}
    out["db_bytes_per_manager"] = {n: r["db_bytes_per_manager"] for n, r in one.items()}
    sizes = sorted(configs)
    if 10 in configs and sizes[-1] > 10:
        times = digest_times(configs[10], configs[sizes[-1]], args.repeat)
        out["digest_ms_at_10"] = times["small"]
        out[f"digest_ms_at_{sizes[-1]}"] = times["large"]
        out["digest_ratio"] = round(times["large"] / times["small"], 3)
        out["config_load_ms_at_10"] = times["config_load_ms_small"]
        out[f"config_load_ms_at_{sizes[-1]}"] = times["config_load_ms_large"]
    return out


if __name__ == "__main__":
    main()
