"""Acting on advice end to end (issue 13): the CLI commands, and the digest's links
read back from an mbox of the owner's own sent mail.

demo -> run (digest with action links) -> the owner "clicks" links: mails to
themselves appended to an mbox (one real, the same one twice, a forged one, a
malformed one, a signed one naming a stranger) -> sync -> each applied once or
ignored with its reason -> the next digest leaves the person out and says what it
did; the command mails never count as interactions.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from peerpulse.worker.cli import Env, build_parser, main
from peerpulse.worker.overrides import command_key, command_subject

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-23T09:30:00+00:00"  # Monday of 2026-W48, after the 07:00 Berlin due time
OWNER = "dana.reyes@example.com"
LINK = re.compile(r'href="(mailto:[^"]+)"')


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    root = tmp_path_factory.mktemp("loop")
    code, _, _ = cli("demo", "--out", str(root / "demo"), "--end", "2026-11-22",
                     "--managers", "24", "--months", "3")
    assert code == 0
    meta = json.loads((root / "demo" / "demo.json").read_text())
    config = root / "config.toml"
    config.write_text(
        (REPO / "config.example.toml").read_text()
        .replace('# state_dir = "~/.local/state/peerpulse"', f'state_dir = "{root / "state"}"')
        .replace('aliases = ["dana@example.com", "dana.reyes@example.co.uk"]',
                 f"aliases = {json.dumps(meta['aliases'])}")
    )
    code, _, err = cli("--config", str(config), "run", "--now", NOW)
    assert code == 0, err
    return root, config


def _links(html: str) -> list[str]:
    """The action links (a person's name links to a plain mailto: too)."""
    return [unquote(u.replace("&amp;", "&")) for u in LINK.findall(html) if "subject=" in u]


def _self_mail(at: datetime, subject: str, n: int, to: str = OWNER) -> str:
    return (f"From dana@x {at:%a %b %d %H:%M:%S %Y}\n"
            f"Date: {format_datetime(at)}\nMessage-ID: <cmd{n}@example.com>\n"
            f"From: Dana Reyes <{OWNER}>\nTo: {to}\nSubject: {subject}\n\n\n")


@pytest.mark.parametrize("command", ["snooze", "done", "never", "undo", "list-overrides"])
def test_every_override_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([command, "--help"])
    assert exited.value.code == 0
    assert "usage: peerpulse" in capsys.readouterr().out


def test_the_digest_carries_signed_snooze_done_never_links_to_the_owner(org):
    root, _ = org
    html = (root / "out" / "2026-W48-demo.html").read_text()
    links = _links(html)
    assert links, "no action links in the HTML digest"
    snoozes = [u for u in links if "subject=peerpulse: snooze" in u]
    assert snoozes and all(u.startswith(f"mailto:{OWNER}?subject=") for u in links)
    assert re.search(r"snooze \S+@example\.com 4w 2026-W48 [0-9a-f]{16}$", snoozes[0])
    assert ">snooze 4 weeks</a> &middot; <a" in html
    text = (root / "out" / "2026-W48-demo.txt").read_text()
    assert "peerpulse snooze|done|never <email>" in text
    key = root / "state" / "command.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.read_text().strip() not in html + text


def test_links_clicked_in_the_digest_apply_once_and_the_next_digest_says_so(org):
    root, config = org
    html = (root / "out" / "2026-W48-demo.html").read_text()
    snooze = next(u for u in _links(html) if "subject=peerpulse: snooze" in u)
    subject = snooze.split("subject=", 1)[1]
    person = subject.split()[2]
    key = command_key(root / "state", create=False)
    assert key is not None
    stranger = command_subject(key, "demo", "never", "nobody@elsewhere.example", "2026-W48")
    forged = subject[:-16] + "0" * 16
    at = datetime.fromisoformat(NOW) + timedelta(hours=2)
    mbox = root / "demo" / "mail" / "sent-commands.mbox"
    mbox.write_text("".join([
        _self_mail(at, subject, 1),
        _self_mail(at + timedelta(minutes=1), subject, 2),  # the same link used again
        _self_mail(at + timedelta(minutes=2), forged, 3),
        _self_mail(at + timedelta(minutes=3), "peerpulse: snooze please", 4),
        _self_mail(at + timedelta(minutes=4), stranger, 5),
    ]))
    before = json.loads(cli("--config", str(config), "status", "--json", "--now", NOW)[1])
    sync_at = (at + timedelta(hours=1)).isoformat()
    code, _, err = cli("--config", str(config), "sync", "--now", sync_at)
    assert code == 0, err
    after = json.loads(cli("--config", str(config), "status", "--json", "--now", NOW)[1])
    # command mails are never messages, so never interactions
    assert after[0]["counts"]["messages"] == before[0]["counts"]["messages"]

    code, out, _ = cli("--config", str(config), "list-overrides", "--json", "--now", sync_at)
    (listed,) = json.loads(out)
    assert [(o["email"], o["action"], o["source"], o["until"]) for o in listed["overrides"]] == [
        (person, "snooze", "mail", "2026-12-21")]
    reasons = sorted(c["detail"] for c in listed["ignored_commands"])
    assert len(reasons) == 4
    assert any("already applied" in r for r in reasons)
    assert any("signature does not match" in r for r in reasons)
    assert any("not a command peerpulse understands" in r for r in reasons)
    assert any("nobody@elsewhere.example is not in your people file" in r for r in reasons)

    # a second sync reads the same mailbox again: nothing is applied twice
    assert cli("--config", str(config), "sync", "--now", sync_at)[0] == 0
    code, out, _ = cli("--config", str(config), "list-overrides", "--json", "--all")
    assert len(json.loads(out)[0]["overrides"]) == 1

    next_week = "2026-11-30T09:30:00+00:00"
    code, out, _ = cli("--config", str(config), "digest", "--dry-run", "--format", "json",
                       "--now", next_week)
    digest = json.loads(out)
    named = {p["email"] for p in digest["reconnect"]} | {p["email"] for p in digest["feedback"]}
    if digest["peer_of_the_week"]:
        named.add(digest["peer_of_the_week"]["person"]["email"])
    assert person not in named
    code, out, _ = cli("--config", str(config), "digest", "--dry-run", "--now", next_week)
    assert "DONE FROM YOUR LINKS" in out
    assert re.search(r"Snoozed .+ until 21 Dec 2026", out)
    assert "Ignored a command mail of 2026-11-23: the signature does not match" in out

    code, out, _ = cli("--config", str(config), "explain", person, "--now", next_week)
    assert "override: snoozed until 2026-12-21 (mail, 2026-11-23)" in out
    assert "peerpulse:" not in out  # the command mail is no record of the person


def test_cli_snooze_done_never_undo_and_list(org):
    root, config = org
    code, out, _ = cli("--config", str(config), "digest", "--dry-run", "--format", "json",
                       "--now", NOW)
    person = json.loads(out)["reconnect"][0]["email"]
    code, out, err = cli("--config", str(config), "never", person, "--now", NOW)
    assert code == 0, err
    assert "will never suggest" in out
    code, out, _ = cli("--config", str(config), "digest", "--dry-run", "--format", "json",
                       "--now", NOW)
    assert person not in {p["email"] for p in json.loads(out)["reconnect"]}
    code, out, _ = cli("--config", str(config), "undo", person, "--now", NOW)
    assert code == 0 and "undone: will never suggest" in out
    code, out, _ = cli("--config", str(config), "digest", "--dry-run", "--format", "json",
                       "--now", NOW)
    assert person in {p["email"] for p in json.loads(out)["reconnect"]}

    code, out, _ = cli("--config", str(config), "done", person, "--now", NOW)
    assert code == 0 and "counts as an interaction today" in out
    code, out, _ = cli("--config", str(config), "explain", person, "--now", NOW)
    assert "last interaction: 2026-11-23 (today)" in out
    assert "marked_done" in out
    code, out, _ = cli("--config", str(config), "list-overrides", "--now", NOW)
    assert re.search(rf"{re.escape(person)}\s+done\s+cli", out)
    assert cli("--config", str(config), "undo", person, "--now", NOW)[0] == 0

    code, out, _ = cli("--config", str(config), "snooze", person, "--weeks", "2", "--now", NOW)
    assert code == 0 and "until 7 Dec 2026" in out
    assert cli("--config", str(config), "undo", person, "--now", NOW)[0] == 0
    code, _, err = cli("--config", str(config), "undo", person, "--now", NOW)
    assert code == 2 and "no snooze, done or never in force" in err


def test_an_unknown_address_is_a_clear_error_with_close_matches(org):
    _, config = org
    code, _, err = cli("--config", str(config), "snooze", "lee.chen@exampel.com")
    assert code == 2
    assert "is not in your people file or directory; did you mean lee.chen@example.com" in err
    assert "Traceback" not in err
    code, _, err = cli("--config", str(config), "snooze", "lee.chen@example.com", "--weeks", "0")
    assert code == 2 and "--weeks must be 1 to 104" in err


def test_talking_points_only_when_subjects_are_kept(org, monkeypatch):
    _, config = org
    code, out, _ = cli("--config", str(config), "digest", "--dry-run", "--now", NOW)
    assert code == 0 and "Last talked about: " in out
    code, out, _ = cli("--config", str(config), "digest", "--dry-run", "--format", "json",
                       "--now", NOW)
    points = json.loads(out)["stats"]["talking_points"]
    assert points and all(1 <= len(p) <= 3 for p in points.values())
    assert not any(t.lower().startswith(("re:", "fwd:")) for p in points.values() for t in p)
    monkeypatch.setenv("PEERPULSE_PRIVACY__SUBJECTS", "hashed")
    code, out, _ = cli("--config", str(config), "digest", "--dry-run", "--now", NOW)
    assert code == 0 and "Last talked about" not in out
