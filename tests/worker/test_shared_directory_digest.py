"""Organization mode's shared directory, resolved once per worker and directory
version (worker/shared_directory.py, issue 12): every digest, in every section,
JSON and rendered, is the one the full per-digest pass gives, on SQLite and on
PostgreSQL, across directory changes between digests (a person added, a manager
changed, someone leaving), so a stale directory would show.

The plain path here reads the directory's rows again, resolves them in the engine
and reads every record (``raw``: no checkpoint); the fast path is the worker's,
its cache kept warm from one digest to the next.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pytest
from peerpulse.connectors.base import reads_directory
from peerpulse.rules import engine
from peerpulse.worker import config as config_module
from peerpulse.worker import shared_directory
from peerpulse.worker.cli import Env, main
from peerpulse.worker.config import DIRECTORY_ACCOUNT
from peerpulse.worker.digest.render import render_digest
from peerpulse.worker.pipeline import compute_for_account, read_rules
from peerpulse.worker.sync import sync_account

NOW = datetime.fromisoformat("2026-11-23T09:30:00+00:00")
OWNER = "dana.reyes@example.com"
NEWCOMER = "new.manager@example.com"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("shared-directory")
    out, err = io.StringIO(), io.StringIO()
    code = main(["demo", "--out", str(root / "demo"), "--end", "2026-11-22",
                 "--managers", "22", "--months", "2"], Env(stdout=out, stderr=err))
    assert code == 0, err.getvalue()
    return root / "demo"


def _rows(demo: Path) -> list[dict[str, str]]:
    with (demo / "people.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _config(tmp_path: Path, demo: Path, owners: dict[str, tuple[str, list[str]]]) -> Path:
    accounts = "".join(f"""
[[accounts]]
name = "{name}"
owner = "{owner}"
aliases = {json.dumps(aliases)}
timezone = "Europe/Berlin"
source = {{ type = "files", calendar = ["{demo / 'calendar'}"], mail = ["{demo / 'mail'}"] }}
""" for name, (owner, aliases) in owners.items())
    config = tmp_path / "org.toml"
    # organization mode needs a database URL in the config; the store under test is
    # opened here and handed to the pipeline, so this one is never connected to
    config.write_text(f"""
state_dir = "{tmp_path / 'state'}"
database = "postgresql://nobody@127.0.0.1:1/unused"

[organization.directory]
admin = "admin@example.com"
source = {{ type = "files", people = ["{tmp_path / 'directory.csv'}"] }}
{accounts}""")
    return config


def _digest(store, settings, account, rules, *, fast: bool) -> tuple[str, str, str, str]:
    result = compute_for_account(store, settings, account, rules, now=NOW, raw=not fast)
    rendered = render_digest(result.digest, recipient=account.recipient,
                             sender="peerpulse@example.com", now=NOW)
    return (json.dumps(result.digest.to_json(), sort_keys=True), rendered.subject,
            rendered.text, rendered.html)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        from peerpulse.worker.store.sqlite import SqliteStore

        opened = SqliteStore(tmp_path / "org.sqlite3")
    else:
        from peerpulse.worker.store.postgres import PostgresStore

        opened = PostgresStore(request.getfixturevalue("pg_cluster").new_database())
    shared_directory.forget()
    yield opened
    opened.close()
    shared_directory.forget()


def test_digests_over_the_shared_directory_equal_the_full_pass_across_changes(
    demo, store, tmp_path, monkeypatch
):
    meta = json.loads((demo / "demo.json").read_text())
    rows = _rows(demo)
    by_email = {r["email"]: r for r in rows}
    peer, leaver = meta["peers"][0], meta["peers"][1]
    peer = peer if isinstance(peer, str) else peer["email"]
    leaver = leaver if isinstance(leaver, str) else leaver["email"]
    owners = {
        "dana": (OWNER, meta["aliases"]),
        "boss": (meta["manager"], []),  # Dana's manager: Dana reports to them
        "peer": (peer, []),
        "ceo": (rows[0]["email"], []),  # no chain; everyone reports to them
    }
    settings = config_module.load(_config(tmp_path, demo, owners))
    rules = read_rules(settings)
    assert settings.organization is not None and settings.organization.directory is not None
    directory = settings.organization.directory.account()

    taken = {"fast": 0}
    real_owner_directory = engine.owner_directory

    def counting(*args, **kwargs):
        found = real_owner_directory(*args, **kwargs)
        taken["fast"] += found is not None
        return found

    monkeypatch.setattr(engine, "owner_directory", counting)

    def sync_directory(people: list[dict[str, str]]) -> None:
        _write(tmp_path / "directory.csv", people)
        report = sync_account(store, settings, directory, now=NOW, only=reads_directory)
        assert report.ok, report.error

    sync_directory(rows)
    for name in owners:
        assert sync_account(store, settings, settings.account(name), now=NOW).ok

    added = {**by_email[peer], "email": NEWCOMER, "name": "Nova Newcomer", "aliases": ""}
    moved = {**by_email[peer], "manager": OWNER}  # the peer now reports to Dana
    steps = [
        ("as synced", rows),
        ("a person added", [*rows, added]),
        ("a manager changed", [moved if r["email"] == peer else r for r in [*rows, added]]),
        ("someone leaving", [moved if r["email"] == peer else r for r in [*rows, added]
                             if r["email"] != leaver]),
    ]
    seen: list[dict[str, object]] = []
    for step, people in steps:
        if step != "as synced":
            sync_directory(people)
        assert len(store.people(DIRECTORY_ACCOUNT)) == len(people)
        stats = {}
        for name in owners:
            account = settings.account(name)
            fast = _digest(store, settings, account, rules, fast=True)
            with shared_directory.disabled():
                plain = _digest(store, settings, account, rules, fast=False)
            assert fast == plain, f"{step}: {name}'s digest differs"
            stats[name] = json.loads(fast[0])["stats"]["peers"]
        seen.append(stats)
    # Each change reached the digests (a stale directory would have kept the count):
    # the newcomer is everyone's peer, the moved peer is Dana's report, the leaver gone.
    assert seen[1]["dana"] == seen[0]["dana"] + 1
    assert seen[2]["dana"] == seen[1]["dana"] - 1
    assert seen[3]["dana"] == seen[2]["dana"] - 1
    assert taken["fast"] >= 3 * len(steps)  # the fast path did the work, not a fallback


def _another(store):
    """A second store on the same database, as a worker opens one per job."""
    if hasattr(store, "url"):
        from peerpulse.worker.store.postgres import PostgresStore

        return PostgresStore(store.url, migrate=False)
    from peerpulse.worker.store.sqlite import SqliteStore

    return SqliteStore(store.path)


def test_the_directory_is_read_once_per_version_across_a_workers_stores(
    demo, store, tmp_path, monkeypatch
):
    meta = json.loads((demo / "demo.json").read_text())
    rows = _rows(demo)
    settings = config_module.load(_config(tmp_path, demo, {"dana": (OWNER, meta["aliases"])}))
    rules = read_rules(settings)
    assert settings.organization is not None and settings.organization.directory is not None
    directory = settings.organization.directory.account()
    _write(tmp_path / "directory.csv", rows)
    assert sync_account(store, settings, directory, now=NOW, only=reads_directory).ok
    account = settings.account("dana")
    reads = []
    real_people = type(store).people

    def counting(self, name):
        reads.append(name)
        return real_people(self, name)

    monkeypatch.setattr(type(store), "people", counting)
    first = _digest(store, settings, account, rules, fast=True)
    assert reads.count(DIRECTORY_ACCOUNT) == 1
    with _another(store) as job:  # the next job's store: same database, same version
        assert _digest(job, settings, account, rules, fast=True) == first
    assert reads.count(DIRECTORY_ACCOUNT) == 1
    _write(tmp_path / "directory.csv", [r for r in rows if r["email"] != meta["manager"]])
    assert sync_account(store, settings, directory, now=NOW, only=reads_directory).ok
    with _another(store) as job:
        changed = _digest(job, settings, account, rules, fast=True)
    assert reads.count(DIRECTORY_ACCOUNT) == 2 and changed != first
