"""``peerpulse doctor`` on damaged databases, end to end (issue 10, item 4).

A store with a digest already sent has pages overwritten with garbage, as a bad
disk or a torn copy would leave it. ``run`` must stop with one clear message,
``doctor`` must say the file is damaged and what it can still read, and
``doctor --repair`` must rebuild the store from the sources while keeping the
ledger, so the week already sent is never sent again and the next one is.
"""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest
from peerpulse.worker.cli import Env, main
from peerpulse.worker.store import open_store

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-23T09:30:00+00:00"  # Monday of 2026-W48, after the 07:00 Berlin due time
NEXT_WEEK = "2026-11-30T09:30:00+00:00"
PAGE = 4096


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def org(tmp_path: Path) -> tuple[Path, Path]:
    """A small demo organization whose W48 digest was delivered into ./out."""
    code, _, err = cli("demo", "--out", str(tmp_path / "demo"), "--end", "2026-11-22",
                       "--managers", "24", "--months", "3")
    assert code == 0, err
    meta = json.loads((tmp_path / "demo" / "demo.json").read_text())
    config = tmp_path / "config.toml"
    config.write_text(
        (REPO / "config.example.toml").read_text()
        .replace('# state_dir = "~/.local/state/peerpulse"',
                 f'state_dir = "{tmp_path / "state"}"')
        .replace('aliases = ["dana@example.com", "dana.reyes@example.co.uk"]',
                 f"aliases = {json.dumps(meta['aliases'])}")
    )
    code, _, err = cli("--config", str(config), "run", "--now", NOW)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir())[0] == "2026-W48-demo.eml"
    return tmp_path, config


def _database(root: Path) -> Path:
    return root / "state" / "peerpulse.sqlite3"


def _counts(root: Path) -> tuple[int, int, int]:
    with open_store(_database(root), read_only=True) as store:
        c = store.counts("demo")
    return c.events, c.messages, c.people


def _pages(database: Path, table: str) -> list[int]:
    with sqlite3.connect(database) as db:
        return [n for (n,) in db.execute(
            "SELECT pageno FROM dbstat WHERE name = ? ORDER BY pageno", (table,))]


def _corrupt(database: Path, pages: list[int]) -> None:
    """Overwrite whole pages with garbage (the file keeps its size and header)."""
    with database.open("r+b") as handle:
        for number in pages:
            handle.seek((number - 1) * PAGE)
            handle.write(bytes((n * 37 + 11) % 256 for n in range(PAGE)))


def _out_files(root: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (root / "out").iterdir()}


def test_doctor_rebuilds_a_store_with_corrupt_pages_and_sends_no_week_twice(org):
    root, config = org
    before_counts, before_out = _counts(root), _out_files(root)
    database = _database(root)
    message_pages = _pages(database, "messages")
    assert len(message_pages) > 10
    _corrupt(database, message_pages[:: max(1, len(message_pages) // 5)])

    # A reader that reaches the damage stops with one message naming the file and the fix.
    code, out, err = cli("--config", str(config), "digest", "--dry-run", "--now", NOW)
    assert code == 1
    assert str(database) in err and "doctor --repair" in err and "Traceback" not in err

    code, out, _ = cli("--config", str(config), "doctor")
    assert code == 1
    assert "DAMAGED" in out and "newest sent: demo 2026-W48" in out and "--repair" in out

    code, out, err = cli("--config", str(config), "doctor", "--repair", "--now", NOW)
    assert code == 0, out + err
    assert "demo: rebuilt from the sources" in out
    damaged = list(database.parent.glob("peerpulse.sqlite3.damaged-*Z"))
    export = list(database.parent.glob("ledger-export-*.json"))
    assert len(damaged) == 1 and len(export) == 1
    assert export[0].stat().st_mode & 0o077 == 0
    ledger = json.loads(export[0].read_text())["tables"]["digest_ledger"]
    assert [(r["period"], r["state"]) for r in ledger] == [("2026-W48", "sent")]
    assert _counts(root) == before_counts

    code, out, _ = cli("--config", str(config), "doctor")
    assert code == 0 and "integrity: sound" in out

    code, out, err = cli("--config", str(config), "-v", "run", "--now", NOW)
    assert code == 0, err
    assert "already sent" in out
    assert _out_files(root) == before_out

    code, _, err = cli("--config", str(config), "run", "--now", NEXT_WEEK)
    assert code == 0, err
    assert "2026-W49-demo.eml" in _out_files(root)


def test_a_lost_ledger_page_still_sends_no_week_twice(org):
    # The ledger itself is unreadable: the marker's floor keeps W48 from going out again.
    root, config = org
    before_out = _out_files(root)
    database = _database(root)
    _corrupt(database, _pages(database, "digest_ledger")[:1])

    code, out, err = cli("--config", str(config), "doctor", "--repair", "--now", NOW)
    assert code == 0, out + err
    assert "could not read all of digest_ledger" in out
    assert "never sent again (the marker's floor): demo 2026-W48" in out

    code, out, err = cli("--config", str(config), "-v", "run", "--now", NOW)
    assert code == 0, err
    assert "already sent before this store was started" in out
    assert _out_files(root) == before_out


def test_a_file_that_is_no_longer_a_database_is_rebuilt(org):
    root, config = org
    before_counts = _counts(root)
    database = _database(root)
    database.write_bytes(b"\x00garbage" * 4096)

    code, out, _ = cli("--config", str(config), "doctor")
    assert code == 1 and "DAMAGED" in out and "not a database" in out

    code, out, err = cli("--config", str(config), "doctor", "--repair", "--now", NOW)
    assert code == 0, out + err
    assert _counts(root) == before_counts
    before_out = _out_files(root)
    code, out, err = cli("--config", str(config), "-v", "run", "--now", NOW)
    assert code == 0, err
    assert "already sent before this store was started" in out
    assert _out_files(root) == before_out


def test_doctor_on_a_sound_database_changes_nothing(org):
    root, config = org
    database = _database(root)
    code, out, _ = cli("--config", str(config), "doctor")
    assert code == 0 and "integrity: sound" in out
    code, out, _ = cli("--config", str(config), "doctor", "--repair")
    assert code == 0 and "nothing to repair" in out
    assert not list(database.parent.glob("*.damaged-*"))


def test_doctor_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as done:
        cli("doctor", "--help")
    assert done.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "--repair" in shown and "Exit codes: 0 sound" in shown and "75" in shown
