"""Files connector sync timing on the demo organization, optionally against another checkout.

Run: ``python -m benchmarks.files_sync_bench [--scale 6] [--compare OTHER_PYTHON]``.
The demo's mail is synced twice over, as the mbox the demo writes and as a
Maildir of the same messages (one file a message: the case whose per-file index
the connector keeps). For each layout it times three ``peerpulse sync`` runs in
a fresh state directory: the first (everything read), an unchanged one, and one
after 200 new messages were delivered to the Maildir / appended to the mbox.
It also prints the stored mail cursor's size and the connector state rows.

``--compare`` names the Python of another installed checkout (its own venv), so
before/after figures come from one run on the same data; the ratio is
this checkout / the other. Timings are wall clock, best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import mailbox
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-11-23T09:30:00+00:00"
NEW_MESSAGES = 200


def _demo(root: Path, scale: float) -> tuple[Path, Path]:
    from peerpulse.worker.demo import generate

    mbox_demo = root / "demo-mbox"
    generate(mbox_demo, seed=5, managers=24, months=3, scale=scale, end=date(2026, 11, 22))
    maildir_demo = root / "demo-maildir"
    shutil.copytree(mbox_demo / "calendar", maildir_demo / "calendar")
    shutil.copy(mbox_demo / "people.csv", maildir_demo / "people.csv")
    folder = mailbox.Maildir(maildir_demo / "mail", create=True)
    for message in mailbox.mbox(mbox_demo / "mail" / "dana.mbox"):
        folder.add(message)
    return mbox_demo, maildir_demo


def _config(root: Path, demo: Path, name: str) -> Path:
    config = root / f"{name}.toml"
    config.write_text(
        (REPO / "config.example.toml").read_text()
        .replace('# state_dir = "~/.local/state/peerpulse"', f'state_dir = "{root / name}"')
        .replace('"demo/', f'"{demo}/')
    )
    return config


def _sync(python: str, config: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [python, "-m", "peerpulse.worker.cli", "--config", str(config), "sync", "--now", NOW],
        check=True, capture_output=True, cwd=config.parent,
    )
    return time.perf_counter() - started


def _grow(demo: Path, layout: str, template_box: Path) -> None:
    """Deliver NEW_MESSAGES more messages, shaped like the demo's first one."""
    template = next(iter(mailbox.mbox(template_box)))
    for n in range(NEW_MESSAGES):
        message = mailbox.mboxMessage(template)
        message.replace_header("Message-ID", f"<bench-{n}@example.com>")
        if layout == "maildir":
            mailbox.Maildir(demo / "mail").add(message)
        else:
            box = mailbox.mbox(demo / "mail" / "dana.mbox")
            box.lock()
            box.add(message)
            box.flush()
            box.unlock()


def _stored(config: Path) -> tuple[int, int]:
    db = sqlite3.connect(config.parent / config.stem / "peerpulse.sqlite3")
    try:
        (cursor,) = db.execute("SELECT cursor FROM cursors WHERE source = 'mail'").fetchone()
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        rows = 0
        if "connector_state" in tables:
            (rows,) = db.execute(
                "SELECT COUNT(*) FROM connector_state WHERE source = 'mail'"
            ).fetchone()
        return len(cursor), rows
    finally:
        db.close()


def measure_once(python: str, root: Path, source: Path, layout: str, name: str,
                 template: Path) -> dict[str, float]:
    """The three syncs of one layout in a fresh copy and state directory."""
    demo = root / name
    shutil.copytree(source, demo)
    config = _config(root, demo, f"{name}-state")
    runs = {"first": _sync(python, config), "unchanged": _sync(python, config)}
    _grow(demo, layout, template)
    runs["+200 new"] = _sync(python, config)
    runs["cursor bytes"], runs["state rows"] = _stored(config)
    shutil.rmtree(demo)
    shutil.rmtree(root / f"{name}-state")
    return runs


def measure(
    pythons: dict[str, str], root: Path, demos: dict[str, Path], repeat: int
) -> dict[str, dict[str, dict[str, float]]]:
    """Best of ``repeat`` per interpreter and layout; the interpreters alternate run by
    run, so load from elsewhere on the machine hits both alike."""
    best: dict[str, dict[str, dict[str, float]]] = {t: {} for t in pythons}
    template = demos["mbox"] / "mail" / "dana.mbox"
    for attempt in range(repeat):
        for layout, source in demos.items():
            for tag, python in pythons.items():
                runs = measure_once(python, root, source, layout, f"{tag}-{layout}-{attempt}",
                                    template)
                kept = best[tag].setdefault(layout, {})
                for key, value in runs.items():
                    kept[key] = min(kept.get(key, value), value)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=6.0, help="demo size (6: ~10k messages)")
    parser.add_argument("--compare", help="Python of another checkout's venv (the 'before')")
    parser.add_argument("--repeat", type=int, default=1)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mbox_demo, maildir_demo = _demo(root, options.scale)
        count = len(list((maildir_demo / "mail" / "cur").iterdir())) + len(
            list((maildir_demo / "mail" / "new").iterdir()))
        print(f"demo: scale {options.scale}, {count:,} messages")
        demos = {"mbox": mbox_demo, "maildir": maildir_demo}
        pythons = {"this": sys.executable}
        if options.compare:
            pythons["other"] = options.compare
        results = measure(pythons, root, demos, options.repeat)
    after, before = results["this"], results.get("other")
    for layout in after:
        print(f"\n{layout}:")
        header = f"  {'':14}{'this':>10}"
        if before:
            header += f"{'other':>10}{'ratio':>8}"
        print(header)
        for key, value in after[layout].items():
            unit = "" if "bytes" in key or "rows" in key else "s"
            line = f"  {key:14}{value:>9.2f}{unit}" if unit else f"  {key:14}{value:>10,.0f}"
            if before:
                other = before[layout][key]
                line += f"{other:>9.2f}{unit}" if unit else f"{other:>10,.0f}"
                line += f"{value / other:>8.2f}" if other else f"{'-':>8}"
            print(line)


if __name__ == "__main__":
    main()
