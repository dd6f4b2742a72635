"""`status` right after an upgrade (issue 10 follow-up, item 6).

A new peerpulse finds the state database one schema behind until the next `run`
or `sync` migrates it. `status` only reads (it never migrates: issue 10, item 6),
and it used to stop there with exit 1, as if something were wrong. It now says
truthfully that the upgrade is pending and reports as usual, exit 0.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from peerpulse.worker.cli import Env, main
from peerpulse.worker.store.migrations import MIGRATIONS, POSTGRES_ONLY

T = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
NEWEST = max(v for v, _, _ in MIGRATIONS)


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def _downgrade(path: Path) -> None:
    """Make ``path`` what the previous release left: undo the newest migration."""
    (_, _, statements) = MIGRATIONS[-1]
    db = sqlite3.connect(path)
    for statement in reversed(statements):
        if statement.startswith(POSTGRES_ONLY):
            continue  # never ran here
        if m := re.match(r"\s*(?:--[^\n]*\n\s*)*DROP TRIGGER (\w+)", statement):
            db.execute(_created(m[1]))  # the previous migration's trigger, back
        elif re.match(r"\s*(?:INSERT INTO|UPDATE) ", statement):
            continue  # data carried into a new table: leaves with the table
        elif m := re.match(r"\s*CREATE TABLE (\w+)", statement):
            db.execute(f"DROP TABLE {m[1]}")
        elif m := re.match(r"\s*CREATE (?:UNIQUE )?INDEX (\w+)", statement):
            db.execute(f"DROP INDEX IF EXISTS {m[1]}")
        elif m := re.match(r"\s*(?:--[^\n]*\n\s*)*CREATE TRIGGER (\w+)", statement):
            db.execute(f"DROP TRIGGER IF EXISTS {m[1]}")
        elif m := re.match(r"\s*ALTER TABLE (\w+) ADD COLUMN (\w+)", statement):
            db.execute(f"ALTER TABLE {m[1]} DROP COLUMN {m[2]}")
        elif statement.startswith(POSTGRES_ONLY) or re.match(r"\s*INSERT INTO", statement):
            continue  # not SQLite's; or rows of a table the migration made (dropped above)
        else:  # a new kind of migration: teach this helper to undo it
            raise AssertionError(f"cannot undo {statement!r}")
    db.execute("DELETE FROM schema_version WHERE version = ?", (NEWEST,))
    db.commit()
    db.close()


def _created(trigger: str) -> str:
    """The statement of the latest earlier migration that created ``trigger``."""
    return next(
        s for _, _, statements in reversed(MIGRATIONS[:-1]) for s in statements
        if re.match(rf"\s*(?:--[^\n]*\n\s*)*CREATE TRIGGER {trigger}\b", s)
    )


def _schema(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])
    finally:
        db.close()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    when = T - timedelta(days=3)
    (tmp_path / "mail.mbox").write_text(
        f"From lee@example.com {when:%a %b %d %H:%M:%S %Y}\n"
        "Message-ID: <m1@example.com>\n"
        f"Date: {when:%a, %d %b %Y %H:%M:%S +0000}\n"
        "From: Lee Park <lee@example.com>\nTo: Dana Reyes <dana.reyes@example.com>\n"
        "Subject: hello\n\n\n")
    path = tmp_path / "config.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        "[[accounts]]\n"
        'name = "a"\nowner = "dana.reyes@example.com"\ntimezone = "UTC"\n'
        '[accounts.source]\ntype = "files"\nmail = ["mail.mbox"]\n'
        '[accounts.delivery]\ntype = "stdout"\n'
    )
    return path


def test_status_after_an_upgrade_reports_it_pending_and_exits_0(config):
    code, _, err = cli("--config", str(config), "sync", "--now", T.isoformat())
    assert code == 0, err
    database = config.parent / "state" / "peerpulse.sqlite3"
    _downgrade(database)

    code, out, err = cli("--config", str(config), "status", "--now", T.isoformat())
    assert code == 0, err
    assert f"schema {NEWEST - 1}" in out and "next `peerpulse run`" in out
    assert "stored: 0 events, 1 messages" in out  # the usual report, read from a copy
    code, out, err = cli("--config", str(config), "status", "--json", "--now", T.isoformat())
    assert code == 0, err
    (item,) = json.loads(out)
    assert item["upgrade_pending"] == {"stored_schema": NEWEST - 1, "schema": NEWEST}
    assert item["counts"]["messages"] == 1
    assert _schema(database) == NEWEST - 1  # a reader never migrates the file

    code, _, err = cli("--config", str(config), "sync", "--now", T.isoformat())
    assert code == 0, err
    assert _schema(database) == NEWEST
    code, out, _ = cli("--config", str(config), "status", "--now", T.isoformat())
    assert code == 0 and "next `peerpulse run`" not in out
    (item,) = json.loads(cli("--config", str(config), "status", "--json",
                             "--now", T.isoformat())[1])
    assert item["upgrade_pending"] is None
