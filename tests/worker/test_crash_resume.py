"""A sync killed at any batch resumes cleanly: nothing lost, nothing twice.

Real processes, real files, a real SQLite store: ``peerpulse sync`` is ended
with ``os._exit(137)`` (what SIGKILL looks like: no cleanup, no flush) right
after its N-th committed batch, then run again to completion. The store must
then hold exactly what an uninterrupted sync stores. A second test kills a
sync with a real SIGKILL at an arbitrary moment.
"""

from __future__ import annotations

import mailbox
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from peerpulse.worker.demo import generate

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-23T09:30:00+00:00"


def write_config(root: Path, demo: Path, name: str) -> Path:
    config = root / f"{name}.toml"
    config.write_text(
        (REPO / "config.example.toml").read_text()
        .replace('# state_dir = "~/.local/state/peerpulse"', f'state_dir = "{root / name}"')
        .replace('"demo/', f'"{demo}/')
    )
    return config


def sync(config: Path, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PEERPULSE_FAULT"}
    if fault:
        env["PEERPULSE_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "peerpulse.worker.cli", "--config", str(config),
         "sync", "--now", NOW],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
    )


def snapshot(config: Path) -> dict[str, object]:
    db = sqlite3.connect(config.parent / config.stem / "peerpulse.sqlite3")
    try:
        return {
            "messages": sorted(db.execute("SELECT source_id, ts, sender, to_addrs FROM messages")),
            "events": sorted(db.execute("SELECT source_id, start_ts, status FROM events")),
            "people": sorted(db.execute("SELECT email, title FROM people")),
        }
    finally:
        db.close()


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    # ~10k messages: several 2,000-record batches in the mbox.
    generate(root / "demo", seed=5, managers=24, months=3, scale=6.0, end=date(2026, 11, 22))
    reference = write_config(root, root / "demo", "reference")
    assert sync(reference).returncode == 0
    return root, snapshot(reference)


@pytest.mark.parametrize("batch", [1, 2, 4, 6])
def test_a_sync_killed_after_any_batch_resumes_to_the_same_store(org, batch):
    root, expected = org
    config = write_config(root, root / "demo", f"killed-after-{batch}")
    killed = sync(config, fault=f"after_sync_batch:{batch}")
    assert killed.returncode == 137, killed.stderr
    assert snapshot(config) != expected  # the kill really left the sync unfinished
    resumed = sync(config)
    assert resumed.returncode == 0, resumed.stderr
    assert snapshot(config) == expected


def test_a_sync_killed_by_sigkill_midway_resumes_to_the_same_store(org):
    root, expected = org
    config = write_config(root, root / "demo", "sigkill")
    process = subprocess.Popen(
        [sys.executable, "-m", "peerpulse.worker.cli", "--config", str(config),
         "sync", "--now", NOW],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    database = config.parent / config.stem / "peerpulse.sqlite3"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if database.exists():
            try:
                db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.1)
                count = db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
                db.close()
            except sqlite3.Error:
                count = 0
            if count:
                break
        time.sleep(0.01)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    resumed = sync(config)
    assert resumed.returncode == 0, resumed.stderr
    assert snapshot(config) == expected


@pytest.fixture(scope="module")
def maildir_org(org):
    """The same organization with its mail as a Maildir: one file a message, so the
    folder's per-file index (connector state) is written batch by batch."""
    root, _ = org
    demo = root / "demo-maildir"
    shutil.copytree(root / "demo" / "calendar", demo / "calendar")
    shutil.copy(root / "demo" / "people.csv", demo / "people.csv")
    folder = mailbox.Maildir(demo / "mail", create=True)
    for message in mailbox.mbox(root / "demo" / "mail" / "dana.mbox"):
        folder.add(message)
    reference = write_config(root, demo, "maildir-reference")
    assert sync(reference).returncode == 0
    return root, demo, snapshot(reference)


@pytest.mark.parametrize("batch", [2, 4])
def test_a_maildir_sync_killed_after_any_batch_resumes_to_the_same_store(maildir_org, batch):
    root, demo, expected = maildir_org
    config = write_config(root, demo, f"maildir-killed-after-{batch}")
    killed = sync(config, fault=f"after_sync_batch:{batch}")
    assert killed.returncode == 137, killed.stderr
    assert snapshot(config) != expected
    if batch == 4:
        keys, done = mail_state(config)
        assert keys > 0 and not done  # killed in the middle of the folder
    resumed = sync(config)
    assert resumed.returncode == 0, resumed.stderr
    assert snapshot(config) == expected
    files = sum(1 for _ in (demo / "mail").glob("*/*"))
    assert mail_state(config) == (files, True)  # one index key a file, the read done


def mail_state(config: Path) -> tuple[int, bool]:
    """Keys of the mail source's connector state, and whether its cursor says done."""
    db = sqlite3.connect(config.parent / config.stem / "peerpulse.sqlite3")
    try:
        (keys,) = db.execute(
            "SELECT COUNT(*) FROM connector_state WHERE source = 'mail'"
        ).fetchone()
        (cursor,) = db.execute("SELECT cursor FROM cursors WHERE source = 'mail'").fetchone()
    finally:
        db.close()
    return keys, '"done":true' in cursor and '"done":false' not in cursor
