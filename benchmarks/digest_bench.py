"""Benchmark: computing the digest vs one plain full read of the same rows.

    python -m benchmarks.digest_bench [--messages 1000000] [--events 100000] [--repeat 3]

Fills a store from the demo generator (real ICS and mbox files read through the
``files`` connector), then times, alternately in fresh subprocesses so that
neither warms the other's caches more than the OS page cache does for both:

- ``read``: ``SELECT *`` over every message and event row of the account, rows
  fetched and discarded (the floor any computation over the store must pay);
- ``digest``: ``rules.engine.compute`` over the same store (decode, infer,
  score, recommend).

Prints each phase's min/median/max wall time and peak RSS, and the ratio of the
medians (goal: digest / read <= 3, digest peak RSS < 1 GB). Ratios measured side
by side in one run are what to compare across machines; absolute seconds are not.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks.demo_config import demo_config_text

DEFAULT_DIR = Path("bench-out/digest")


def prepare(workdir: Path, messages: int, events: int, end: date) -> Path:
    """Generate the organization and sync it into a store; reuse it if present."""
    from peerpulse.worker.demo import generate

    org = workdir / "org"
    state = workdir / "state"
    config = workdir / "config.toml"
    marker = workdir / "prepared.json"
    wanted = {"messages": messages, "events": events, "end": end.isoformat()}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return config
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # Probe twice at scale 1 to learn how volumes grow (events grow linearly with
    # calendar_scale, plus a fixed part for recurring series), then aim at the targets.
    low = generate(workdir / "probe", seed=11, managers=60, months=12, scale=1.0,
                   calendar_scale=10.0, end=end)
    high = generate(workdir / "probe", seed=11, managers=60, months=12, scale=1.0,
                    calendar_scale=20.0, end=end)
    per_unit = max((high.events - low.events) / 10.0, 1.0)
    # 3% headroom: the fit is linear, the generator's day-by-day draws are not quite.
    calendar_scale = max(1.0, 10.0 + (events * 1.03 - low.events) / per_unit)
    scale = max(1.0, messages / max(low.messages, 1))
    summary = generate(org, seed=11, managers=60, months=12, scale=scale,
                       calendar_scale=calendar_scale, end=end)
    print(f"generated {summary.messages:,} messages, {summary.events:,} events "
          f"in {time.monotonic() - started:.0f}s", flush=True)
    config.write_text(demo_config_text(
        "bench", org, state, summary.owner, list(summary.aliases), summary.timezone
    ))
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "peerpulse.worker.cli", "--config", str(config), "sync",
                    "--now", end.isoformat()], check=True)
    print(f"synced into the store in {time.monotonic() - started:.0f}s", flush=True)
    marker.write_text(json.dumps(wanted))
    return config


def phase(config: Path, which: str, now: str) -> dict[str, float]:
    """Run one measured phase in this process and return its figures."""
    from peerpulse.worker.config import load_settings
    from peerpulse.worker.pipeline import compute_for_account, read_rules
    from peerpulse.worker.store import open_store

    settings = load_settings(config)
    account = settings.accounts[0]
    moment = datetime.fromisoformat(now).replace(tzinfo=UTC)
    with open_store(settings.database_path) as store:
        rules = read_rules(settings) if which == "digest" else None
        started = time.perf_counter()
        rows = 0
        if which == "read":
            for _ in store.iter_raw_rows(account.name):
                rows += 1
        else:
            result = compute_for_account(store, settings, account, rules, now=moment)
            rows = int(sum(result.rule_counts.values()))
        elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": elapsed, "peak_mb": peak_mb, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--end", default=(date.today() - timedelta(days=1)).isoformat())
    parser.add_argument("--phase", choices=["read", "digest"], help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.config, args.phase, args.end)))
        return
    config = prepare(args.dir.resolve(), args.messages, args.events, date.fromisoformat(args.end))
    figures: dict[str, list[dict[str, float]]] = {"read": [], "digest": []}
    for _ in range(args.repeat):
        for which in ("read", "digest"):
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.digest_bench", "--phase", which,
                 "--config", str(config), "--end", args.end],
                check=True, capture_output=True, text=True,
            )
            figures[which].append(json.loads(out.stdout.strip().splitlines()[-1]))
    for which, runs in figures.items():
        secs = sorted(r["seconds"] for r in runs)
        peak = max(r["peak_mb"] for r in runs)
        print(f"{which:>6}: min {secs[0]:.2f}s  median {statistics.median(secs):.2f}s  "
              f"max {secs[-1]:.2f}s  peak RSS {peak:.0f} MB")
    ratio = statistics.median(r["seconds"] for r in figures["digest"]) / statistics.median(
        r["seconds"] for r in figures["read"]
    )
    peak = max(r["peak_mb"] for r in figures["digest"])
    print(f"digest / plain read (medians, same run): {ratio:.2f}  (goal <= 3)")
    print(f"digest peak RSS: {peak:.0f} MB  (goal < 1024 MB)")


if __name__ == "__main__":
    main()
