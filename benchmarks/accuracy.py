"""Inference accuracy against the demo generator's ground truth, per variant.

    python -m benchmarks.accuracy [--seed 7] [--managers 40] [--months 6] [--scale 1]
                                  [--variant NAME ...]

Generates a demo organization (every variant by default: the standard one and
one per trap of issue 9, see ``worker.demo.variants``), reads it through the
real ``files`` connector into a real store, runs the rules engine with the
default rules, and compares with ``ground_truth.jsonl``: precision and recall
on the focal manager's peer interactions (person, record, kind) and on who
initiated them (person, record, me/them), every trap record that leaked into
an interaction (declined, cancelled, all-hands, list mail, bots, auto-replies,
invitation mails, future meetings, aliases counted as separate people...), and
the variant's checks of what the digest must and must not say
(``expectations.json``). ``tests/worker/test_accuracy.py`` asserts the same
figures. Exit status 1 when a figure is below 0.99 or a check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from benchmarks.demo_config import write_demo_config
from benchmarks.digest_checks import (
    CheckResult,
    actions_match_truth,
    evaluate,
    reciprocity_matches_truth,
)

Key = tuple[str, str, str]  # (person, natural record key, kind or "me"/"them")
THRESHOLD = 0.99


@dataclass
class Score:
    """Precision and recall of one inferred set against its ground truth."""

    truth: int
    inferred: int
    matched: int
    missed: list[Key] = field(default_factory=list)
    spurious: list[Key] = field(default_factory=list)

    @classmethod
    def of(cls, truth: set[Key], inferred: set[Key]) -> Score:
        return cls(len(truth), len(inferred), len(truth & inferred), sorted(truth - inferred),
                   sorted(inferred - truth))

    @property
    def precision(self) -> float:
        return self.matched / self.inferred if self.inferred else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0


@dataclass
class AccuracyReport:
    truth: int
    inferred: int
    matched: int
    leaked_traps: list[dict[str, str]] = field(default_factory=list)
    missed: list[Key] = field(default_factory=list)
    spurious: list[Key] = field(default_factory=list)
    unknown_people: list[str] = field(default_factory=list)
    variant: str = "standard"
    initiatives: Score = field(default_factory=lambda: Score(0, 0, 0))
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.matched / self.inferred if self.inferred else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        figures = (self.precision, self.recall, self.initiatives.precision,
                   self.initiatives.recall)
        return (min(figures) >= THRESHOLD and not self.failed_checks and not self.leaked_traps
                and not self.unknown_people)

    def summary(self) -> str:
        i = self.initiatives
        lines = [
            f"variant: {self.variant}",
            f"ground-truth peer interactions: {self.truth:,}",
            f"inferred peer interactions:     {self.inferred:,}",
            f"precision: {self.precision:.4f}   recall: {self.recall:.4f}",
            f"initiatives (who started it): {i.truth:,} true, {i.inferred:,} inferred, "
            f"precision {i.precision:.4f}   recall {i.recall:.4f}",
            f"trap records leaked into interactions: {len(self.leaked_traps)}",
            f"people not in the directory (aliases leaking as persons): {len(self.unknown_people)}",
            f"digest checks passed: {len(self.checks) - len(self.failed_checks)} of "
            f"{len(self.checks)}",
        ]
        for key in self.missed[:10]:
            lines.append(f"  missed:   {key}")
        for key in self.spurious[:10]:
            lines.append(f"  spurious: {key}")
        for key in i.missed[:5]:
            lines.append(f"  missed initiative:   {key}")
        for key in i.spurious[:5]:
            lines.append(f"  spurious initiative: {key}")
        for trap in self.leaked_traps[:10]:
            lines.append(f"  leaked:   {trap}")
        for check in self.failed_checks[:10]:
            lines.append(f"  FAILED {check.id}: {check.detail}")
        return "\n".join(lines)

    def row(self) -> str:
        i = self.initiatives
        passed = len(self.checks) - len(self.failed_checks)
        return (f"{self.variant:<24} {self.precision:9.4f} {self.recall:7.4f}   "
                f"{i.precision:9.4f} {i.recall:7.4f}   {passed:>3}/{len(self.checks):<3} "
                f"{'ok' if self.ok else 'FAIL'}")


TABLE_HEADER = (f"{'variant':<24} {'interactions':>17}   {'initiatives':>17}   checks\n"
                f"{'':<24} {'precision':>9} {'recall':>7}   {'precision':>9} {'recall':>7}")


def measure(demo: Path, workdir: Path) -> AccuracyReport:
    """Sync ``demo`` (a generated organization) into a fresh store and score the inference."""
    from peerpulse.worker.config import load_settings
    from peerpulse.worker.digest.render import render_digest
    from peerpulse.worker.pipeline import compute_for_account, read_rules
    from peerpulse.worker.store import open_store
    from peerpulse.worker.sync import sync_account

    config = workdir / "config.toml"
    meta = write_demo_config(demo, workdir / "state", config)
    rules = read_rules(load_settings(config))
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
            store, settings, account, rules, now=now, collect_interactions=True
        )

    def natural(record_id: str) -> str:
        return event_keys.get(record_id) or f"mail:{record_id.strip('<>').lower()}"

    inferred: set[Key] = {(p, natural(rid), kind) for p, rid, kind in result.interactions}
    inferred_by: set[Key] = {
        (email, natural(row[3]), "me" if row[4] else "them")
        for email in result.views for row in result.counted(email) if row[4] or row[5]
    }
    truth: set[Key] = set()
    truth_by: set[Key] = set()
    window_from = now.timestamp() - rules.model.reciprocity.window_days * 86400
    in_window: dict[str, list[int]] = {}
    traps: list[dict[str, str]] = []
    for line in (demo / "ground_truth.jsonl").read_text().splitlines():
        item = json.loads(line)
        if "trap" in item:
            traps.append(item)
            continue
        truth.add((item["person"], item["record"], item["kind"]))
        if item.get("initiated"):
            truth_by.add((item["person"], item["record"], item["initiated"]))
            when = datetime.fromisoformat(item["when"].replace("Z", "+00:00")).timestamp()
            if when >= window_from:
                in_window.setdefault(item["person"], [0, 0])[item["initiated"] == "them"] += 1
    by_record = Counter((person, record) for person, record, _ in inferred)
    records_counted = {record for _, record, _ in inferred}
    leaked = [
        t for t in traps
        if (t["person"] and (t["person"], t["record"]) in by_record)
        or (not t["person"] and t["record"] in records_counted)
    ]
    directory = {row.split(",", 1)[0] for row in (demo / "people.csv").read_text().splitlines()[1:]}
    unknown = sorted({person for person, _, _ in inferred} - directory)
    rendered = render_digest(result.digest, recipient=meta["owner"], sender=meta["owner"],
                             now=now)
    windowed = {p: (me, them) for p, (me, them) in in_window.items()}
    checks = [reciprocity_matches_truth(result.digest, windowed)]
    expected = demo / "expectations.json"
    if expected.is_file():
        spec = json.loads(expected.read_text(encoding="utf-8"))
        since = datetime.fromtimestamp(window_from, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        open_threads = {p: sum(1 for w in whens if w >= since)
                        for p, whens in spec.get("unanswered_threads", {}).items()}
        checks.append(actions_match_truth(result.digest, open_threads))
        for check in spec["checks"]:
            checks.append(evaluate(check, result, rendered.text,
                                   lambda email: email in result.views, windowed))
    return AccuracyReport(
        truth=len(truth),
        inferred=len(inferred),
        matched=len(truth & inferred),
        leaked_traps=leaked,
        missed=sorted(truth - inferred),
        spurious=sorted(inferred - truth),
        unknown_people=unknown,
        variant=meta.get("variant", "standard"),
        initiatives=Score.of(truth_by, inferred_by),
        checks=checks,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--managers", type=int, default=40)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--end", default=date.today().isoformat())
    parser.add_argument("--variant", action="append", dest="variants", metavar="NAME",
                        help="only this variant (repeatable); default: every variant")
    args = parser.parse_args()
    from peerpulse.worker.demo import generate
    from peerpulse.worker.demo.variants import VARIANTS

    names = args.variants or list(VARIANTS)
    for name in names:
        if name not in VARIANTS:
            parser.error(f"unknown variant {name!r}; one of: {', '.join(VARIANTS)}")
    reports = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix="peerpulse-accuracy-") as tmp:
            demo = Path(tmp) / "demo"
            generate(demo, seed=args.seed, managers=args.managers, months=args.months,
                     scale=args.scale, end=date.fromisoformat(args.end), variant=name)
            report = measure(demo, Path(tmp))
        reports.append(report)
        print(report.summary(), end="\n\n", flush=True)
    print(TABLE_HEADER)
    for report in reports:
        print(report.row())
    sys.exit(0 if all(r.ok for r in reports) else 1)


if __name__ == "__main__":
    main()
