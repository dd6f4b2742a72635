"""``peerpulse init`` and ``peerpulse people suggest`` (issue 13, item 3): a new user's
path from export files to a people file, without writing TOML or CSV by hand."""

from __future__ import annotations

import csv
import io
import json

import pytest
from peerpulse.worker.cli import Env, build_parser, main

NOW = "2026-11-23T09:30:00+00:00"
OWNER = "dana.reyes@example.com"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("setup")
    code, _, _ = cli("demo", "--out", str(root / "demo"), "--end", "2026-11-22",
                     "--managers", "24", "--months", "3")
    assert code == 0
    return root


@pytest.fixture
def initialized(demo, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    config = tmp_path / "cfg" / "config.toml"
    code, out, err = cli("--config", str(config), "init", "--owner", OWNER,
                         "--alias", "dana@example.com", "--timezone", "Europe/Berlin",
                         "--calendar", str(demo / "demo" / "calendar"),
                         "--mail", str(demo / "demo" / "mail"))
    assert code == 0, err
    return config, out


@pytest.mark.parametrize("words", [["init"], ["people"], ["people", "suggest"]])
def test_setup_commands_have_help(words, capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([*words, "--help"])
    assert exited.value.code == 0


def test_init_writes_a_commented_valid_config_and_runs_a_first_sync(initialized, tmp_path):
    config, out = initialized
    text = config.read_text()
    assert f'owner = "{OWNER}"' in text and 'timezone = "Europe/Berlin"' in text
    assert text.count("#") > 10  # commented
    assert "me/mail: 1,659 new or changed" in out
    assert "people suggest" in out
    assert (config.parent / "people.csv").read_text().startswith("email,name,aliases")
    assert (tmp_path / "xdg" / "peerpulse" / "peerpulse.sqlite3").is_file()
    code, _, err = cli("--config", str(config), "init", "--owner", OWNER, "--mail", "x")
    assert code == 2 and "exists; edit it, or pass --force" in err


def test_init_refuses_a_bad_zone_or_owner_without_writing(tmp_path):
    config = tmp_path / "config.toml"
    code, _, err = cli("--config", str(config), "init", "--owner", OWNER,
                       "--timezone", "Mars/Olympus", "--mail", "m.mbox")
    assert code == 2 and "unknown time zone 'Mars/Olympus'" in err
    code, _, err = cli("--config", str(config), "init", "--owner", "nobody",
                       "--timezone", "UTC", "--mail", "m.mbox")
    assert code == 2 and "owner address" in err
    assert not config.exists()


def test_people_suggest_ranks_real_correspondents_and_merge_keeps_what_you_filled(
        initialized, demo):
    config, _ = initialized
    people = config.parent / "people.csv"
    code, out, err = cli("--config", str(config), "people", "suggest", "--now", NOW,
                         "--limit", "20")
    assert code == 0, err
    rows = list(csv.DictReader(people.open()))
    assert len(rows) == 20
    emails = [r["email"] for r in rows]
    assert OWNER not in emails and "dana@example.com" not in emails
    truth = json.loads((demo / "demo" / "demo.json").read_text())
    assert all(r["name"] for r in rows)  # display names from the headers
    # the demo's automated senders write more often than most people: the noise rules ran
    code, out_all, _ = cli("--config", str(config), "people", "suggest", "--now", NOW,
                           "--limit", "500", "--min", "1", "--out", str(config.parent / "all.csv"))
    everyone = {r["email"] for r in csv.DictReader((config.parent / "all.csv").open())}
    for robot in ("jira@example.atlassian.net", "notifications@github.com",
                  "no-reply@pagerduty.com", "build-bot@example.com",
                  "mailer-daemon@googlemail.com"):
        assert robot not in everyone
    assert "omar.haddad@example.com" in emails[:3]
    assert "last contact" in out and "20 new, 0 kept" in out
    assert truth["owner"] == OWNER

    # the user fills a department; a second suggestion with --merge keeps it
    rows[0]["department"] = "Finance"
    rows[0]["title"] = "Head of FP&A"
    with people.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[:5])
    code, _, err = cli("--config", str(config), "people", "suggest", "--now", NOW,
                       "--limit", "20")
    assert code == 2 and "--merge keeps what you filled in" in err
    code, out, _ = cli("--config", str(config), "people", "suggest", "--now", NOW,
                       "--limit", "20", "--merge")
    assert code == 0 and "15 new, 5 kept" in out
    merged = list(csv.DictReader(people.open()))
    assert merged[0]["department"] == "Finance" and merged[0]["title"] == "Head of FP&A"
    assert len(merged) == 20 and len({r["email"] for r in merged}) == 20


def test_init_sets_up_an_installed_provider_from_its_own_template(tmp_path, monkeypatch):
    """``--source TYPE`` writes the provider's own [accounts.source] table (the worker
    names no provider) and prints the provider's next step instead of syncing."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    config = tmp_path / "cfg" / "config.toml"
    code, out, err = cli("--config", str(config), "init", "--owner", OWNER,
                         "--timezone", "Europe/Berlin", "--source", "google")
    assert code == 0, err
    assert 'type = "google"' in config.read_text()
    assert "peerpulse auth google --account me" in out
    assert not (tmp_path / "xdg" / "peerpulse" / "peerpulse.sqlite3").exists()


def test_init_names_the_sources_it_can_set_up_for_an_unknown_one(tmp_path):
    config = tmp_path / "config.toml"
    code, _, err = cli("--config", str(config), "init", "--owner", OWNER,
                       "--timezone", "Europe/Berlin", "--source", "carrier-pigeon")
    assert code == 2
    assert "carrier-pigeon" in err and "files, exchange, google, microsoft" in err
    assert not config.exists()
