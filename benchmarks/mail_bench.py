"""Benchmark: the files connector's mail path vs the standard library, and 1% new mail.

    python -m benchmarks.mail_bench [--messages 100000] [--repeat 3]

Generates the demo organization's mbox (about ``--messages`` messages) and
times, alternately in fresh subprocesses:

- ``stdlib``: ``mailbox.mbox`` + ``BytesHeaderParser(policy=compat32)`` over each
  message, with ``getaddresses`` on From/To/Cc/Bcc/Delivered-To and ``parsedate_tz``
  on Date, and every other field the records read (Sender, Takeout's X-GM-THRID
  and X-Gmail-Labels included) fetched once as a raw string (the baseline of
  issue 14, item 2: no encoded-word decoding, no Message-ID parsing);
- ``records``: ``connectors.files.mail.mbox_items``, the connector's own scanner
  and header decoding up to finished records;
- ``full``: the mail source synced into an empty store;
- ``incremental``: the same store holding the first 99% of the mbox, synced
  after the last 1% was appended (only the new tail is read).

Both syncs run with a digest checkpoint kept for the account (issue 14, item 1), so
the store's triggers mark it on every record written, as in a store that has sent
a digest. ``--compare-marking`` adds ``full-unmarked`` and ``incremental-unmarked``:
the same syncs with the checkpoint triggers dropped, to price the marking per row.

Prints min/median/max of each and two ratios: ``records / stdlib`` (goal ≤ 0.5)
and ``incremental / (1% of full)`` (goal ≤ 2). Ratios measured side by side in
one run are what to compare across machines; absolute seconds are not.
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

DEFAULT_DIR = Path("bench-out/mail")
PHASES = ("stdlib", "records", "full", "incremental")
UNMARKED = ("full-unmarked", "incremental-unmarked")
NEW_SHARE = 0.01


def prepare(workdir: Path, messages: int, end: date) -> Path:
    """The mbox, its 99% prefix and the store synced on that prefix; reused."""
    from peerpulse.worker.demo import generate

    marker = workdir / "prepared.json"
    wanted = {"messages": messages, "end": end.isoformat()}
    mbox = workdir / "org" / "mail" / "dana.mbox"
    if marker.is_file() and json.loads(marker.read_text()).get("wanted") == wanted:
        return mbox
    workdir.mkdir(parents=True, exist_ok=True)
    probe = generate(workdir / "probe", seed=11, managers=60, months=12, scale=1.0,
                     calendar_scale=1.0, end=end)
    summary = generate(workdir / "org", seed=11, managers=60, months=12,
                       scale=max(0.01, messages / max(probe.messages, 1)),
                       calendar_scale=1.0, end=end)
    print(f"generated {summary.messages:,} messages", flush=True)
    data = mbox.read_bytes()
    cut = data.find(b"\nFrom ", int(len(data) * (1 - NEW_SHARE))) + 1
    (workdir / "prefix.mbox").write_bytes(data[:cut])
    (workdir / "tail.mbox").write_bytes(data[cut:])
    inbox = workdir / "inc" / "mail.mbox"
    inbox.parent.mkdir(exist_ok=True)
    shutil.copyfile(workdir / "prefix.mbox", inbox)
    template = workdir / "template.sqlite3"
    template.unlink(missing_ok=True)
    sync_once(inbox, template)
    marker.write_text(json.dumps({"wanted": wanted}))
    return mbox


def sync_once(mbox: Path, database: Path, *, marked: bool = True) -> int:
    from peerpulse.connectors.base import SourceContext
    from peerpulse.connectors.files.connector import FilesConnector
    from peerpulse.connectors.files.settings import FilesSettings
    from peerpulse.worker.store import open_store
    from peerpulse.worker.sync import store_state

    upserted = 0
    with open_store(database) as store:
        if marked:
            store.begin_digest_checkpoint("bench")  # as after a digest: writes mark it
        else:
            _drop_checkpoint_triggers(database)
        context = SourceContext(
            account="bench", owner_addresses=frozenset({"dana@example.com"}), timezone="UTC",
            base_dir=str(mbox.parent), now=datetime.now(UTC),
            committed_state=store_state(store, "bench"),
        )
        (source,) = FilesConnector(context, FilesSettings(mail=[mbox.name])).sources()
        for batch in source.sync(store.cursor("bench", source.name)):
            upserted += store.apply_batch("bench", source.name, batch).upserted
    return upserted


def _drop_checkpoint_triggers(database: Path) -> None:
    import sqlite3

    with sqlite3.connect(database) as db:
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%checkpoint%'"
        ).fetchall():
            db.execute(f"DROP TRIGGER {name}")


# Every other field a record reads (connectors.files.mail._WANTED), read once and left
# as the raw string: the baseline decodes no encoded words and parses no ids.
STDLIB_PLAIN_FIELDS = ("Message-ID", "In-Reply-To", "References", "Subject", "List-Id",
                       "List-Unsubscribe", "Auto-Submitted", "Precedence", "Content-Type",
                       "Sender", "X-GM-THRID", "X-Gmail-Labels")


def stdlib(mbox: Path) -> int:
    """The standard library's headers-only reading of the same mbox."""
    import mailbox
    from email.parser import BytesHeaderParser
    from email.policy import compat32
    from email.utils import getaddresses, parsedate_tz

    parser = BytesHeaderParser(policy=compat32)
    box = mailbox.mbox(str(mbox), create=False)
    count = 0
    for key in box.iterkeys():
        with box.get_file(key) as handle:
            msg = parser.parse(handle)  # type: ignore[arg-type]
        getaddresses(msg.get_all("From", []) + msg.get_all("To", []) + msg.get_all("Cc", [])
                     + msg.get_all("Bcc", []) + msg.get_all("Delivered-To", []))
        parsedate_tz(msg.get("Date", ""))
        for name in STDLIB_PLAIN_FIELDS:
            msg.get(name)
        count += 1
    return count


def records(mbox: Path) -> int:
    from peerpulse.connectors.files.mail import MailOwner, mbox_items

    owner = MailOwner(frozenset({"dana@example.com"}))
    return sum(1 for _ in mbox_items(mbox, "dana.mbox", owner))


def phase(workdir: Path, mbox: Path, which: str) -> dict[str, float]:
    import peerpulse.connectors.files.connector  # noqa: F401 (imports are not measured)
    import peerpulse.worker.sync  # noqa: F401

    database = workdir / f"run-{which}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    inbox = workdir / "inc" / "mail.mbox"
    marked = not which.endswith("-unmarked")
    which = which.removesuffix("-unmarked")
    if which == "incremental":
        shutil.copyfile(workdir / "template.sqlite3", database)
        shutil.copyfile(workdir / "prefix.mbox", inbox)
        with open(inbox, "ab") as out:
            out.write((workdir / "tail.mbox").read_bytes())
    elif which == "full":
        shutil.copyfile(mbox, inbox)
    started, cpu = time.perf_counter(), time.process_time()
    if which == "stdlib":
        count = stdlib(mbox)
    elif which == "records":
        count = records(mbox)
    else:
        count = sync_once(inbox, database, marked=marked)
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
            "count": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--end", default=(date.today() - timedelta(days=1)).isoformat())
    parser.add_argument("--compare-marking", action="store_true",
                        help="also sync with the checkpoint triggers dropped")
    parser.add_argument("--marking-only", action="store_true",
                        help="with --compare-marking: only the four syncs")
    parser.add_argument("--phase", choices=PHASES + UNMARKED, help=argparse.SUPPRESS)
    args = parser.parse_args()
    workdir = args.dir.resolve()
    mbox = prepare(workdir, args.messages, date.fromisoformat(args.end))
    if args.phase:
        print(json.dumps(phase(workdir, mbox, args.phase)))
        return
    phases = PHASES + (UNMARKED if args.compare_marking else ())
    if args.compare_marking and args.marking_only:
        phases = ("full", "incremental", *UNMARKED)
    figures: dict[str, list[dict[str, float]]] = {which: [] for which in phases}
    for rep in range(args.repeat):
        for which in phases if rep % 2 == 0 else tuple(reversed(phases)):  # no order bias
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.mail_bench", "--phase", which,
                 "--dir", str(workdir), "--messages", str(args.messages), "--end", args.end],
                check=True, capture_output=True, text=True,
            )
            figures[which].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    medians = {}
    for which, runs in figures.items():
        secs = sorted(r["seconds"] for r in runs)
        medians[which] = statistics.median(secs)
        print(f"{which:>20}: min {secs[0]:.3f}s  median {medians[which]:.3f}s  "
              f"max {secs[-1]:.3f}s  ({int(runs[0]['count']):,})")
    if "stdlib" in figures and figures["records"][0]["count"] != figures["stdlib"][0]["count"]:
        sys.exit(f"records saw {figures['records'][0]['count']:,} messages, the standard "
                 f"library {figures['stdlib'][0]['count']:,}: not the same work")
    mins = {which: min(r["seconds"] for r in runs) for which, runs in figures.items()}
    cpus = {which: statistics.median(r["cpu"] for r in runs) for which, runs in figures.items()}
    if "stdlib" in figures:
        print(f"records / stdlib: {medians['records'] / medians['stdlib']:.2f} medians, "
              f"{mins['records'] / mins['stdlib']:.2f} minimums  (goal <= 0.5)")
    print(f"incremental / ({NEW_SHARE:.0%} of full): "
          f"{medians['incremental'] / (NEW_SHARE * medians['full']):.2f}  (goal <= 2)")
    if args.compare_marking:
        for which in ("full", "incremental"):
            print(f"{which} marked / unmarked: "
                  f"{medians[which] / medians[which + '-unmarked']:.3f} medians, "
                  f"{mins[which] / mins[which + '-unmarked']:.3f} minimums, "
                  f"{cpus[which] / cpus[which + '-unmarked']:.3f} CPU-time medians")


if __name__ == "__main__":
    main()
