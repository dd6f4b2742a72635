"""Command subjects: signing, parsing, the key file (issue 13, item 2)."""

from __future__ import annotations

import pytest
from peerpulse.worker.errors import StateError
from peerpulse.worker.overrides import (
    command_key,
    command_subject,
    parse_command,
    sign,
)

KEY = b"k" * 32


def test_a_subject_round_trips_and_its_token_binds_every_field() -> None:
    subject = command_subject(KEY, "work", "snooze", "Lee@Example.com", "2026-W48", weeks=6)
    assert subject.startswith("peerpulse: snooze lee@example.com 6w 2026-W48 ")
    parsed = parse_command(subject.removeprefix("peerpulse: "))
    assert parsed is not None
    assert sign(KEY, "work", parsed.action, parsed.email, parsed.weeks, parsed.period) == \
        parsed.token
    others = {sign(KEY, "home", "snooze", "lee@example.com", 6, "2026-W48"),
              sign(KEY, "work", "never", "lee@example.com", 6, "2026-W48"),
              sign(KEY, "work", "snooze", "kim@example.com", 6, "2026-W48"),
              sign(KEY, "work", "snooze", "lee@example.com", 7, "2026-W48"),
              sign(KEY, "work", "snooze", "lee@example.com", 6, "2026-W49"),
              sign(b"j" * 32, "work", "snooze", "lee@example.com", 6, "2026-W48")}
    assert parsed.token not in others and len(others) == 6


@pytest.mark.parametrize("text", [
    "snooze lee@example.com 2026-W48 0123456789abcdef",  # snooze without weeks
    "done lee@example.com 4w 2026-W48 0123456789abcdef",  # weeks on a done
    "snooze lee@example.com 0w 2026-W48 0123456789abcdef",
    "snooze lee@example.com 999w 2026-W48 0123456789abcdef",
    "never lee@example.com 2026-W48 0123456789abcde",  # token too short
    "never lee 2026-W48 0123456789abcdef",
    "delete lee@example.com 2026-W48 0123456789abcdef",
    "never lee@example.com 2026-W48 0123456789abcdef extra",
    "",
])
def test_malformed_commands_are_refused(text: str) -> None:
    assert parse_command(text) is None


def test_the_key_is_made_once_0600_and_a_loose_or_damaged_one_is_refused(tmp_path) -> None:
    assert command_key(tmp_path / "state", create=False) is None
    key = command_key(tmp_path / "state", create=True)
    assert key is not None and len(key) == 32
    assert command_key(tmp_path / "state", create=True) == key
    path = tmp_path / "state" / "command.key"
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    with pytest.raises(StateError, match="chmod 600"):
        command_key(tmp_path / "state", create=False)
    path.chmod(0o600)
    path.write_text("not hex\n")
    with pytest.raises(StateError, match="damaged"):
        command_key(tmp_path / "state", create=False)


@pytest.mark.parametrize("subjects", ["kept", "hashed", "off"])
def test_a_settled_command_is_stored_as_the_privacy_setting_keeps_subjects(
        tmp_path, subjects: str) -> None:
    """A command mail's subject names a person: once applied it is kept like any
    subject (verbatim, hashed, or not at all), and an outcome quotes an address
    from it only when subjects are kept (issue 10 follow-up)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from peerpulse.connectors.records import MailCommand, Person, SyncBatch
    from peerpulse.worker.overrides import apply_mail_commands
    from peerpulse.worker.store import SqliteStore

    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    known = command_subject(KEY, "a", "snooze", "lee@example.com", "2026-W48")
    stranger = command_subject(KEY, "a", "never", "kim.stranger@example.org", "2026-W48")
    with SqliteStore(tmp_path / "s.db") as store:
        store.apply_batch("a", "mail", SyncBatch(upserts=[
            MailCommand("1@x", now, known.removeprefix("peerpulse: ")),
            MailCommand("2@x", now, stranger.removeprefix("peerpulse: ")),
        ], cursor="c"))
        settled = apply_mail_commands(store, "a", KEY, [Person("lee@example.com", "Lee Park")],
                                      ZoneInfo("Europe/Berlin"), now, subjects=subjects)
        assert [c.outcome for c in settled] == ["applied", "ignored"]
        stored = store.processed_commands("a", 0)
        assert [o.email for o in store.overrides("a")] == ["lee@example.com"]
    text = repr(stored)
    if subjects == "kept":
        assert [c.command for c in stored] == [known.removeprefix("peerpulse: "),
                                               stranger.removeprefix("peerpulse: ")]
        assert "kim.stranger@example.org is not in" in text
    else:
        assert "lee@example.com" not in text and "kim.stranger" not in text
        assert all(c.command.startswith("sha256:") if subjects == "hashed" else c.command == ""
                   for c in stored)
        assert "the address is not in your people file" in text
