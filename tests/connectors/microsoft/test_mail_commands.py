"""Digest action links through Microsoft 365 (issue 13, item 2): the owner's command
mail, sent to themself, lies in Sent Items and (delivered) in the Inbox; message delta
serves it with the ``$select`` the connector asks. It is recognised before subjects are
hashed, stored as a command (never a message), and the worker applies it once, whether
it came in the first listing or as a delta increment.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from peerpulse.connectors.microsoft.connector import MicrosoftConnector
from peerpulse.connectors.records import HASHED, MailCommand, MessageMeta, Person
from peerpulse.worker.overrides import apply_mail_commands, command_subject

from tests.connectors.microsoft.conftest import drain, make_context, sign_in, source_named
from tests.connectors.microsoft.fake_data import NOW, USER, fill_mailbox, message

KEY = bytes(range(32))
BOB = "peer7@contoso.com"
PEOPLE = [Person(BOB, "Bob Peer")]
ZONE = ZoneInfo("Europe/Berlin")


@pytest.fixture
def mail(fake, state_dir, store) -> Any:
    sign_in(fake, state_dir)

    def build() -> Any:
        context = make_context(fake, state_dir, store, calendar=False, page_size=50,
                               subjects="hashed")
        return source_named(MicrosoftConnector(*context), "mail")

    return build


def _send_to_self(fake: Any, n: int, subject: str, minutes_ago: int) -> None:
    """What Outlook does with a mailto: link to oneself: a Sent Items copy, and the
    delivered copy in the Inbox (another item id, the same internetMessageId)."""
    sent = message(n, sender=USER, to=(USER,), subject=subject, minutes_ago=minutes_ago)
    fake.folders[(USER, "sentitems")].put(sent)
    fake.folders[(USER, "inbox")].put({**sent, "id": f"AAkALgInb{n:07d}="})


def test_a_command_mail_is_recognised_before_hashing_and_applied_once(fake, store, mail):
    fill_mailbox(fake, inbox=30, sent=10)
    subject = command_subject(KEY, "alice", "snooze", BOB, "2026-W22")
    _send_to_self(fake, 100, subject, minutes_ago=1)
    batches = drain(store, mail())
    upserts = [r for b in batches for r in b.upserts]
    commands = [r for r in upserts if isinstance(r, MailCommand)]
    assert {c.command for c in commands} == {subject.removeprefix("peerpulse: ")}
    assert all(isinstance(r, MessageMeta | MailCommand) for r in upserts)
    messages = list(store.iter_messages("alice"))
    assert len(messages) == 40  # neither copy of the command mail is a message
    assert all(m.subject is None or m.subject.startswith(HASHED) for m in messages)
    assert not any(subject in repr(m) for m in messages)

    (settled,) = apply_mail_commands(store, "alice", KEY, PEOPLE, ZONE, NOW)
    assert (settled.outcome, settled.detail) == ("applied", "snoozed Bob Peer until 29 Jun 2026")
    (override,) = store.overrides("alice")
    assert (override.email, override.action, override.source) == (BOB, "snooze", "mail")

    # a second run with nothing new: the stored commands are not applied again
    drain(store, mail())
    assert apply_mail_commands(store, "alice", KEY, PEOPLE, ZONE, NOW) == []

    # the same link clicked again arrives as a delta increment: ignored, as is a forged one
    _send_to_self(fake, 101, subject, minutes_ago=0)
    forged = command_subject(b"x" * 32, "alice", "never", BOB, "2026-W22")
    fake.folders[(USER, "sentitems")].put(
        message(102, sender=USER, to=(USER,), subject=forged, minutes_ago=0))
    before = fake.graph_requests("/messages/delta")
    drain(store, mail())
    assert fake.graph_requests("/messages/delta") - before == 2  # deltaLinks, one per folder
    assert len(list(store.iter_messages("alice"))) == 40
    settled = apply_mail_commands(store, "alice", KEY, PEOPLE, ZONE, NOW)
    assert sorted((c.outcome, c.detail.split(":")[0].split(" (")[0]) for c in settled) == [
        ("ignored", "already applied"), ("ignored", "the signature does not match")]
    assert len(store.overrides("alice", include_undone=True)) == 1
    assert apply_mail_commands(store, "alice", KEY, PEOPLE, ZONE, NOW) == []
