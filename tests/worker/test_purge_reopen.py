"""A purge made on a clock far ahead is undone once the clock is right (issue 10, item 1).

The files connector's cursor says "everything in this mbox is stored": after a
purge at a clock three years ahead (with the share limit raised for that run,
as the refusal message invites), the messages would never come back. The purge
leaves a horizon per source; a later sync whose retention reaches behind it
re-reads the source in full.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from peerpulse.connectors.memory import MemorySource
from peerpulse.connectors.records import MessageMeta
from peerpulse.worker.cli import Env, main
from peerpulse.worker.store import open_store
from peerpulse.worker.sync import _sync_source

T = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
AHEAD = T + timedelta(days=3 * 365)


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def _mbox(n: int) -> str:
    parts = []
    for i in range(n):
        when = T - timedelta(days=2 * i + 1)
        parts.append(
            f"From lee@example.com {when:%a %b %d %H:%M:%S %Y}\n"
            f"Message-ID: <m{i}@example.com>\n"
            f"Date: {when:%a, %d %b %Y %H:%M:%S +0000}\n"
            "From: Lee Park <lee@example.com>\n"
            "To: Dana Reyes <dana.reyes@example.com>\n"
            f"Subject: note {i}\n\nbody is never read\n\n"
        )
    return "".join(parts)


# A weekly meeting without end: expanded around whatever "now" the sync runs at,
# so at a clock three years ahead the newest stored record is three years ahead too
# and the purge (measured from the newest record) reaches every real message.
ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//purge//EN
BEGIN:VEVENT
UID:weekly@example.com
DTSTART:20260105T100000Z
DTEND:20260105T103000Z
RRULE:FREQ=WEEKLY
SUMMARY:Team sync
ORGANIZER:mailto:dana.reyes@example.com
ATTENDEE:mailto:lee@example.com
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "mail.mbox").write_text(_mbox(30))
    (tmp_path / "cal.ics").write_text(ICS)
    path = tmp_path / "config.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        "[[accounts]]\n"
        'name = "a"\nowner = "dana.reyes@example.com"\ntimezone = "UTC"\n'
        '[accounts.source]\ntype = "files"\n'
        'calendar = ["cal.ics"]\nmail = ["mail.mbox"]\n'
        '[accounts.delivery]\ntype = "stdout"\n'
    )
    return path


def _counts(config: Path) -> tuple[int, int]:
    with open_store(config.parent / "state" / "peerpulse.sqlite3", read_only=True) as store:
        counts = store.counts("a")
    return counts.events, counts.messages


def test_history_purged_at_a_clock_ahead_comes_back_at_the_right_time(config, monkeypatch):
    code, _, err = cli("--config", str(config), "sync", "--now", T.isoformat())
    assert code == 0, err
    before = _counts(config)
    assert before[1] == 30 and before[0] > 40

    monkeypatch.setenv("PEERPULSE_PRIVACY__MAX_PURGE_SHARE", "1")
    code, _, err = cli("--config", str(config), "sync", "--now", AHEAD.isoformat())
    assert code == 0, err
    assert _counts(config)[1] == 0  # the jump did destroy the stored mail

    monkeypatch.delenv("PEERPULSE_PRIVACY__MAX_PURGE_SHARE")
    code, _, err = cli("--config", str(config), "sync", "--now", T.isoformat())
    assert code == 0, err
    assert _counts(config) == before
    assert "re-reading the source in full" in err

    # Settled: the next sync at the right time reads nothing again.
    code, _, err = cli("--config", str(config), "-v", "sync", "--now", T.isoformat())
    assert code == 0 and "re-reading" not in err
    assert _counts(config) == before


def _daily(n: int) -> list[MessageMeta]:
    return [
        MessageMeta(f"m{i}", f"m{i}", None, T - timedelta(days=i), "lee@example.com",
                    ("dana@example.com",))
        for i in range(n)
    ]


def test_an_ordinary_retention_purge_never_reopens_the_source(store):
    _sync_source(store, "a", MemorySource("mail", _daily(50)), None)
    cursor = store.cursor("a", "mail")
    assert store.purge_before("a", T - timedelta(days=30)) == {"events": 0, "messages": 19,
                                                              "commands": 0}
    # The next day's cutoff is later than the purge's: the cursor stays.
    assert store.reopen_purged("a", T - timedelta(days=29)) == []
    assert store.reopen_purged("a", T - timedelta(days=30)) == []
    assert store.cursor("a", "mail") == cursor


def test_a_cutoff_behind_the_purge_horizon_drops_the_cursor_once(store):
    _sync_source(store, "a", MemorySource("mail", _daily(50)), None)
    store.purge_before("a", T - timedelta(days=10))
    store.purge_before("a", T - timedelta(days=30))  # an older purge never lowers the horizon
    assert store.reopen_purged("a", T - timedelta(days=11)) == ["mail"]
    assert store.cursor("a", "mail") is None
    assert store.reopen_purged("a", T - timedelta(days=11)) == []
