"""`peerpulse run` against PostgreSQL (a `[database]` URL in the config) gives the
very digest SQLite gives, and the config never takes a password inline."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from peerpulse.worker.cli import Env, main

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-23T09:30:00+00:00"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def _config(root: Path, name: str, meta: dict, extra: str) -> Path:
    config = root / f"{name}.toml"
    text = (
        (REPO / "config.example.toml").read_text()
        .replace('# state_dir = "~/.local/state/peerpulse"',
                 f'state_dir = "{root / name}"\n{extra}')
        .replace('aliases = ["dana@example.com", "dana.reyes@example.co.uk"]',
                 f"aliases = {json.dumps(meta['aliases'])}")
        .replace('dir = "out"', f'dir = "{root / name / "out"}"')
    )
    config.write_text(text)
    return config


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("pgcli")
    code, out, _ = cli("demo", "--out", str(root / "demo"), "--end", "2026-11-22",
                       "--managers", "22", "--months", "2")
    assert code == 0, out
    return root, json.loads((root / "demo" / "demo.json").read_text())


def test_run_on_postgres_writes_the_same_digest_as_on_sqlite(demo, pg_url):
    root, meta = demo
    lite = _config(root, "lite", meta, "")
    pg = _config(root, "pg", meta, f'database = "{pg_url}"')
    assert "demo" in lite.read_text() and 'dir = "' in lite.read_text()
    for config in (lite, pg):
        code, _, err = cli("--config", str(config), "run", "--now", NOW)
        assert code == 0, err
    texts = [sorted((root / n / "out").glob("*.txt")) for n in ("lite", "pg")]
    assert [p.name for p in texts[0]] == [p.name for p in texts[1]] != []
    assert texts[0][0].read_text() == texts[1][0].read_text()
    assert not (root / "pg" / "peerpulse.sqlite3").exists()
    code, out, err = cli("--config", str(pg), "-v", "run", "--now", NOW)
    assert code == 0 and "already sent" in out, err
    code, out, err = cli("--config", str(pg), "status", "--now", NOW)
    assert code == 0, err
    assert "state: postgresql://" in out and "last digest: 2026-W48" in out


def test_a_password_inside_the_database_url_is_refused(demo):
    root, meta = demo
    config = _config(root, "bad", meta, 'database = "postgresql://pp:hunter2@db/pp"')
    code, out, err = cli("--config", str(config), "run", "--now", NOW)
    assert code == 2
    assert "database" in err and "by reference" in err and "hunter2" not in err + out


def test_org_commands_without_a_database_say_what_to_add(demo):
    root, meta = demo
    config = _config(root, "single", meta, "")
    code, _, err = cli("--config", str(config), "org", "status")
    assert code == 2 and "[database]" in err and "Traceback" not in err


def test_an_org_worker_on_an_unmigrated_database_stops_with_the_command_to_run(demo, pg_url):
    root, meta = demo
    config = _config(root, "fresh", meta, f'database = "{pg_url}"')
    code, _, err = cli("--config", str(config), "org", "worker", "--one-shot")
    assert code == 1 and "peerpulse org migrate" in err and "Traceback" not in err


def test_the_database_password_comes_from_its_reference(demo, pg_url, monkeypatch):
    root, meta = demo
    extra = f'[database]\nurl = "{pg_url}"\npassword = {{ env = "PP_TEST_DB_PASSWORD" }}\n'
    config = _config(root, "ref", meta, "")
    config.write_text(config.read_text() + "\n" + extra)  # a table: after the top-level keys
    code, _, err = cli("--config", str(config), "status")
    assert code == 2 and "PP_TEST_DB_PASSWORD is not set" in err
    monkeypatch.setenv("PP_TEST_DB_PASSWORD", "not-checked-by-trust-auth")
    code, out, err = cli("--config", str(config), "sync", "--now", NOW)
    assert code == 0, err
    code, out, err = cli("--config", str(config), "status", "--now", NOW)
    assert code == 0 and "state: postgresql://" in out and "not-checked" not in out + err, err
