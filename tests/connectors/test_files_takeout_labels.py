"""Google Takeout's X-Gmail-Labels: its Sent label makes mail from an unlisted alias SENT."""

from __future__ import annotations

from pathlib import Path

import pytest
from peerpulse.connectors.files.mail import gmail_sent_label
from peerpulse.connectors.records import Direction

from tests.connectors.test_files_incremental import ACCOUNT, source, sync


@pytest.mark.parametrize(
    ("labels", "sent"),
    [
        ("Sent", True),
        ("Archived,Sent,Opened", True),
        ("Inbox, Sent ,Category Personal", True),
        ('"Work, old",Sent', True),
        ("=?UTF-8?Q?Sent,Caf=C3=A9?=", True),
        ("Inbox,Opened", False),
        ("Sent/2019,Inbox", False),  # a user label under a "Sent" parent is not Gmail's SENT
        ("Sent Items", False),
        ('"Sent, maybe"', False),
        ("", False),
        (None, False),
    ],
)
def test_only_gmails_own_sent_label_counts(labels: str | None, sent: bool) -> None:
    assert gmail_sent_label(labels) is sent


def takeout_message(number: int, sender: str, labels: str | None) -> str:
    label_line = f"X-Gmail-Labels: {labels}\n" if labels is not None else ""
    return (
        f"From 17{number}@xxx Mon Mar 04 10:00:00 +0000 2024\nX-GM-THRID: 17{number}\n"
        f"{label_line}Date: Mon, 4 Mar 2024 10:00:00 +0000\nMessage-ID: <t{number}@example.com>\n"
        f"From: Me <{sender}>\nTo: peer@example.com\nSubject: hi\n\nbody\n\n"
    )


def test_mail_sent_from_an_alias_the_config_omits_is_sent_when_labelled(
    tmp_path: Path, store
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "All mail.mbox").write_text(
        takeout_message(1, "me@old-domain.example", "Sent,Opened")
        + takeout_message(2, "me@old-domain.example", "Inbox,Opened")
        + takeout_message(3, "me@old-domain.example", None)
        + takeout_message(4, "owner@example.com", "Opened")
    )
    sync(store, source(tmp_path, "mail", ["All mail.mbox"]))
    directions = {m.source_id: m.direction for m in store.iter_messages(ACCOUNT)}
    assert directions == {
        "t1@example.com": Direction.SENT,
        "t2@example.com": Direction.OTHER,
        "t3@example.com": Direction.OTHER,
        "t4@example.com": Direction.SENT,
    }
