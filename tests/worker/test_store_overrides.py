"""The Store contract for overrides and command mails (issue 13), through the protocol."""

from __future__ import annotations

from datetime import date, timedelta

from peerpulse.connectors.records import MailCommand, SyncBatch
from peerpulse.worker.store.protocol import Store
from peerpulse.worker.store.rows import StoredCommand, StoredOverride

from tests.worker.test_store_contract import AT, T0, backend  # noqa: F401 (fixture)


def _override(oid: str, email: str = "lee@example.com", action: str = "snooze", *,
              at: int = AT, token: str | None = None) -> StoredOverride:
    until = date(2026, 12, 1) if action == "snooze" else None
    return StoredOverride(oid, email, action, until, at, "cli", token)


def test_overrides_are_stored_with_time_and_source_and_undone_newest_first(
        backend: Store) -> None:  # noqa: F811
    assert backend.add_override("a", _override("1", action="never", at=AT))
    assert backend.add_override("a", _override("2", at=AT + 60))
    assert backend.add_override("b", _override("3", at=AT))  # another account
    stored = backend.overrides("a")
    assert [(o.override_id, o.action, o.until, o.source) for o in stored] == [
        ("1", "never", None, "cli"), ("2", "snooze", date(2026, 12, 1), "cli")]
    undone = backend.undo_override("a", ["lee@example.com"], AT + 120)
    assert undone is not None and undone.override_id == "2" and undone.undone_at == AT + 120
    assert [o.override_id for o in backend.overrides("a")] == ["1"]
    assert [o.undone_at for o in backend.overrides("a", include_undone=True)] == [
        None, AT + 120]
    assert backend.undo_override("a", ["lee@example.com"], AT + 180) is not None
    assert backend.undo_override("a", ["lee@example.com"], AT + 240) is None
    assert len(backend.overrides("b")) == 1


def test_a_token_applies_once(backend: Store) -> None:  # noqa: F811
    assert backend.add_override("a", _override("1", token="abc"))
    assert not backend.add_override("a", _override("2", token="abc"))
    assert backend.add_override("b", _override("3", token="abc"))  # tokens are per account
    assert [o.override_id for o in backend.overrides("a")] == ["1"]


def test_command_mails_arrive_with_a_batch_and_settle_once(backend: Store) -> None:  # noqa: F811
    command = MailCommand("c1@x", T0, "snooze lee@example.com 4w 2026-W45 00")
    backend.apply_batch("a", "mail", SyncBatch(upserts=[command], cursor="1"))
    backend.apply_batch("a", "mail", SyncBatch(upserts=[command], cursor="2"))  # resync
    (pending,) = backend.pending_commands("a")
    assert pending.command == command.command and pending.outcome is None
    assert backend.counts("a").messages == 0  # never a message, never an interaction
    done = StoredCommand(pending.source, pending.source_id, pending.sent_at, pending.command,
                         "applied", "snoozed Lee", AT)
    settled = backend.settle_command("a", done, _override("1", token="t1"), "replayed")
    assert settled.outcome == "applied"
    assert backend.pending_commands("a") == []
    backend.apply_batch("a", "mail", SyncBatch(upserts=[command], cursor="3"))
    assert backend.pending_commands("a") == []  # seen again: keeps its outcome
    # the same link mailed a second time: a new message, the same token
    again = MailCommand("c2@x", T0 + timedelta(minutes=5), command.command)
    backend.apply_batch("a", "mail", SyncBatch(upserts=[again], cursor="4"))
    (second,) = backend.pending_commands("a")
    replay = StoredCommand(second.source, second.source_id, second.sent_at, second.command,
                           "applied", "snoozed Lee", AT)
    settled = backend.settle_command("a", replay, _override("2", token="t1"), "replayed")
    assert (settled.outcome, settled.detail) == ("ignored", "replayed")
    assert len(backend.overrides("a")) == 1
    processed = backend.processed_commands("a", AT - 3600)
    assert [(c.source_id, c.outcome) for c in processed] == [
        ("c1@x", "applied"), ("c2@x", "ignored")]
    assert backend.processed_commands("a", AT + 3600) == []


def test_command_mails_leave_with_retention_and_keep_the_settled_text(
        backend: Store) -> None:  # noqa: F811
    """Issue 10 follow-up: a command mail's subject names a person; it is purged with
    the mail it came with, and once settled holds the text it was settled with."""
    old = MailCommand("old@x", T0 - timedelta(days=40), "snooze lee@example.com 4w 2026-W39 00")
    new = MailCommand("new@x", T0 - timedelta(days=1), "done lee@example.com 2026-W45 11")
    backend.apply_batch("a", "mail", SyncBatch(upserts=[old, new], cursor="1"))
    backend.apply_batch("b", "mail", SyncBatch(upserts=[old], cursor="1"))
    purged = backend.purge_before("a", T0 - timedelta(days=30))
    assert purged == {"events": 0, "messages": 0, "commands": 1}
    assert [c.source_id for c in backend.pending_commands("a")] == ["new@x"]
    assert [c.source_id for c in backend.pending_commands("b")] == ["old@x"]  # its own
    (pending,) = backend.pending_commands("a")
    hidden = StoredCommand(pending.source, pending.source_id, pending.sent_at,
                           "sha256:0123456789abcdef", "applied", "marked Lee done", AT)
    backend.settle_command("a", hidden, None, "replayed")
    (stored,) = backend.processed_commands("a", 0)
    assert stored.command == "sha256:0123456789abcdef"
    assert "lee@example.com" not in repr(stored)
