"""CLI conventions: --help everywhere, clear errors, documented exit codes."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys

import pytest
from peerpulse.worker.cli import Env, build_parser, main

COMMANDS = [
    [], ["run"], ["sync"], ["digest"], ["rules"], ["rules", "check"], ["explain"], ["status"],
    ["demo"], ["auth"], ["auth", "google"],
]


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w) or "peerpulse")
def test_every_command_has_help(words, capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([*words, "--help"])
    assert exited.value.code == 0
    assert "usage: peerpulse" in capsys.readouterr().out


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def test_a_missing_config_file_is_exit_2_with_a_hint(tmp_path):
    code, _, err = run_cli("--config", str(tmp_path / "nope.toml"), "status")
    assert code == 2
    assert "config file not found" in err
    assert "hint: copy config.example.toml" in err
    assert "Traceback" not in err


def test_an_invalid_config_is_exit_2_naming_file_line_and_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[[accounts]]\nname = "a"\nowner = "a@x.org"\nsource = { type = "files" }\n'
                    'colour = "blue"\n')
    code, _, err = run_cli("--config", str(path), "run")
    assert code == 2
    assert f"{path}:5: accounts[0].colour: unknown key" in err


def test_a_bad_now_is_a_usage_error(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[[accounts]]\nname = "a"\nowner = "a@x.org"\nsource = { type = "files" }\n')
    code, _, err = run_cli("--config", str(path), "status", "--now", "next tuesday")
    assert code == 2
    assert "--now/PEERPULSE_NOW must be an ISO date" in err


def test_the_console_script_entry_point_runs():
    out = subprocess.run(
        [sys.executable, "-m", "peerpulse.worker.cli", "--help"],
        capture_output=True, text=True, check=True,
    )
    assert "Exit codes: 0 ok, 1 partial failure, 2 usage or config error" in out.stdout


def _synced_empty_account(tmp_path):
    """A config with one account over an empty mail folder, synced once: a real store."""
    config = tmp_path / "c.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n'
                      '[[accounts]]\nname = "a"\nowner = "a@x.org"\n'
                      f'source = {{ type = "files", mail = ["{tmp_path / "in"}"] }}\n')
    (tmp_path / "in").mkdir()
    code, _, err = run_cli("--config", str(config), "sync")
    assert code == 0, err
    return config


def test_a_damaged_database_is_one_message_naming_the_file_exit_1(tmp_path):
    """Issue 10, item 4: a database damaged past its header gave a traceback from `run`."""
    config = _synced_empty_account(tmp_path)
    db = tmp_path / "state" / "peerpulse.sqlite3"
    data = bytearray(db.read_bytes())
    page = 2 * 4096  # one table page past the schema pages
    data[page:page + 4096] = b"\xff" * 4096
    db.write_bytes(bytes(data))
    for command in ("status",):
        code, _, err = run_cli("--config", str(config), command)
        assert code == 1, (command, err)
        assert "Traceback" not in err
        assert str(db) in err


def test_status_reports_damage_that_its_own_reads_never_touch(tmp_path):
    """Issue 10: `status` said all was well over a damaged store; now it runs
    PRAGMA quick_check. The damaged page is the (unread by status) title_changes table."""
    config = _synced_empty_account(tmp_path)
    code, _, err = run_cli("--config", str(config), "status")
    assert code == 0, err
    db = tmp_path / "state" / "peerpulse.sqlite3"
    con = sqlite3.connect(db)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'title_changes'").fetchone()[0]
    con.close()
    data = bytearray(db.read_bytes())
    start = (root - 1) * page_size
    data[start:start + page_size] = b"\xff" * page_size
    db.write_bytes(bytes(data))
    code, out, err = run_cli("--config", str(config), "status")
    assert code == 1, (out, err)
    assert str(db) in err and "is damaged" in err and "peerpulse doctor --repair" in err
    assert "Traceback" not in err
