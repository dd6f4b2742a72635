"""Benchmark: computing the digest vs one read of the rows a full digest scans.

    python -m benchmarks.digest_bench [--messages 1000000] [--events 100000] [--repeat 3]
    python -m benchmarks.digest_bench --quick      # ~100k messages, a couple of minutes
    python -m benchmarks.digest_bench --carried    # checkpoint carried by daily runs
    python -m benchmarks.digest_bench --quick --aged   # records age out of the window
    python -m benchmarks.digest_bench --both       # weekly and carried, alternated

Fills a store from the demo generator (real ICS and mbox files read through the
``files`` connector), then times, alternately in fresh subprocesses so that
none warms the others' caches more than the OS page cache does for all:

- ``floor``: the same rows scanned inside SQLite, every column touched, nothing
  handed to Python (``SqliteStore.scan_floor``);
- ``read``: the digest's own queries (same columns, same filter, same order as
  ``iter_events`` + ``iter_messages``), rows fetched into Python and discarded;
- ``full``: ``worker.pipeline.compute_for_account(raw=True)``: the digest from
  every raw record (decode, infer, score, recommend), as before issue 14;
- ``digest``: what ``peerpulse digest`` runs: the same digest resumed from the
  inference checkpoint the previous week's digest kept (``worker/checkpoint.py``;
  made once before the timings by a digest 7 days earlier, whose second state,
  kept at its own time, is what a digest a week later resumes: the records read
  are the ~7 days since; without it, the ~10 days after its first horizon).
  Opened read-only, so every repeat resumes the same checkpoint, whose size is
  printed. With ``--carried`` that checkpoint
  is then carried forward by 6 daily runs that send no digest
  (``pipeline.carry_checkpoint``), so the records read are the last ~4 days.
  With ``--both``, both checkpoints are made and each round times the digest
  resumed from each (``digest`` the weekly one, ``carried`` the other), put in
  place before its run through the store's own checkpoint calls: the two cases
  side by side on one store, in one run.

With ``--aged`` the store spans more than ``retention_days`` (300 days over the
demo's 12 months, on a copy of the store): the week between last week's digest
and this one moves the window's start, and the records that left it are purged
as a sync does. ``fallback`` is the digest as it was before the re-base (every
record read, ``rules.rebase`` switched off); ``digest`` re-bases the checkpoint
past them (``worker/checkpoint.py``) and resumes it. Both must give the same
digest (interactions, peer of the week, reconnect), checked on every run.

The digest must be non-trivial: every run checks that it names a peer of the
week and someone to reconnect with, and that its interaction count equals the
generator's ground truth (``ground_truth.jsonl``); a mismatch stops the benchmark.

Prints each phase's min/median/max wall time, median CPU time and peak RSS, the
ratios of the medians (wall, then CPU: on a loaded machine wall time measures the
load as well), and as its last line ``ratio: X`` (digest median ÷ read median; ``full /
read`` is the same ratio for the digest from every raw record). Ratios
measured side by side in one run are what to compare across machines; absolute
seconds are not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.demo_config import demo_config_text

DEFAULT_DIR = Path("bench-out/digest")
PHASES = ("floor", "read", "full", "digest")
AGED_PHASES = ("floor", "read", "fallback", "digest")
AGED_RETENTION_DAYS = 300


def sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


def prepare(workdir: Path, messages: int, events: int, end: date) -> Path:
    """Generate the organization and sync it into a store; reuse it if present."""
    from peerpulse.worker.demo import generate

    org = workdir / "org"
    state = workdir / "state"
    config = workdir / "config.toml"
    marker = workdir / "prepared.json"
    wanted = {"messages": messages, "events": events, "end": end.isoformat()}
    if marker.is_file() and json.loads(marker.read_text()).get("wanted") == wanted:
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
    truth = sum(1 for line in summary.ground_truth_path.open(encoding="utf-8")
                if '"trap"' not in line)
    meta = json.loads(summary.meta_path.read_text())
    marker.write_text(json.dumps({"wanted": wanted, "truth_interactions": truth,
                                  "now": meta["now"]}))
    return config


def prepared(workdir: Path) -> dict[str, object]:
    """What ``prepare`` recorded: the ground truth's interaction count and ``now``."""
    data: dict[str, object] = json.loads((workdir / "prepared.json").read_text())
    return data


def phase(config: Path, which: str, now: str) -> dict[str, object]:
    """Run one measured phase in this process and return its figures."""
    from peerpulse.worker.config import load_settings
    from peerpulse.worker.pipeline import compute_for_account, read_rules
    from peerpulse.worker.store import open_store

    settings = load_settings(config)
    account = settings.accounts[0]
    moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    since = moment - timedelta(days=settings.privacy.retention_days)
    figures: dict[str, object] = {}
    with open_store(settings.database_path, read_only=True) as store:
        rules = read_rules(settings) if which in ("digest", "full", "fallback") else None
        if which == "fallback":  # the digest before the re-base: every record read
            from peerpulse.worker import checkpoint as planning

            planning.rebased = lambda *_a, **_k: (None, "off for the benchmark")  # type: ignore[assignment]
        started, cpu_started = time.perf_counter(), time.process_time()
        rows = 0
        if which == "floor":
            rows = store.scan_floor(account.name, since)  # type: ignore[attr-defined]
        elif which == "read":
            for _ in store.iter_raw_rows(account.name, since):
                rows += 1
        else:
            result = compute_for_account(store, settings, account, rules, now=moment,
                                         raw=which == "full")
            if which == "digest" and not result.resumed:
                raise SystemExit("digest benchmark: no usable checkpoint (see checkpoint()): "
                                 f"{result.rebase}")
            if which == "fallback" and result.resumed:
                raise SystemExit("digest benchmark: the fallback resumed a checkpoint")
            figures["rebase"] = result.rebase
            if result.resumed_from is not None:  # how far back the records read start
                figures["tail_days"] = round((moment.timestamp() - result.resumed_from)
                                             / 86400, 2)
            digest = result.digest
            rows = int(digest.stats["events_read"]) + int(digest.stats["messages_read"])
            figures.update(
                peer_of_the_week=digest.peer_of_the_week.person.email
                if digest.peer_of_the_week else None,
                reconnect=len(digest.reconnect),
                interactions=int(digest.stats["interactions"]),
            )
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    peak_mb = peak_rss_mb()
    figures.update(seconds=elapsed, cpu=cpu, peak_mb=peak_mb, rows=rows)
    return figures


def peak_rss_mb() -> float:
    """This process's peak RSS. On Linux ``ru_maxrss`` survives ``execve``, so a phase
    would report its parent's peak (the benchmark's own checkpoint digest over every
    record); ``VmHWM`` belongs to the process image, so it is read first."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def aged_config(workdir: Path, config: Path) -> Path:
    """A copy of the store, read with a retention shorter than the demo's year."""
    import shutil

    from peerpulse.worker.config import load_settings

    settings = load_settings(config)
    state = workdir / "aged-state"
    shutil.rmtree(state, ignore_errors=True)
    shutil.copytree(settings.state_dir, state)
    text = config.read_text()
    assert "retention_days = 3650" in text and str(settings.state_dir) in text
    aged = workdir / "config-aged.toml"
    aged.write_text(text.replace("retention_days = 3650",
                                 f"retention_days = {AGED_RETENTION_DAYS}")
                    .replace(str(settings.state_dir), str(state.resolve())))
    return aged


def aged_weeks(config: Path, now: str, weeks: int) -> None:
    """How often the re-base holds: ``weeks`` more weekly digests on the aged copy,
    each after the purge its week's syncs make; prints each outcome."""
    from collections import Counter

    from peerpulse.worker.config import load_settings
    from peerpulse.worker.pipeline import compute_for_account, read_rules
    from peerpulse.worker.store import open_store

    settings = load_settings(config)
    moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    account, rules = settings.accounts[0], read_rules(settings)
    outcomes: Counter[str] = Counter()
    with open_store(settings.database_path) as store:
        compute_for_account(store, settings, account, rules, now=moment)  # a writer's
        for week in range(1, weeks + 1):
            at = moment + timedelta(days=7 * week)
            store.purge_before(account.name, at - timedelta(days=settings.privacy.retention_days))
            result = compute_for_account(store, settings, account, rules, now=at)
            outcomes[result.rebase or "nothing left the window"] += 1
    print(f"re-base over {weeks} more weekly digests (records purged between them): "
          + ", ".join(f"{n} {what}" for what, n in outcomes.most_common()))


def checkpoint(config: Path, now: str, carried: bool = False, aged: bool = False) -> None:
    """Keep the checkpoint last week's digest would have kept (a writer, 7 days before);
    with ``carried``, then carry it forward as the daily runs between the two digests
    would (``pipeline.carry_checkpoint``, 6 days to 1 day before), timing each carry.
    A checkpoint already stored is dropped first, so that one run after another (or
    after ``--both``) starts from the same place."""
    from peerpulse.worker.config import load_settings
    from peerpulse.worker.pipeline import carry_checkpoint, compute_for_account, read_rules
    from peerpulse.worker.store import open_store

    settings = load_settings(config)
    moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    account, rules = settings.accounts[0], read_rules(settings)
    with open_store(settings.database_path) as store:
        put_checkpoint(store, account.name, None)
        compute_for_account(store, settings, account, rules, now=moment - timedelta(days=7))
        if aged:  # the week's syncs purge what left the window, as `peerpulse run` does
            cutoff = moment - timedelta(days=settings.privacy.retention_days)
            purged = store.purge_before(account.name, cutoff)
            print(f"purged before {cutoff:%Y-%m-%d}: {purged['events']:,} events, "
                  f"{purged['messages']:,} messages left the window")
            if not purged["events"] + purged["messages"]:
                raise SystemExit("digest benchmark: no record left the window")
        if not carried:
            return
        spent = []
        for days in range(6, 0, -1):
            started = time.perf_counter()
            if not carry_checkpoint(store, settings, account, rules,
                                    now=moment - timedelta(days=days)):
                raise SystemExit("digest benchmark: the checkpoint was not carried")
            spent.append(time.perf_counter() - started)
    print(f"checkpoint carried by 6 daily runs: {min(spent):.3f}-{max(spent):.3f}s each")


def put_checkpoint(store: Any, account: str, kept: Any) -> None:
    """Store ``kept`` (a ``DigestCheckpoint`` read earlier, or None: no checkpoint) as
    the account's checkpoint, through the calls a digest writer makes."""
    from peerpulse.worker.store.rows import DigestCheckpoint

    generation = store.begin_digest_checkpoint(account)
    if kept is None:
        kept = DigestCheckpoint(None, None, None, None, generation, None)
    if not store.save_digest_checkpoint(account, kept, generation):
        raise SystemExit("digest benchmark: could not put the checkpoint in place")


def both_checkpoints(config: Path, now: str) -> tuple[Any, Any]:
    """The weekly checkpoint and the carried one (``checkpoint``), as stored."""
    from peerpulse.worker.config import load_settings
    from peerpulse.worker.store import open_store

    settings = load_settings(config)
    name = settings.accounts[0].name
    kept = []
    for carried in (False, True):
        checkpoint(config, now, carried)
        with open_store(settings.database_path, read_only=True) as store:
            kept.append(store.digest_checkpoint(name))
    return kept[0], kept[1]


def use_checkpoint(config: Path, kept: Any) -> None:
    from peerpulse.worker.config import load_settings
    from peerpulse.worker.store import open_store

    settings = load_settings(config)
    with open_store(settings.database_path) as store:
        put_checkpoint(store, settings.accounts[0].name, kept)


def checkpoint_bytes(config: Path) -> int:
    """Size of the stored checkpoint the timed digests resume."""
    from peerpulse.worker.config import load_settings
    from peerpulse.worker.store import open_store

    settings = load_settings(config)
    with open_store(settings.database_path, read_only=True) as store:
        found = store.digest_checkpoint(settings.accounts[0].name)
    return len(found.state or b"") + len(found.ahead_state or b"") if found else 0


def check_digest(run: dict[str, object], truth_interactions: int) -> None:
    """Stop the benchmark if the digest measured was trivial or wrong: timing an
    empty digest would flatter any optimisation."""
    problems = []
    if not run.get("peer_of_the_week"):
        problems.append("no peer of the week")
    if not run.get("reconnect"):
        problems.append("nobody to reconnect with")
    if run.get("interactions") != truth_interactions:
        problems.append(f"{run.get('interactions')} interactions, ground truth has "
                        f"{truth_interactions}")
    if problems:
        raise SystemExit("digest benchmark: the digest is not the expected one: "
                         + "; ".join(problems))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="about 100k messages and 10k events (a couple of minutes)")
    parser.add_argument("--carried", action="store_true",
                        help="the digest resumes a checkpoint carried forward by daily runs")
    parser.add_argument("--aged", action="store_true",
                        help=f"a {AGED_RETENTION_DAYS}-day retention: records leave the "
                        "window between the checkpoint and the digest")
    parser.add_argument("--both", action="store_true",
                        help="the weekly and the carried checkpoint, alternated in one run")
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--end", default=(date.today() - timedelta(days=1)).isoformat())
    parser.add_argument("--phase", choices=PHASES + ("fallback",), help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.config, args.phase, args.now)))
        return
    if args.quick:
        args.messages, args.events = 100_000, 10_000
    workdir = (args.dir or DEFAULT_DIR.with_name(
        "digest-quick" if args.quick else DEFAULT_DIR.name)).resolve()
    config = prepare(workdir, args.messages, args.events, date.fromisoformat(args.end))
    facts = prepared(workdir)
    truth = int(facts["truth_interactions"])  # type: ignore[call-overload]
    if args.aged and (args.both or args.carried):
        raise SystemExit("digest benchmark: --aged times its own pair (fallback, re-based); "
                         "run --both or --carried without it")
    if args.aged:
        config = aged_config(workdir, config)
    kept: dict[str, Any] = {}
    if args.both:
        kept["digest"], kept["carried"] = both_checkpoints(config, str(facts["now"]))
    else:
        checkpoint(config, str(facts["now"]), args.carried, args.aged)
    timed = AGED_PHASES if args.aged else (*PHASES, "carried") if args.both else PHASES
    figures: dict[str, list[dict[str, object]]] = {which: [] for which in timed}
    for _ in range(args.repeat):
        for which in timed:
            if which in kept:
                use_checkpoint(config, kept[which])
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.digest_bench", "--phase",
                 "digest" if which == "carried" else which,
                 "--config", str(config), "--now", str(facts["now"])],
                check=True, capture_output=True, text=True,
            )
            run = json.loads(out.stdout.strip().splitlines()[-1])
            if args.aged and which == "digest":
                fallback = figures["fallback"][-1]
                if run.get("rebase") != "rebased" or any(
                        run[k] != fallback[k] for k in ("peer_of_the_week", "reconnect",
                                                        "interactions")):
                    raise SystemExit(f"digest benchmark: re-based {run} vs full {fallback}")
            elif which in ("digest", "full", "carried"):
                check_digest(run, truth)
            figures[which].append(run)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, SQLite {sqlite_version()}")
    rows = figures["read"][0]["rows"]
    if args.aged:
        print(f"rows a full digest reads: {rows:,} ({AGED_RETENTION_DAYS}-day window); "
              f"interactions: {figures['digest'][0]['interactions']:,} (re-based digest "
              "agrees with the full read)")
    else:
        print(f"rows a full digest reads: {rows:,}; ground-truth interactions: {truth:,} "
              f"(digest agrees)")
    if args.both:
        sizes = {k: len(v.state or b"") + len(v.ahead_state or b"") for k, v in kept.items()}
        print(f"checkpoints stored (both states): weekly {sizes['digest']:,} bytes, "
              f"carried {sizes['carried']:,} bytes")
    else:
        print(f"checkpoint resumed: {checkpoint_bytes(config):,} bytes")
    medians, cpu_medians = {}, {}
    for which, runs in figures.items():
        cpu_medians[which] = statistics.median(float(r["cpu"]) for r in runs)  # type: ignore[arg-type]
        secs = sorted(float(r["seconds"]) for r in runs)  # type: ignore[arg-type]
        peak = max(float(r["peak_mb"]) for r in runs)  # type: ignore[arg-type]
        medians[which] = statistics.median(secs)
        tail = runs[0].get("tail_days")
        print(f"{which:>6}: min {secs[0]:.3f}s  median {medians[which]:.3f}s  "
              f"max {secs[-1]:.3f}s  CPU median {cpu_medians[which]:.3f}s  "
              f"peak RSS {peak:.0f} MB"
              + (f"  (records of the last {tail} days read)" if tail is not None else ""))
    print(f"read / floor: {medians['read'] / medians['floor']:.2f}")
    print(f"digest / floor: {medians['digest'] / medians['floor']:.2f}")
    if args.aged:
        print(f"fallback / read (records left the window: every record read, before the "
              f"re-base): {medians['fallback'] / medians['read']:.3f}")
    else:
        print(f"full / read (every raw record, as before): "
              f"{medians['full'] / medians['read']:.3f}")
    if args.both:
        print(f"carried / read (checkpoint carried by daily runs): "
              f"{medians['carried'] / medians['read']:.3f}")
    # On a loaded machine wall time measures the others' load too; CPU time does less.
    cpu_ratios = [f"{which} {cpu_medians[which] / cpu_medians['read']:.3f}"
                  for which in timed if which not in ("floor", "read")]
    print("CPU-time medians / read's: " + ", ".join(cpu_ratios))
    if args.aged:
        aged_weeks(config, str(facts["now"]), 8)
    print(f"ratio: {medians['digest'] / medians['read']:.3f}")


if __name__ == "__main__":
    main()
