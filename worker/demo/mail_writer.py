"""Writes the focal manager's mailbox (``mail/dana.mbox``), streaming.

Scripted messages first, then the background day by day; each message is
rendered, written and classified for the ground truth before the next is made.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path

from peerpulse.worker.demo.ground_truth import GroundTruth
from peerpulse.worker.demo.mail_factory import MailFactory
from peerpulse.worker.demo.mail_format import render
from peerpulse.worker.demo.mail_plan import BackgroundMail
from peerpulse.worker.demo.mail_scripted import scripted_mail
from peerpulse.worker.demo.model import MailSpec


def write_mailbox(path: Path, factory: MailFactory, scale: float, profiles: dict[str, str],
                  truth: GroundTruth, extra: Iterable[MailSpec] = (),
                  reply_headers: bool = True) -> int:
    """Write every message (a variant's ``extra`` ones last); returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    messages = itertools.chain(scripted_mail(factory, profiles),
                               BackgroundMail(factory, scale, profiles), extra)
    with path.open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        for mail in messages:
            if mail.date >= factory.window.now:
                continue
            count += 1
            out.write(render(mail, mail.thread_id + count, reply_headers))
            truth.message(mail)
    return count
