"""A re-read of old mail is not a mass purge; a clock jump still is (issue 10 follow-up, item 5).

The share guard (``privacy.max_purge_share``) protects history the store held
before a sync. When an mbox is exported again with years of older mail (or its
cursor is reset), the sync brings in records that retention removes at once:
that purge destroys nothing that was held, and refusing it made every `run`
exit 1 from then on (the records stayed, so each next purge was refused too).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from peerpulse.worker.cli import Env, main
from peerpulse.worker.store import open_store

T = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def _mbox(days_ago: range) -> str:
    parts = []
    for i in days_ago:
        when = T - timedelta(days=i, hours=1)
        parts.append(
            f"From lee@example.com {when:%a %b %d %H:%M:%S %Y}\n"
            f"Message-ID: <m{i}@example.com>\n"
            f"Date: {when:%a, %d %b %Y %H:%M:%S +0000}\n"
            "From: Lee Park <lee@example.com>\n"
            "To: Dana Reyes <dana.reyes@example.com>\n"
            f"Subject: note {i}\n\nbody is never read\n\n"
        )
    return "".join(parts)


RECENT = range(0, 60, 2)  # 30 messages of the last two months
OLD = range(500, 1100, 6)  # 100 messages far outside 400 days of retention


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "mail.mbox").write_text(_mbox(RECENT))
    path = tmp_path / "config.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        "[[accounts]]\n"
        'name = "a"\nowner = "dana.reyes@example.com"\ntimezone = "UTC"\n'
        '[accounts.source]\ntype = "files"\nmail = ["mail.mbox"]\nwindow_past_days = 3650\n'
        '[accounts.delivery]\ntype = "stdout"\n'
    )
    return path


def _messages(config: Path) -> int:
    with open_store(config.parent / "state" / "peerpulse.sqlite3", read_only=True) as store:
        return store.counts("a").messages


def test_an_export_re_read_with_years_of_old_mail_is_purged_without_refusal(config):
    code, _, err = cli("--config", str(config), "sync", "--now", T.isoformat())
    assert code == 0, err
    assert _messages(config) == 30
    # The user exports the whole mailbox again, oldest first: the file is read anew.
    (config.parent / "mail.mbox").write_text(_mbox(OLD) + _mbox(RECENT))
    code, _, err = cli("--config", str(config), "sync", "--now", T.isoformat())
    assert "purge refused" not in err
    assert code == 0, err
    assert _messages(config) == 30  # retention applied: the old mail is not kept
    code, _, err = cli("--config", str(config), "run", "--now", T.isoformat())
    assert code == 0 and "purge refused" not in err, err


def test_a_clock_jump_after_such_a_re_read_is_still_refused(config):
    (config.parent / "mail.mbox").write_text(_mbox(OLD) + _mbox(RECENT))
    code, _, err = cli("--config", str(config), "sync", "--now", T.isoformat())
    assert code == 0, err
    assert _messages(config) == 30
    # Two years ahead, and the newest record is made new by a mail of that time:
    # the held messages would all go.
    ahead = T + timedelta(days=2 * 365)
    (config.parent / "mail.mbox").write_text(
        _mbox(OLD) + _mbox(RECENT) + _mbox(range(-2 * 365, -2 * 365 + 1)))
    _, _, err = cli("--config", str(config), "sync", "--now", ahead.isoformat())
    assert "purge refused" in err  # (`sync` reports it; `run` exits 1 for it)
    assert _messages(config) == 31
