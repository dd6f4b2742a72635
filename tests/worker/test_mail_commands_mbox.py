"""A command mail exported twice (issue 10 follow-up, item 4).

A user who exports both Inbox and Sent has each command mail twice: the copy
sent, and the copy delivered to themself (the same Message-ID, a few more
headers). It must apply once and never be reported as an ignored replay. The
Message-ID is the mbox record's id, so the store keeps one command row; without
one, each copy is its own row (a hash of its header block), and the signed
token still applies the command once.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from peerpulse.worker.cli import Env, main
from peerpulse.worker.overrides import command_key, command_subject
from peerpulse.worker.store import open_store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OWNER = "dana.reyes@example.com"
LEE = "lee@example.com"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def _command_mail(subject: str, at: datetime, *, delivered: bool, msgid: bool = True) -> str:
    extra = (f"Delivered-To: {OWNER}\nReceived: from mx.example.com by mail.example.com\n"
             if delivered else "")
    if msgid:
        extra += "Message-ID: <cmd1@example.com>\n"
    return (f"From dana@x {at:%a %b %d %H:%M:%S %Y}\n{extra}"
            f"Date: {format_datetime(at)}\n"
            f"From: Dana Reyes <{OWNER}>\nTo: {OWNER}\nSubject: {subject}\n\n\n")


def test_a_command_mail_in_both_inbox_and_sent_applies_once_and_is_not_a_replay(
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    key = command_key(state, create=True)
    assert key is not None
    subject = command_subject(key, "a", "snooze", LEE, "2026-W48")
    at = NOW - timedelta(hours=1)
    (tmp_path / "Sent.mbox").write_text(_command_mail(subject, at, delivered=False))
    (tmp_path / "Inbox.mbox").write_text(_command_mail(subject, at, delivered=True))
    config = _config(tmp_path, state)
    _sync_twice(config)
    with open_store(state / "peerpulse.sqlite3", read_only=True) as store:
        processed = store.processed_commands("a", 0)
        assert [(c.source_id, c.outcome) for c in processed] == [
            ("cmd1@example.com", "applied")]
        assert store.counts("a").messages == 0


def test_without_a_message_id_the_second_copy_changes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    key = command_key(state, create=True)
    assert key is not None
    subject = command_subject(key, "a", "never", LEE, "2026-W48")
    at = NOW - timedelta(hours=1)
    (tmp_path / "Sent.mbox").write_text(_command_mail(subject, at, delivered=False, msgid=False))
    (tmp_path / "Inbox.mbox").write_text(_command_mail(subject, at, delivered=True, msgid=False))
    config = _config(tmp_path, state)
    for _ in range(2):
        code, _, err = cli("--config", str(config), "sync", "--now", NOW.isoformat())
        assert code == 0, err
    with open_store(state / "peerpulse.sqlite3", read_only=True) as store:
        assert [(o.email, o.action) for o in store.overrides("a")] == [(LEE, "never")]
        outcomes = sorted(c.outcome or "" for c in store.processed_commands("a", 0))
        assert outcomes == ["applied", "ignored"]  # the copy: "already applied"


def _config(tmp_path: Path, state: Path) -> Path:
    (tmp_path / "people.csv").write_text(f"email,name\n{LEE},Lee Park\n")
    config = tmp_path / "config.toml"
    config.write_text(
        f'state_dir = "{state}"\n'
        "[[accounts]]\n"
        f'name = "a"\nowner = "{OWNER}"\ntimezone = "UTC"\n'
        '[accounts.source]\ntype = "files"\n'
        'mail = ["Inbox.mbox", "Sent.mbox"]\npeople = ["people.csv"]\n'
        '[accounts.delivery]\ntype = "stdout"\n'
    )
    return config


def _sync_twice(config: Path) -> None:
    for _ in range(2):  # and a second sync reading both again
        code, _, err = cli("--config", str(config), "sync", "--now", NOW.isoformat())
        assert code == 0, err
        code, out, err = cli("--config", str(config), "list-overrides", "--json",
                             "--now", NOW.isoformat())
        assert code == 0, err
        (listed,) = json.loads(out)
        assert [(o["email"], o["action"], o["source"]) for o in listed["overrides"]] == [
            (LEE, "snooze", "mail")]
        assert listed["ignored_commands"] == []
