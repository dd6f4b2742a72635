"""Digest action links through Gmail (issue 13, item 2): the fake Google server serves
the owner's own command mail as ``format=metadata``; the connector recognises it
before subjects are hashed, it is stored as a command (never a message), and the
worker applies it once, whether it came in the first sync or as a history increment.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from peerpulse.connectors.records import HASHED, MailCommand, Person
from peerpulse.worker.overrides import apply_mail_commands, command_subject

from tests.connectors.google.conftest import NOW, NOW_MS, USER, drain
from tests.connectors.google.fake_data import Msg, synthetic_mailbox
from tests.connectors.google.test_mail import mail_source

KEY = bytes(range(32))
BOB = "peer7@example.com"


def _command_mail(n: int, subject: str, ms: int) -> Msg:
    return Msg(id=f"3c{n:013x}", thread=f"3c{n:013x}", ms=ms, labels=("SENT", "INBOX"),
               sender=f"Alice <{USER}>", to=USER, subject=subject)


def test_a_command_mail_is_recognised_before_hashing_and_applied_once(
        fake: Any, state_dir: Any, store: Any) -> None:
    box = synthetic_mailbox(USER, 40, mean_thread=1.0, newest_ms=NOW_MS - 3_600_000)
    subject = command_subject(KEY, "alice", "snooze", BOB, "2026-W22")
    box.add(_command_mail(1, subject, NOW_MS - 60_000), record=False)
    fake.mailboxes[USER] = box
    batches = drain(store, mail_source(fake, state_dir, store, subjects="hashed"))
    commands = [r for b in batches for r in b.upserts if isinstance(r, MailCommand)]
    assert [c.command for c in commands] == [subject.removeprefix("peerpulse: ")]
    messages = list(store.iter_messages("alice"))
    assert len(messages) == 40  # the command mail is no message
    assert all(m.subject is None or m.subject.startswith(HASHED) for m in messages)

    people = [Person(BOB, "Bob Peer")]
    zone = ZoneInfo("Europe/Berlin")
    (settled,) = apply_mail_commands(store, "alice", KEY, people, zone, NOW)
    assert (settled.outcome, settled.detail) == ("applied", "snoozed Bob Peer until 29 Jun 2026")
    (override,) = store.overrides("alice")
    assert (override.email, override.action, override.source) == (BOB, "snooze", "mail")

    # the same link clicked again later arrives as a history increment: ignored
    box.add(_command_mail(2, subject, NOW_MS - 30_000))
    # and a forged one (right shape, wrong key)
    box.add(_command_mail(3, command_subject(b"x" * 32, "alice", "never", BOB, "2026-W22"),
                          NOW_MS - 20_000))
    drain(store, mail_source(fake, state_dir, store, subjects="hashed"))
    settled = apply_mail_commands(store, "alice", KEY, people, zone, NOW)
    assert sorted((c.outcome, c.detail.split(":")[0].split(" (")[0]) for c in settled) == [
        ("ignored", "already applied"), ("ignored", "the signature does not match")]
    assert len(store.overrides("alice", include_undone=True)) == 1
    assert apply_mail_commands(store, "alice", KEY, people, zone, NOW) == []
