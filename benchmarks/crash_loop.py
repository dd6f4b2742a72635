"""Crash loop: ``peerpulse run`` killed at random moments, week after week (issue 10).

    python -m benchmarks.crash_loop [--kills 100] [--fault-kills 30] [--seed 1] [--json]

A small demo organization is delivered by SMTP to a sink on 127.0.0.1. Week
after week (``--now`` on Monday 09:30 UTC), a real ``peerpulse run`` process
is started and, until ``--kills`` SIGKILLs were delivered, killed at a
uniformly random moment between its start and 1.1 times an uninterrupted run's
length; a week ends when a run exits by itself (exit 0 or 1), as the next
hourly cron run would. ``--fault-kills`` more runs end at a random named step
(``PEERPULSE_FAULT``: after a sync batch, after render, after claim, after the
SMTP DATA, before the ledger marks it sent) so the narrow windows of the
delivery are hit too. The mailbox grows between weeks, so every week syncs.

Then the same weeks run uninterrupted on a fresh state directory and sink,
and the two are compared: the stored records must be equal; per week the sink
must hold exactly one copy of the digest, with the uninterrupted run's text; a
week with no copy must be in the ledger as ``unknown`` (reported by ``status``
and the next digest), never missing silently. Ends with 10 concurrent runs of
one more week: one sends, the others wait for the lock or exit 75.

Not part of ``make test`` (minutes of real processes): ``make crash-loop``.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.worker.smtp_sink import Sink, smtp_server

REPO = Path(__file__).resolve().parents[1]
FIRST_MONDAY = datetime.fromisoformat("2026-11-23T09:30:00+00:00")
STEPS = ("after_sync_batch:1", "after_sync_batch:2", "after_render", "after_claim",
         "after_data", "before_mark_sent")
CONCURRENT = 10


@dataclass
class Figures:
    weeks: int = 0
    runs: int = 0
    sigkills: int = 0  # the process was still running when SIGKILL hit it
    late_kills: int = 0  # the process had already exited (not counted as a kill)
    fault_kills: int = 0
    fault_steps: dict[str, int] = field(default_factory=dict)
    exits: dict[str, int] = field(default_factory=dict)
    copies_per_week: dict[str, int] = field(default_factory=dict)
    weeks_sent_once: int = 0
    weeks_duplicated: int = 0
    weeks_unknown_reported: int = 0  # no copy arrived, ledger says unknown (reported)
    weeks_lost_silently: int = 0
    weeks_text_differs: int = 0
    store_equal: bool = False
    ledger_states: dict[str, int] = field(default_factory=dict)
    concurrent_exits: dict[str, int] = field(default_factory=dict)
    concurrent_copies: int = 0
    seconds: float = 0.0


class Org:
    """The demo organization split into a starting mailbox and weekly appends."""

    def __init__(self, root: Path, weeks: int) -> None:
        from peerpulse.worker.demo import generate

        self.source = root / "source"
        generate(self.source, seed=3, managers=24, months=3, scale=2.0, end=date(2026, 11, 22))
        text = (self.source / "mail" / "dana.mbox").read_text(encoding="utf-8")
        messages = ["From " + part for part in text.split("\nFrom ") if part]
        messages[0] = messages[0][len("From "):]
        start = len(messages) * 6 // 10
        step = max(1, (len(messages) - start) // max(1, weeks))
        self.initial = "\n".join(messages[:start]) + "\n"
        self.appends = ["\n".join(messages[i:i + step]) + "\n"
                        for i in range(start, len(messages), step)]

    def config(self, root: Path, port: int) -> Path:
        """A fresh state dir and mailbox copy for one side of the comparison."""
        root.mkdir(parents=True)
        (root / "mail.mbox").write_text(self.initial, encoding="utf-8")
        config = root / "config.toml"
        config.write_text(
            (REPO / "config.example.toml").read_text()
            .replace('# state_dir = "~/.local/state/peerpulse"', f'state_dir = "{root / "state"}"')
            .replace('calendar = ["demo/calendar"]', f'calendar = ["{self.source}/calendar"]')
            .replace('mail = ["demo/mail"]', f'mail = ["{root}/mail.mbox"]')
            .replace('people = ["demo/people.csv"]', f'people = ["{self.source}/people.csv"]')
            .replace('type = "file"\ndir = "out"',
                     f'type = "smtp"\nhost = "127.0.0.1"\nport = {port}\n'
                     'security = "none"\ntimeout_seconds = 10')
        )
        if f"port = {port}" not in config.read_text():
            raise SystemExit("config.example.toml changed: the SMTP delivery was not set")
        return config

    def grow(self, root: Path, week: int) -> None:
        if week - 1 < len(self.appends) and week > 0:
            with (root / "mail.mbox").open("a", encoding="utf-8") as handle:
                handle.write(self.appends[week - 1])


def _argv(config: Path, week: int) -> list[str]:
    now = FIRST_MONDAY + timedelta(weeks=week)
    return [sys.executable, "-m", "peerpulse.worker.cli", "--config", str(config), "-q",
            "run", "--now", now.isoformat()]


def _env(fault: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PEERPULSE_FAULT"}
    if fault:
        env["PEERPULSE_FAULT"] = fault
    return env


def _timed_run(config: Path, week: int) -> float:
    started = time.monotonic()
    done = subprocess.run(_argv(config, week), cwd=REPO, env=_env(), capture_output=True,
                          text=True, timeout=300)
    if done.returncode not in (0, 1):
        raise SystemExit(f"uninterrupted run failed ({done.returncode}): {done.stderr}")
    return time.monotonic() - started


def crash_side(org: Org, root: Path, port: int, kills: int, fault_kills: int,
               rng: random.Random, figures: Figures) -> int:
    """Week after week, kill runs until the budget is spent; returns weeks done."""
    config = org.config(root, port)
    # An uninterrupted run's length for the first (big) and a later week sets the
    # range the kill moment is drawn from (on its own state and sink).
    with smtp_server(Sink()) as (_, scratch_port):
        scratch = org.config(root.with_name(root.name + "-calibrate"), scratch_port)
        long_run = _timed_run(scratch, 0)
        org.grow(scratch.parent, 1)
        short_run = _timed_run(scratch, 1)
    week = 0
    org.grow(root, 0)
    faults_left = fault_kills
    while figures.sigkills < kills or faults_left > 0:
        length = long_run if week == 0 else short_run
        fault = None
        if faults_left and (figures.sigkills >= kills or rng.random() < 0.25):
            fault = rng.choice(STEPS)
        figures.runs += 1
        process = subprocess.Popen(_argv(config, week), cwd=REPO, env=_env(fault),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if fault is None and figures.sigkills < kills:
            deadline = time.monotonic() + rng.uniform(0, 1.1 * length)
            while time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.005)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=60)
                figures.sigkills += 1
                continue
            figures.late_kills += 1
        code = process.wait(timeout=300)
        if code == 137 and fault is not None:
            faults_left -= 1
            figures.fault_kills += 1
            figures.fault_steps[fault] = figures.fault_steps.get(fault, 0) + 1
            continue
        figures.exits[str(code)] = figures.exits.get(str(code), 0) + 1
        week += 1
        org.grow(root, week)
    # The last week started may have been killed: one more run ends it.
    subprocess.run(_argv(config, week), cwd=REPO, env=_env(), capture_output=True, timeout=300)
    return week + 1


def reference_side(org: Org, root: Path, port: int, weeks: int) -> None:
    config = org.config(root, port)
    for week in range(weeks):
        org.grow(root, week)
        _timed_run(config, week)


def _records(root: Path) -> dict[str, Any]:
    db = sqlite3.connect(root / "state" / "peerpulse.sqlite3")
    try:
        return {
            "messages": sorted(db.execute("SELECT source_id, ts, sender, to_addrs FROM messages")),
            "events": sorted(db.execute("SELECT source_id, start_ts, status FROM events")),
            "people": sorted(db.execute("SELECT email, title FROM people")),
        }
    finally:
        db.close()


def _ledger(root: Path) -> dict[str, str]:
    db = sqlite3.connect(root / "state" / "peerpulse.sqlite3")
    try:
        return dict(db.execute("SELECT period, state FROM digest_ledger WHERE seq = 0"))
    finally:
        db.close()


def _by_week(sink: Sink) -> dict[str, list[str]]:
    """Per period (from the Subject's week), the text part of every copy received."""
    weeks: dict[str, list[str]] = {}
    for raw in sink.messages:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        period = str(message["X-Peerpulse-Period"] or message["Subject"])
        body = message.get_body(preferencelist=("plain",))
        weeks.setdefault(period, []).append(body.get_content() if body else "")
    return weeks


def concurrent_runs(org: Org, root: Path, port: int, week: int, sink: Sink,
                    figures: Figures) -> None:
    config = root / "config.toml"
    org.grow(root, week)
    before = len(sink.messages)
    processes = [subprocess.Popen(_argv(config, week), cwd=REPO, env=_env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(CONCURRENT)]
    codes = Counter(str(p.wait(timeout=300)) for p in processes)
    figures.concurrent_exits = dict(codes)
    figures.concurrent_copies = len(sink.messages) - before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=100, help="SIGKILLs to deliver")
    parser.add_argument("--fault-kills", type=int, default=30,
                        help="extra runs ended at a random named step")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    figures = Figures()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="peerpulse-crash-") as tmp:
        root = Path(tmp)
        org = Org(root, weeks=40)
        with smtp_server(Sink()) as (crash_sink, crash_port):
            weeks = crash_side(org, root / "crash", crash_port, args.kills, args.fault_kills,
                               rng, figures)
            crashed_mail = _by_week(crash_sink)
            crash_ledger = _ledger(root / "crash")
            crash_records = _records(root / "crash")
            concurrent_runs(org, root / "crash", crash_port, weeks, crash_sink, figures)
        with smtp_server(Sink()) as (ref_sink, ref_port):
            reference_side(org, root / "reference", ref_port, weeks)
            reference_mail = _by_week(ref_sink)
        figures.weeks = weeks
        figures.store_equal = crash_records == _records(root / "reference")
        figures.ledger_states = dict(Counter(crash_ledger.values()))
        for period in sorted(set(reference_mail) | set(crashed_mail) | set(crash_ledger)):
            copies = crashed_mail.get(period, [])
            figures.copies_per_week[period] = len(copies)
            if len(copies) == 1:
                figures.weeks_sent_once += 1
            elif len(copies) > 1:
                figures.weeks_duplicated += 1
            elif crash_ledger.get(period) == "unknown":
                figures.weeks_unknown_reported += 1
            elif period in reference_mail:
                figures.weeks_lost_silently += 1
            if copies and set(copies) != set(reference_mail.get(period, [])):
                figures.weeks_text_differs += 1
    figures.seconds = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(asdict(figures), indent=2))
    else:
        _print(figures)
    ok = (figures.store_equal and not figures.weeks_duplicated
          and not figures.weeks_lost_silently and figures.concurrent_copies <= 1)
    return 0 if ok else 1


def _print(f: Figures) -> None:
    print(f"crash loop: {f.runs} runs over {f.weeks} weeks in {f.seconds:.0f} s")
    print(f"  SIGKILLs at random moments: {f.sigkills} (runs that finished before their "
          f"kill moment: {f.late_kills})")
    steps = ", ".join(f"{k} {v}" for k, v in sorted(f.fault_steps.items()))
    print(f"  ended at a named step: {f.fault_kills} ({steps})")
    print(f"  runs that ended by themselves: {f.exits}")
    print(f"  weeks with exactly one digest: {f.weeks_sent_once}; duplicated: "
          f"{f.weeks_duplicated}; none but reported unknown: {f.weeks_unknown_reported}; "
          f"lost silently: {f.weeks_lost_silently}")
    print(f"  digest text differs from the uninterrupted run: {f.weeks_text_differs} weeks")
    print(f"  ledger states: {f.ledger_states}")
    print(f"  store equal to the uninterrupted run: {f.store_equal}")
    print(f"  {CONCURRENT} concurrent runs of one more week: exits {f.concurrent_exits}, "
          f"{f.concurrent_copies} digest(s) sent")


if __name__ == "__main__":
    sys.exit(main())
