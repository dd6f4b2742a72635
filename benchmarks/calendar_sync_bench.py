"""Benchmark: the next day's sync of an unchanged calendar vs its full sync.

    python -m benchmarks.calendar_sync_bench [--events 10000] [--repeat 3]

Generates the demo organization's calendar (one ICS export, about ``--events``
occurrences over a year, recurring series included) and times, alternately in
fresh subprocesses:

- ``full``: the ``files`` calendar source synced into an empty store (parse,
  expand, write);
- ``nextday``: the same file synced the next day into a store the full sync of
  the previous day left (copied from a template for each run), so the window
  moved by one day and nothing else changed (issue 14, item 3);
- ``changed``: the same day, the file with 1% of its VEVENTs edited (their
  SUMMARY), synced into that store.

Prints min/median/max wall time of each, ``changed / full`` (goal ≤ 0.1) and,
as its last line, ``ratio: X`` (next-day median ÷ full median; goal ≤ 0.05).
Ratios measured side by side in one run are what to compare across machines;
absolute seconds are not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

DEFAULT_DIR = Path("bench-out/calendar")
PHASES = ("full", "nextday", "changed")
CHANGED_SHARE = 0.01
TIMEZONE = "America/New_York"


def prepare(workdir: Path, events: int, end: date) -> tuple[Path, datetime]:
    """The calendar file and the moment of its full sync; reused when present."""
    from peerpulse.worker.demo import generate

    marker = workdir / "prepared.json"
    wanted = {"events": events, "end": end.isoformat(), "v": 2}
    calendar = workdir / "cal" / "dana.ics"
    now = datetime.combine(end, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
    if marker.is_file() and json.loads(marker.read_text()).get("wanted") == wanted:
        return calendar, now
    workdir.mkdir(parents=True, exist_ok=True)
    low = generate(workdir / "probe", seed=11, managers=60, months=12, scale=0.01,
                   calendar_scale=10.0, end=end)
    high = generate(workdir / "probe", seed=11, managers=60, months=12, scale=0.01,
                    calendar_scale=20.0, end=end)
    per_unit = max((high.events - low.events) / 10.0, 1.0)
    scale = max(1.0, 10.0 + (events - low.events) / per_unit)
    summary = generate(workdir / "org", seed=11, managers=60, months=12, scale=0.01,
                       calendar_scale=scale, end=end)
    print(f"generated {summary.events:,} occurrences ({summary.vevents:,} VEVENTs)", flush=True)
    data = summary.calendar_path.read_bytes()
    calendar.parent.mkdir(exist_ok=True)
    (workdir / "original.ics").write_bytes(data)
    shutil.copy2(workdir / "original.ics", calendar)  # same mtime: an unchanged file
    parts = data.split(b"BEGIN:VEVENT")
    step = round(1 / CHANGED_SHARE)
    for n in range(1, len(parts), step):
        parts[n] = parts[n].replace(b"SUMMARY:", b"SUMMARY:changed ", 1)
    (workdir / "changed.ics").write_bytes(b"BEGIN:VEVENT".join(parts))
    template = workdir / "template.sqlite3"
    template.unlink(missing_ok=True)
    sync_once(calendar, template, now)
    marker.write_text(json.dumps({"wanted": wanted}))
    return calendar, now


def sync_once(calendar: Path, database: Path, now: datetime) -> int:
    """Sync the calendar source at ``now`` into ``database``; events upserted."""
    from peerpulse.connectors.base import SourceContext
    from peerpulse.connectors.files.connector import FilesConnector
    from peerpulse.connectors.files.settings import FilesSettings
    from peerpulse.worker.store import open_store
    from peerpulse.worker.sync import store_state

    upserted = 0
    with open_store(database) as store:
        context = SourceContext(
            account="bench", owner_addresses=frozenset(), timezone=TIMEZONE,
            base_dir=str(calendar.parent), now=now,
            committed_state=store_state(store, "bench"),
        )
        settings = FilesSettings(calendar=[str(calendar)], window_past_days=400,
                                 window_future_days=60)
        (source,) = FilesConnector(context, settings).sources()
        for batch in source.sync(store.cursor("bench", source.name)):
            upserted += store.apply_batch("bench", source.name, batch).upserted
    return upserted


def phase(workdir: Path, calendar: Path, which: str, now: datetime) -> dict[str, float]:
    database = workdir / f"run-{which}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copy2(workdir / "original.ics", calendar)
    if which in ("nextday", "changed"):
        shutil.copyfile(workdir / "template.sqlite3", database)
    if which == "nextday":
        now += timedelta(days=1)
    if which == "changed":
        shutil.copyfile(workdir / "changed.ics", calendar)
    import peerpulse.connectors.files.connector  # noqa: F401 (imports are not the sync)
    import peerpulse.worker.sync  # noqa: F401

    started = time.perf_counter()
    upserted = sync_once(calendar, database, now)
    return {"seconds": time.perf_counter() - started, "upserted": upserted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--end", default=(date.today() - timedelta(days=1)).isoformat())
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    workdir = args.dir.resolve()
    calendar, now = prepare(workdir, args.events, date.fromisoformat(args.end))
    if args.phase:
        print(json.dumps(phase(workdir, calendar, args.phase, now)))
        return
    figures: dict[str, list[dict[str, float]]] = {which: [] for which in PHASES}
    for _ in range(args.repeat):
        for which in PHASES:
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.calendar_sync_bench", "--phase", which,
                 "--dir", str(workdir), "--events", str(args.events), "--end", args.end],
                check=True, capture_output=True, text=True,
            )
            figures[which].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    medians = {}
    for which, runs in figures.items():
        secs = sorted(r["seconds"] for r in runs)
        medians[which] = statistics.median(secs)
        print(f"{which:>8}: min {secs[0]:.3f}s  median {medians[which]:.3f}s  "
              f"max {secs[-1]:.3f}s  events upserted {int(runs[0]['upserted']):,}")
    print(f"changed / full: {medians['changed'] / medians['full']:.3f}  (goal <= 0.1)")
    print(f"ratio: {medians['nextday'] / medians['full']:.3f}")


if __name__ == "__main__":
    main()
