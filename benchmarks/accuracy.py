"""Inference accuracy against the demo generator's ground truth.

    python -m benchmarks.accuracy [--seed 7] [--managers 40] [--months 6] [--scale 1]

Generates a demo organization, reads it through the real ``files`` connector
into a real store, runs the rules engine with the default rules, and compares
the focal manager's inferred peer interactions with ``ground_truth.jsonl``:
precision and recall on (person, record, kind), and every trap record that
leaked into an interaction (declined, cancelled, all-hands, list mail, bots,
auto-replies, invitation mails, future meetings, aliases counted as separate
people...). ``tests/worker/test_accuracy.py`` asserts the same figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from benchmarks.demo_config import demo_config_text

Key = tuple[str, str, str]  # (person, natural record key, kind)


@dataclass
class AccuracyReport:
    truth: int
    inferred: int
    matched: int
    leaked_traps: list[dict[str, str]] = field(default_factory=list)
    missed: list[Key] = field(default_factory=list)
    spurious: list[Key] = field(default_factory=list)
    unknown_people: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.matched / self.inferred if self.inferred else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0

    def summary(self) -> str:
        lines = [
            f"ground-truth peer interactions: {self.truth:,}",
            f"inferred peer interactions:     {self.inferred:,}",
            f"precision: {self.precision:.4f}   recall: {self.recall:.4f}",
            f"trap records leaked into interactions: {len(self.leaked_traps)}",
            f"people not in the directory (aliases leaking as persons): {len(self.unknown_people)}",
        ]
        for key in self.missed[:10]:
            lines.append(f"  missed:   {key}")
        for key in self.spurious[:10]:
            lines.append(f"  spurious: {key}")
        for trap in self.leaked_traps[:10]:
            lines.append(f"  leaked:   {trap}")
        return "\n".join(lines)


def measure(demo: Path, workdir: Path) -> AccuracyReport:
    """Sync ``demo`` (a generated organization) into a fresh store and score the inference."""
    from peerpulse.worker.config import load_settings
    from peerpulse.worker.pipeline import compute_for_account, read_rules
    from peerpulse.worker.store import open_store
    from peerpulse.worker.sync import sync_account

    meta = json.loads((demo / "demo.json").read_text())
    config = workdir / "config.toml"
    config.write_text(demo_config_text(
        "demo", demo.resolve(), (workdir / "state").resolve(), meta["owner"], meta["aliases"],
        meta["timezone"],
    ))
    settings = load_settings(config)
    account = settings.accounts[0]
    now = datetime.fromisoformat(meta["now"].replace("Z", "+00:00"))
    with open_store(settings.database_path) as store:
        report = sync_account(store, settings, account, now=now)
        if not report.ok:
            raise RuntimeError(f"sync failed: {report}")
        event_keys = {
            e.source_id: f"event:{e.series_id}@{e.start.strftime('%Y-%m-%dT%H:%M:%SZ')}"
            for e in store.iter_events(account.name)
        }
        result = compute_for_account(
            store, settings, account, read_rules(settings), now=now, collect_interactions=True
        )
    inferred: set[Key] = set()
    for person, record_id, kind in result.interactions:
        natural = event_keys.get(record_id) or f"mail:{record_id.strip('<>').lower()}"
        inferred.add((person, natural, kind))
    truth: set[Key] = set()
    traps: list[dict[str, str]] = []
    for line in (demo / "ground_truth.jsonl").read_text().splitlines():
        item = json.loads(line)
        if "trap" in item:
            traps.append(item)
        else:
            truth.add((item["person"], item["record"], item["kind"]))
    by_record = Counter((person, record) for person, record, _ in inferred)
    records_counted = {record for _, record, _ in inferred}
    leaked = [
        t for t in traps
        if (t["person"] and (t["person"], t["record"]) in by_record)
        or (not t["person"] and t["record"] in records_counted)
    ]
    directory = {row.split(",", 1)[0] for row in (demo / "people.csv").read_text().splitlines()[1:]}
    unknown = sorted({person for person, _, _ in inferred} - directory)
    return AccuracyReport(
        truth=len(truth),
        inferred=len(inferred),
        matched=len(truth & inferred),
        leaked_traps=leaked,
        missed=sorted(truth - inferred),
        spurious=sorted(inferred - truth),
        unknown_people=unknown,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--managers", type=int, default=40)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--end", default=date.today().isoformat())
    args = parser.parse_args()
    from peerpulse.worker.demo import generate

    with tempfile.TemporaryDirectory(prefix="peerpulse-accuracy-") as tmp:
        demo = Path(tmp) / "demo"
        generate(demo, seed=args.seed, managers=args.managers, months=args.months,
                 scale=args.scale, end=date.fromisoformat(args.end))
        print(measure(demo, Path(tmp)).summary())


if __name__ == "__main__":
    main()
