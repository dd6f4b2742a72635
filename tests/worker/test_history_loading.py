"""A digest computed while a first sync is still loading history says so (issue 15).

A source reports its progress in keyed state (``connectors.base.SyncProgress``); the
digest then holds back reconnect and reciprocity, flags the sections built on months
of history, and says how far the sync is, in text, HTML and JSON; once the source
reports complete, the note and the held sections are back to normal.
"""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from peerpulse.connectors.base import PROGRESS_KEY, SyncProgress
from peerpulse.connectors.records import SyncBatch
from peerpulse.connectors.state import StateChange
from peerpulse.worker import loading
from peerpulse.worker.cli import Env, main
from peerpulse.worker.config import load_settings
from peerpulse.worker.demo import generate
from peerpulse.worker.digest.render import render_digest
from peerpulse.worker.pipeline import compute_for_account, read_rules
from peerpulse.worker.store import open_store
from peerpulse.worker.sync import sync_account

from benchmarks.demo_config import write_demo_config

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "digest.schema.json").read_text())
SOURCE = "mailbox"  # a plugin's mail source, by a name no built-in uses


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("loading")
    generate(tmp / "demo", seed=7, managers=30, months=8, end=date(2026, 11, 27))
    config = tmp / "config.toml"
    meta = write_demo_config(tmp / "demo", tmp / "state", config)
    settings = load_settings(config)
    account = settings.accounts[0]
    now = datetime.fromisoformat(meta["now"].replace("Z", "+00:00"))
    with open_store(settings.database_path) as store:
        assert sync_account(store, settings, account, now=now).ok
    return settings, account, now


def report(store, account: str, progress: SyncProgress) -> None:
    """What a connector's batch does: its progress committed in its keyed state."""
    store.apply_batch(account, SOURCE, SyncBatch(
        cursor="c", state=[StateChange(PROGRESS_KEY, progress.dump())]))


def digest_now(store, world):
    settings, account, now = world
    return compute_for_account(store, settings, account, read_rules(settings), now=now).digest


def rendered(digest, now):
    return render_digest(digest, recipient="me@example.com", sender="me@example.com", now=now)


def test_a_digest_during_an_interrupted_first_sync_says_history_is_loading(world, tmp_path):
    settings, account, now = world
    with open_store(settings.database_path) as store:
        complete = digest_now(store, world)
        assert complete.reconnect and complete.reciprocity  # the sections the note holds
        assert "history" not in complete.stats
        assert "still loading" not in rendered(complete, now).text

        report(store, account.name, SyncProgress(
            complete=False, since=None, done=0.08,
            detail="your sent mail first, back to 2026-06-01 so far; received mail not yet"))
        partial = digest_now(store, world)
        out = rendered(partial, now)

        # held back: claims about old ties and received mail the store does not hold yet
        assert partial.reconnect == () and partial.reciprocity == ()
        info = partial.stats["history"]
        assert info["held"] == ["reconnect", "reciprocity"]
        assert info["percent_done"] == 8 and info["since"] is None
        # shown but marked: the pick and feedback weigh received mail and old ties, and
        # while no received mail is in, celebrate (its keywords come from peers' mail)
        assert info["flagged"] == ["peer_of_the_week", "feedback", "fading", "coverage",
                                   "celebrate"]
        # the same sections otherwise: a first digest is still worth reading
        assert partial.peer_of_the_week == complete.peer_of_the_week
        assert partial.celebrate == complete.celebrate
        for body in (" ".join(out.text.split()), " ".join(out.html.split())):
            assert "still loading" in body
            assert "about 8% done" in body
            assert "Held back until it is in: Reconnect and Reciprocity" in body
            assert "Partial history" in body
        assert "received mail not yet" in out.text
        jsonschema.validate(json.loads(json.dumps(partial.to_json(), default=str)), SCHEMA)
        bad = {**partial.stats, "history": {**info, "held": ["coverage"]}}
        with pytest.raises(jsonschema.ValidationError):  # the schema does check it
            jsonschema.validate(json.loads(json.dumps(
                dataclasses.replace(partial, stats=bad).to_json(), default=str)), SCHEMA)
        assert out.subject.endswith("(history still loading)")
        if partial.feedback:
            assert "ASK FOR FEEDBACK - PARTIAL HISTORY" in out.text
        assert not set(partial.stats.get("actions", {})) - {
            p for p in out.people}  # no action links for held-back people

        # the history of reciprocity's window is in: it comes back, reconnect waits
        report(store, account.name, SyncProgress(
            complete=False, since=now - timedelta(days=200), done=0.6,
            detail="all mail back to ...; older mail is loading"))
        later = digest_now(store, world)
        assert later.stats["history"]["held"] == ["reconnect"]
        assert later.reciprocity == complete.reciprocity and later.reconnect == ()
        assert "celebrate" not in later.stats["history"]["flagged"]  # received mail is in
        assert "complete from" in rendered(later, now).text

        report(store, account.name, SyncProgress(complete=True, since=now - timedelta(days=400)))
        done = digest_now(store, world)
        assert "history" not in done.stats
        assert done.reconnect == complete.reconnect
        assert "still loading" not in rendered(done, now).text
        assert "still loading" not in rendered(done, now).html


def status(config, now, *extra):
    out, err = io.StringIO(), io.StringIO()
    code = main(["--config", str(config), "status", "--now", now.isoformat(), *extra],
                Env(stdout=out, stderr=err))
    assert code == 0, err.getvalue()
    return out.getvalue()


def test_status_says_history_is_loading_until_it_is_complete(world):
    settings, account, now = world
    config = settings.base_dir / "config.toml"
    with open_store(settings.database_path) as store:
        report(store, account.name, SyncProgress(
            complete=False, since=now - timedelta(days=30), done=0.42,
            detail="all mail back to ...; older mail is loading"))
    text = status(config, now)
    assert "history still loading (first sync about 42% done)" in text
    assert f"complete since {(now - timedelta(days=30)).date().isoformat()}" in text
    (item,) = json.loads(status(config, now, "--json"))
    assert item["history"]["held"] == ["reconnect", "reciprocity"]
    assert item["history"]["sources"][0]["source"] == SOURCE
    with open_store(settings.database_path) as store:
        report(store, account.name, SyncProgress(complete=True))
    assert "still loading" not in status(config, now)
    (item,) = json.loads(status(config, now, "--json"))
    assert item["history"] is None


def test_held_sections_follow_the_reciprocity_window():
    now = datetime(2026, 12, 1)
    only_sent = loading.HistoryStatus((("m", SyncProgress(complete=False)),))
    assert loading.held_sections(only_sent, now, 180) == ["reconnect", "reciprocity"]
    recent = loading.HistoryStatus((("m", SyncProgress(False, since=now - timedelta(days=90))),))
    assert loading.held_sections(recent, now, 180) == ["reconnect", "reciprocity"]
    assert loading.held_sections(recent, now, 60) == ["reconnect"]
    two = loading.HistoryStatus((
        ("a", SyncProgress(False, since=now - timedelta(days=300), done=0.7)),
        ("b", SyncProgress(False, since=None, done=0.2)),
    ))
    assert two.since is None and two.done == 0.2  # the least complete source decides
    assert loading.held_sections(loading.HistoryStatus(), now, 180) == []


def test_a_progress_report_round_trips_and_garbage_reads_as_none():
    progress = SyncProgress(False, since=datetime(2026, 6, 1, tzinfo=None).astimezone(),
                            done=0.5, detail="x")
    again = SyncProgress.load(progress.dump())
    assert again is not None and again.done == 0.5 and not again.complete
    assert again.since is not None and again.since.timestamp() == progress.since.timestamp()
    for bad in ("", "{", "[]", '{"since": 1}', '{"complete": true, "since": "x"}'):
        assert SyncProgress.load(bad) is None


def test_org_status_shows_a_manager_whose_history_is_loading(tmp_path):
    from types import SimpleNamespace

    from peerpulse.worker.org.status import _row, render_table

    with open_store(tmp_path / "state.sqlite3") as store:
        report(store, "ann", SyncProgress(complete=False, done=0.3, detail="folders loaded: "
                                          "sentitems; loading: inbox"))
        store.apply_batch("bob", SOURCE, SyncBatch(cursor="c"))
        rows = [_row(store, name, SimpleNamespace(recipient=f"{name}@x.example"), "enrolled")
                for name in ("ann", "bob")]
    assert rows[0]["history_loading"]["percent_done"] == 30
    assert rows[1]["history_loading"] is None  # no report: complete
    table = render_table(rows)
    assert "loading 30%" in table.splitlines()[1] and "loading" not in table.splitlines()[2]
