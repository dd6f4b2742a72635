"""The CLI end to end on a small demo organization, as a user runs it.

demo -> run (sync + digest into files) -> rerun changes nothing -> status,
explain, rules check, digest --dry-run --format json (checked against the
published JSON Schema), and a broken user rule file stopping with exit 2.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import jsonschema
import pytest
from peerpulse.worker.cli import Env, main

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-23T09:30:00+00:00"  # a Monday, after the 07:00 Berlin due time


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    code, out, _ = cli("demo", "--out", str(root / "demo"), "--end", "2026-11-22",
                       "--managers", "24", "--months", "3")
    assert code == 0 and "demo organization written" in out
    meta = json.loads((root / "demo" / "demo.json").read_text())
    config = root / "config.toml"
    config.write_text(
        (REPO / "config.example.toml").read_text()
        .replace('# state_dir = "~/.local/state/peerpulse"', f'state_dir = "{root / "state"}"')
        .replace('aliases = ["dana@example.com", "dana.reyes@example.co.uk"]',
                 f"aliases = {json.dumps(meta['aliases'])}")
    )
    return root, config


@pytest.fixture(scope="module")
def first_run(org):
    root, config = org
    return cli("--config", str(config), "run", "--now", NOW)


def test_run_syncs_and_writes_the_digest_files(org, first_run):
    root, _ = org
    code, _, err = first_run
    assert code == 0, err
    written = sorted(p.name for p in (root / "out").iterdir())
    assert written == ["2026-W48-demo.eml", "2026-W48-demo.html", "2026-W48-demo.txt"]
    text = (root / "out" / "2026-W48-demo.txt").read_text()
    assert "PEER OF THE WEEK" in text.upper()


def test_run_is_quiet_on_success_when_not_on_a_terminal(first_run):
    _, out, err = first_run
    assert out == "" and err == ""


def test_a_second_run_in_the_same_period_sends_nothing_new(org, first_run):
    root, config = org
    before = {p.name: p.stat().st_mtime_ns for p in (root / "out").iterdir()}
    code, out, err = cli("--config", str(config), "-v", "run", "--now", NOW)
    assert code == 0, err
    assert "already sent" in out
    assert {p.name: p.stat().st_mtime_ns for p in (root / "out").iterdir()} == before


def test_status_reports_counts_and_the_next_digest(org, first_run):
    _, config = org
    code, out, _ = cli("--config", str(config), "status", "--json", "--now", NOW)
    assert code == 0
    (account,) = json.loads(out)
    assert account["counts"]["messages"] > 500
    assert account["counts"]["events"] > 50
    assert {s["source"] for s in account["sources"]} == {
        "demo/calendar", "demo/mail", "demo/people.csv"} or len(account["sources"]) == 3
    assert account["last_digest"].startswith("2026-W48 sent")
    assert account["next_digest"].startswith("2026-11-30T07:00")
    assert account["management_chain_known"] is True  # the demo directory has managers


def test_digest_json_matches_the_published_schema(org, first_run):
    _, config = org
    code, out, _ = cli("--config", str(config), "digest", "--dry-run", "--format", "json",
                       "--now", NOW)
    assert code == 0
    digest = json.loads(out)
    schema = json.loads((REPO / "docs" / "digest.schema.json").read_text())
    jsonschema.validate(digest, schema)
    assert digest["period"] == "2026-W48"
    assert digest["peer_of_the_week"]["person"]["reasons"]


def test_a_record_that_stops_weeks_before_the_digest_is_named_at_the_top(org, first_run):
    """An export taken a month ago reads as a month of silence with everyone: the
    digest says where the record stops instead of presenting every tie as slipping
    (seen on the Enron mail, where some mailboxes end in July)."""
    _, config = org
    code, out, _ = cli("--config", str(config), "digest", "--dry-run", "--format", "json",
                       "--now", NOW)
    assert code == 0 and "quiet_sources" not in json.loads(out)["stats"]
    later = "2026-12-23T09:30:00+00:00"  # the demo's mail and meetings end on 22 Nov
    code, out, _ = cli("--config", str(config), "digest", "--dry-run", "--format", "json",
                       "--now", later)
    assert code == 0
    jsonschema.validate(json.loads(out), json.loads(
        (REPO / "docs" / "digest.schema.json").read_text()))
    quiet = {q["kind"]: q for q in json.loads(out)["stats"]["quiet_sources"]}
    assert set(quiet) == {"mail", "calendar"}
    assert quiet["mail"]["newest"] <= "2026-11-22" and int(quiet["mail"]["days"]) > 14
    code, out, _ = cli("--config", str(config), "digest", "--dry-run", "--now", later)
    assert code == 0
    head = " ".join(out.split("PEER OF THE WEEK")[0].split())
    assert "WARNING: The newest mail on record is from" in head
    assert "newest meeting on record" in head


def test_explain_shows_counted_and_excluded_records_for_a_peer(org, first_run):
    _, config = org
    code, out, _ = cli("--config", str(config), "digest", "--dry-run", "--format", "json",
                       "--now", NOW)
    peer = json.loads(out)["peer_of_the_week"]["person"]["email"]
    code, out, _ = cli("--config", str(config), "explain", peer, "--now", NOW)
    assert code == 0
    assert "verdict: peer" in out
    assert "cadence:" in out and "reasons:" in out


def test_rules_check_counts_what_each_rule_did(org, first_run):
    _, config = org
    code, out, _ = cli("--config", str(config), "rules", "check", "--now", NOW)
    assert code == 0
    assert "rules OK" in out
    assert "noise.mail.exclude_list_id" in out
    assert "reciprocity: 0 peers keep you informed" in out  # the demo's standard variant


def test_a_broken_user_rule_file_stops_with_exit_2_naming_file_and_line(org, tmp_path):
    root, config = org
    rules = tmp_path / "my-rules.toml"
    rules.write_text("[noise.mail]\nmax_recipients = 15\nmax_recipents = 20\n")
    broken = tmp_path / "config.toml"
    broken.write_text(config.read_text().replace("rules = []", f'rules = ["{rules}"]'))
    code, _, err = cli("--config", str(broken), "run", "--now", NOW)
    assert code == 2
    assert f"{rules}:3" in err and "max_recipents" in err and "max_recipients" in err
    assert "Traceback" not in err


def test_the_example_config_without_demo_files_names_the_command_that_creates_them(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        (REPO / "config.example.toml").read_text()
        .replace('# state_dir = "~/.local/state/peerpulse"', f'state_dir = "{tmp_path / "s"}"')
    )
    code, _, err = cli("--config", str(config), "run", "--now", NOW)
    assert code == 1
    assert f"hint: create the demo organization with: peerpulse demo --out {tmp_path}/demo" in err
    assert "demo: no digest this run because the sync failed" in err
    assert not (tmp_path / "out").exists()


def test_today_is_the_default_demo_end(tmp_path):
    code, _, _ = cli("demo", "--out", str(tmp_path / "d"), "--managers", "22", "--months", "1")
    assert code == 0
    meta = json.loads((tmp_path / "d" / "demo.json").read_text())
    assert meta["end"] == date.today().isoformat()


def test_demo_writes_a_variant_and_refuses_an_unknown_one(tmp_path):
    code, _, _ = cli("demo", "--out", str(tmp_path / "d"), "--managers", "22", "--months", "1",
                     "--variant", "no_manager")
    assert code == 0
    meta = json.loads((tmp_path / "d" / "demo.json").read_text())
    assert meta["variant"] == "no_manager"
    assert "manager" not in (tmp_path / "d" / "people.csv").read_text().splitlines()[0]
    code, _, err = cli("demo", "--out", str(tmp_path / "e"), "--variant", "nope")
    assert code == 2 and "--variant must be one of standard, series" in err
    assert not (tmp_path / "e").exists()


def test_a_second_concurrent_run_exits_75_at_once(org, first_run):
    from peerpulse.worker.config import load_settings
    from peerpulse.worker.lock import run_lock

    _, config = org
    with run_lock(load_settings(config).state_path):
        code, _, err = cli("--config", str(config), "run", "--now", NOW)
    assert code == 75
    assert "another peerpulse run holds" in err


def test_explain_strips_invisible_and_control_characters_from_the_terminal(
        org, first_run, monkeypatch):
    from peerpulse.rules.explain import Explanation
    from peerpulse.worker import commands

    class SpoofedText(Explanation):
        __slots__ = ()

        def __str__(self) -> str:
            return ("Al\u200bi\u202ece\u2066 <alice@example.com>\n"
                    "  verdict: peer\u2069\ufeff\n  note: \x1b[2Jcleared")

    class Spoofed:
        def explain(self, email: str) -> Explanation:
            return SpoofedText(email, "Alice", None, None, True, "peer")

    monkeypatch.setattr(commands, "compute_for_account", lambda *a, **k: Spoofed())
    _, config = org
    code, out, _ = cli("--config", str(config), "explain", "alice@example.com", "--now", NOW)
    assert code == 0
    assert "Alice <alice@example.com>" in out
    assert "  verdict: peer\n" in out
    assert "\x1b" not in out
    assert not [c for c in out if c in "\u200b\u202e\u2066\u2069\ufeff"]


@contextmanager
def _read_only_tree(directory: Path) -> Iterator[None]:
    """Make ``directory`` and its files unwritable even for root (chattr +i), or by
    mode bits for an ordinary user; skip where neither is possible."""
    paths = [directory, *directory.iterdir()]
    if os.geteuid() != 0:
        for p in paths:
            p.chmod(0o500 if p.is_dir() else 0o400)
        try:
            yield
        finally:
            for p in paths:
                p.chmod(0o700 if p.is_dir() else 0o600)
        return
    if subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True).returncode:
        subprocess.run(["chattr", "-i", *map(str, paths)], capture_output=True)
        pytest.skip("cannot make a directory read-only for root here (no chattr +i)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


def test_status_and_dry_run_work_on_a_read_only_state_directory(org, first_run, tmp_path):
    root, config = org
    state = tmp_path / "state"
    shutil.copytree(root / "state", state)
    moved = tmp_path / "config.toml"
    moved.write_text(config.read_text().replace(str(root / "state"), str(state)))
    before = sorted(p.name for p in state.iterdir())
    with _read_only_tree(state):
        code, out, err = cli("--config", str(moved), "status", "--now", NOW)
        assert code == 0, err
        assert "last digest: 2026-W48 sent" in out
        code, out, err = cli("--config", str(moved), "digest", "--dry-run", "--format", "json",
                             "--now", NOW)
        assert code == 0, err
        assert json.loads(out)["period"] == "2026-W48"
    assert sorted(p.name for p in state.iterdir()) == before


def test_a_dry_run_without_a_database_says_so_and_creates_nothing(org, tmp_path):
    _, config = org
    empty = tmp_path / "config.toml"
    empty.write_text(re.sub(r'(?m)^state_dir = ".*"$', f'state_dir = "{tmp_path / "none"}"',
                            config.read_text()))
    code, out, err = cli("--config", str(empty), "digest", "--dry-run", "--now", NOW)
    assert code == 1
    assert "no state yet" in err and str(tmp_path / "none") in err
    assert "Traceback" not in err
    assert not (tmp_path / "none").exists()


def _copy_org(root: Path, config: Path, to: Path) -> Path:
    """A private copy of the demo organization after its first run."""
    shutil.copytree(root, to, ignore=shutil.ignore_patterns("e2e*"))
    copied = to / "config.toml"
    copied.write_text(config.read_text().replace(str(root), str(to)))
    return copied


@pytest.mark.parametrize("damage", ["zero-bytes", "deleted", "replaced"])
def test_a_lost_or_replaced_database_is_refused_and_never_resends_the_week(
        org, first_run, tmp_path, damage):
    root, config = org
    assert first_run[0] == 0
    work = tmp_path / "org"
    copied = _copy_org(root, config, work)
    db = next((work / "state").glob("*.sqlite3"))
    assert (db.parent / (db.name + ".marker")).exists()
    for stale in db.parent.glob(db.name + "-*"):
        stale.unlink()
    if damage == "zero-bytes":
        db.write_bytes(b"")
    elif damage == "deleted":
        db.unlink()
    else:
        db.unlink()
        from peerpulse.worker.store import open_store
        open_store(db).close()
    before = db.read_bytes() if db.exists() else None
    for out in (work / "out").iterdir():
        out.unlink()

    code, out, err = cli("--config", str(copied), "run", "--now", NOW)
    assert code == 1
    assert str(db) in err and "--accept-new-store" in err and "demo 2026-W48" in err
    assert "Traceback" not in err
    assert (db.read_bytes() if db.exists() else None) == before
    assert not list((work / "out").iterdir())

    code, out, err = cli("--config", str(copied), "run", "--now", NOW, "--accept-new-store")
    assert code == 0, err
    assert not list((work / "out").iterdir()), "the week already sent went out again"
    code, out, err = cli("--config", str(copied), "run", "--now", NOW)
    assert code == 0, err
    assert not list((work / "out").iterdir())


def test_an_owner_in_no_record_warns_in_status_and_digest_and_run_exits_1(org, tmp_path):
    # A typo in the owner address: the data is all there, but none of it is the owner's.
    root, config = org
    wrong = root / "wrong.toml"
    wrong.write_text(
        config.read_text()
        .replace('owner = "dana.reyes@example.com"', 'owner = "dana.reyse@example.com"')
        .replace(f'state_dir = "{root / "state"}"', f'state_dir = "{tmp_path / "state"}"')
        .replace('dir = "out"', f'dir = "{tmp_path / "out"}"')
    )
    wrong.write_text("\n".join(
        line for line in wrong.read_text().splitlines() if not line.startswith("aliases")
    ))
    code, _, err = cli("--config", str(wrong), "run", "--now", NOW)
    assert code == 1
    assert "owner dana.reyse@example.com appears in none of the" in err
    code, out, _ = cli("--config", str(wrong), "status", "--now", NOW)
    assert code == 0 and "WARNING: demo: owner dana.reyse@example.com appears in none" in out
    code, out, _ = cli("--config", str(wrong), "digest", "--dry-run", "--now", NOW)
    assert "Subject: Week 48: your address was not found in your data" in out
    assert "WARNING: Your address dana.reyse@example.com appears in none of the" in out
    assert "PEER OF THE WEEK" not in out and "Nothing to do this week" not in out


def test_a_dry_run_after_a_rule_edit_says_how_it_differs_from_the_sent_digest(
        org, first_run, tmp_path):
    """Issue 9, item 12: the owner puts this week's peer of the week on the never list;
    the dry run recomputes and says who is no longer named, on stderr."""
    root, config = org
    assert first_run[0] == 0
    sent = (root / "out" / "2026-W48-demo.txt").read_text()
    same = cli("--config", str(config), "digest", "--dry-run", "--now", NOW)
    assert same[0] == 0 and "names the same people" in same[2]
    pick = re.search(r"<([^>]+@[^>]+)>", sent.split("PEER OF THE WEEK", 1)[1]).group(1)
    rules = tmp_path / "never.toml"
    rules.write_text(f'[recommend]\nnever = ["{pick}"]\n')
    edited = tmp_path / "config.toml"
    edited.write_text(config.read_text().replace("rules = []", f'rules = ["{rules}"]'))
    code, out, err = cli("--config", str(edited), "digest", "--dry-run", "--now", NOW)
    assert code == 0, err
    assert pick not in out
    assert "would differ" in err and "no longer named" in err and pick in err


def test_without_a_manager_column_status_and_rules_check_say_the_chain_is_unknown(
        org, tmp_path):
    """Issue 9, item 2: with no manager column the chain exclusions cannot apply;
    `status` and `rules check` say so instead of silently treating bosses as peers."""
    import csv

    root, config = org
    rows = list(csv.DictReader((root / "demo" / "people.csv").open(encoding="utf-8")))
    fields = [f for f in rows[0] if f != "manager"]
    flat = tmp_path / "people.csv"
    with flat.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    state = tmp_path / "state"
    edited = tmp_path / "config.toml"
    edited.write_text(config.read_text()
                      .replace('"demo/people.csv"', f'"{flat}"')
                      .replace('"demo/', f'"{root}/demo/')
                      .replace(str(root / "state"), str(state)))
    code, _, err = cli("--config", str(edited), "sync", "--now", NOW)
    assert code == 0, err
    code, out, err = cli("--config", str(edited), "rules", "check", "--now", NOW)
    assert code == 0, err
    assert "no manager column" in out
    code, out, err = cli("--config", str(edited), "status", "--now", NOW)
    assert "no manager column" in out


def test_a_clock_behind_the_newest_week_sent_is_refused_and_never_sends_the_older_week(
        org, first_run, tmp_path):
    # issue 10, item 1: W49 went out, then the clock jumps back into W48.
    root, config = org
    assert first_run[0] == 0
    work = tmp_path / "org"
    copied = _copy_org(root, config, work)
    later = "2026-11-30T09:30:00+00:00"
    code, _, err = cli("--config", str(copied), "run", "--now", later)
    assert code == 0, err
    for out in (work / "out").iterdir():
        out.unlink()

    code, _, err = cli("--config", str(copied), "run", "--now", NOW)
    assert code == 1
    assert "clock is behind" in err and "2026-W49" in err and "--accept-clock" in err
    assert "Traceback" not in err
    assert not list((work / "out").iterdir())

    code, _, err = cli("--config", str(copied), "run", "--now", NOW, "--accept-clock")
    assert code == 1
    assert "2026-W48 not sent" in err
    assert not list((work / "out").iterdir()), "an older week went out after a newer one"


def test_explain_shows_subjects_and_titles_when_subjects_are_kept(org, first_run):
    """Issue 9, item 11: a manager recognises a record by its subject, not its id."""
    root, config = org
    sent = (root / "out" / "2026-W48-demo.txt").read_text()
    checked = 0
    for pick in dict.fromkeys(re.findall(r"<([^>]+@[^>]+)>", sent)):
        code, out, err = cli("--config", str(config), "explain", pick, "--now", NOW)
        assert code == 0, err
        counted = out.split("counted records", 1)[1].split("excluded records", 1)[0]
        rows = [line for line in counted.splitlines()[1:] if line.strip()]
        assert all(re.search(r"w=\S+.*  (['\"]).+\1  \S+$", line) for line in rows), rows
        checked += len(rows)
    assert checked


@pytest.mark.parametrize("policy", ["send", "hold"])
def test_a_failed_source_keeps_its_data_and_the_digest_says_it_is_stale(
        org, first_run, tmp_path, policy):
    """Issue 10, item 5: one missing export no longer blocks every digest; the week's
    digest goes out from the stored data with a visible note (exit 1), or is held
    when the owner asked for that."""
    root, config = org
    copied = _copy_org(root, config, tmp_path / "org")
    if policy == "hold":
        text = copied.read_text()
        assert 'on_source_failure = "send"' in text
        copied.write_text(text.replace('on_source_failure = "send"',
                                       'on_source_failure = "hold"'))
    shutil.rmtree(tmp_path / "org" / "demo" / "mail")
    code, _, err = cli("--config", str(copied), "run", "--now", "2026-11-30T09:30:00+00:00")
    assert code == 1
    assert "demo/mail" in err
    out = tmp_path / "org" / "out"
    if policy == "hold":
        assert not (out / "2026-W49-demo.txt").exists()
        assert "no digest this run because the sync failed" in err
        return
    text = (out / "2026-W49-demo.txt").read_text()
    assert "NOTE: Could not sync mail this run" in text
    assert "Could not sync mail this run" in (out / "2026-W49-demo.html").read_text()


def test_a_run_with_no_digest_due_carries_the_checkpoint_forward_once_a_day(
        org, first_run, tmp_path):
    """The digest of the first run kept its inference checkpoint 3 days before its
    ``now``; the next day's run sends nothing and moves it a day on (the weekly
    digest then reads ~3 days of records, not ~10); a run later that day does not."""
    from datetime import datetime

    from peerpulse.worker.config import load_settings
    from peerpulse.worker.store import open_store

    root, config = org
    copied = _copy_org(root, config, tmp_path / "copy")
    settings = load_settings(copied)

    def horizon() -> str:
        with open_store(settings.database_path) as store:
            found = store.digest_checkpoint(settings.accounts[0].name)
        assert found is not None and found.horizon is not None
        return datetime.fromtimestamp(found.horizon).astimezone().isoformat()

    def at(text: str) -> str:
        return datetime.fromisoformat(text).astimezone().isoformat()

    assert horizon() == at("2026-11-20T09:30:00+00:00")
    sent = sorted(p.name for p in (tmp_path / "copy" / "out").iterdir())
    code, _, err = cli("--config", str(copied), "run", "--now", "2026-11-24T09:30:00+00:00")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "copy" / "out").iterdir()) == sent
    assert horizon() == at("2026-11-21T09:30:00+00:00")
    code, _, err = cli("--config", str(copied), "run", "--now", "2026-11-24T20:00:00+00:00")
    assert code == 0, err
    assert horizon() == at("2026-11-21T09:30:00+00:00")
