"""Benchmark: what a worker's memory grows with, per manager (``make bench-org-memory``;
docs/SCALING.md, "Peak RSS per worker").

    python -m benchmarks.org_memory [--sizes 100 1000] [--concurrency 40] [--top 15]
        [--frames 8] [--no-trace]

For each size, an organization of that many managers (the demo's mailbox as each
manager's, served by the fake Google server as in ``benchmarks/org_google_bench``)
has one tick's syncs drained by one ``org worker --one-shot`` process; the worker
runs under :mod:`tracemalloc` (unless ``--no-trace``), and when its queue is empty
it writes a snapshot of what is still allocated and its traced peak. Printed per
size: the worker's peak RSS (VmHWM, read while it runs), the traced peak and the
memory still held at the end. Then the snapshots of the smallest and the largest
size are diffed by allocation site (``--frames`` deep): the sites that grew most,
and what they grew by per added manager. Run ``--no-trace`` to see the RSS without
tracemalloc's own overhead (the figures in docs/SCALING.md are from both).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from benchmarks.org_google_bench import NOW, _hwm_kb, enqueued
from benchmarks.pg_local import local_cluster

REPO = Path(__file__).resolve().parent.parent

# Runs `peerpulse` in this interpreter under tracemalloc; on the way out, dumps the
# snapshot to argv[1] and the traced (current, peak) bytes to argv[1] + ".json".
_TRACED = """
import json, sys, tracemalloc
out, frames = sys.argv[1], int(sys.argv[2])
del sys.argv[1:3]
if frames:
    tracemalloc.start(frames)
from peerpulse.worker.cli import main
try:
    code = main()
finally:
    if frames:
        import gc
        gc.collect()
        tracemalloc.take_snapshot().dump(out)
        current, peak = tracemalloc.get_traced_memory()
        with open(out + ".json", "w") as handle:
            json.dump({"current": current, "peak": peak}, handle)
raise SystemExit(code)
"""


def drain(config: Path, snapshot: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One traced one-shot worker over the deferred syncs: wall s, VmHWM, traced bytes."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _TRACED, str(snapshot), str(0 if args.no_trace else args.frames),
         "--config", str(config), "org", "worker", "--one-shot", "--concurrency",
         str(args.concurrency), "--now", NOW, "--tick-cron", "0 0 1 1 *", "--queues", "sync"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _hwm_kb(proc.pid))
        time.sleep(0.2)
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode:
        raise SystemExit(f"the worker failed ({proc.returncode}): {err[-2000:]}")
    out: dict[str, Any] = {"wall_s": round(time.perf_counter() - started, 1),
                           "peak_rss_mb": round(peak / 1024, 1)}
    traced = Path(str(snapshot) + ".json")
    if traced.exists():
        figures = json.loads(traced.read_text())
        out["traced_peak_mb"] = round(figures["peak"] / 2**20, 1)
        out["traced_at_end_mb"] = round(figures["current"] / 2**20, 1)
    return out


def one_size(cluster: Any, template: Any, managers: int, root: Path,
             args: argparse.Namespace) -> tuple[dict[str, Any], Path]:
    run = root / f"n{managers}"
    with enqueued(template, managers, run, cluster.new_database(), args) as (_fake, config):
        snapshot = run / "worker.snapshot"
        result = {"managers": managers, **drain(config, snapshot, args)}
    print(json.dumps(result), flush=True)
    return result, snapshot


def diff(small: tuple[int, Path], large: tuple[int, Path], top: int) -> list[dict[str, Any]]:
    """The allocation sites that grew most from the small to the large run."""
    (n_small, path_small), (n_large, path_large) = small, large
    keep = [tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap*>")]
    before = tracemalloc.Snapshot.load(str(path_small)).filter_traces(keep)
    after = tracemalloc.Snapshot.load(str(path_large)).filter_traces(keep)
    added = n_large - n_small
    rows = []
    for stat in after.compare_to(before, "traceback")[:top]:
        # the allocating frame first, then its callers
        frames = [f"{f.filename.replace(str(REPO) + '/', '')}:{f.lineno}"
                  for f in reversed(stat.traceback[-6:])]
        rows.append({"grew_kb": round(stat.size_diff / 1024, 1),
                     "bytes_per_manager": round(stat.size_diff / added),
                     "blocks_per_manager": round(stat.count_diff / added, 2),
                     "where": frames})
    total = (sum(s.size for s in after.statistics("filename"))
             - sum(s.size for s in before.statistics("filename")))
    rows.insert(0, {"total_grew_mb": round(total / 2**20, 2),
                    "total_bytes_per_manager": round(total / added)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--concurrency", type=int, default=40, help="jobs per worker")
    parser.add_argument("--pool-size", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--window-days", type=int, default=3)
    parser.add_argument("--frames", type=int, default=8, help="traceback depth traced")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--no-trace", action="store_true", help="RSS only, no tracemalloc")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from tests.connectors.google.fake_org import read_demo

    with local_cluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run([sys.executable, "-c",
                        "from peerpulse.worker.cli import main; raise SystemExit(main())",
                        "demo", "--out", str(root / "demo"), "--end", "2026-11-22",
                        "--managers", "22", "--months", "2"], check=True,
                       stdout=subprocess.DEVNULL)
        meta = json.loads((root / "demo" / "demo.json").read_text())
        template = read_demo(root / "demo", meta)
        runs = [one_size(cluster, template, n, root, args) for n in args.sizes]
        summary: dict[str, Any] = {"runs": [r for r, _ in runs]}
        (small, large) = runs[0], runs[-1]
        if len(runs) > 1:
            added = large[0]["managers"] - small[0]["managers"]
            summary["rss_bytes_per_added_manager"] = round(
                (large[0]["peak_rss_mb"] - small[0]["peak_rss_mb"]) * 2**20 / added)
            if not args.no_trace:
                summary["grew"] = diff((small[0]["managers"], small[1]),
                                       (large[0]["managers"], large[1]), args.top)
    summary["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
