"""Builders shared by the mail planners: addresses, Message-IDs, threads of replies."""

from __future__ import annotations

import base64
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from peerpulse.worker.demo.model import Address, DemoWindow, MailSpec
from peerpulse.worker.demo.org import HOME_ZONE, OrgChart

BODIES = (
    "Thanks, that works for me.",
    "Can we move this to next week? Happy to pick it up then.",
    "Sharing the doc here so we have it in one place.",
    "Quick one: do you have capacity for this in the next sprint?",
    "Agreed. Let's loop in the team once the numbers are final.",
    "From my side this looks good to go.",  # a body line the mbox must escape
    "I'll follow up with details tomorrow.",
    ">From the notes: action items are in the doc.",
)


class MailFactory:
    """Seeded, deterministic identities and threads; holds no per-message state."""

    def __init__(self, org: OrgChart, window: DemoWindow, rng: random.Random) -> None:
        self.org = org
        self.window = window
        self.rng = rng
        self.serial = 0
        self._zones: dict[str, ZoneInfo] = {}

    def zone(self, email: str) -> ZoneInfo:
        person = self.org.by_email.get(self.org.canonical(email))
        key = person.timezone if person else HOME_ZONE
        if key not in self._zones:
            self._zones[key] = ZoneInfo(key)
        return self._zones[key]

    def person(self, email: str, alias_rate: float = 0.0) -> Address:
        """A directory person's address, sometimes one of their aliases."""
        person = self.org.by_email[email]
        written = email
        if person.aliases and alias_rate and self.rng.random() < alias_rate:
            written = self.rng.choice(person.aliases)
        return Address(written, person.display_name)

    def owner(self, alias_rate: float = 0.0) -> Address:
        return self.person(self.org.owner, alias_rate)

    def message_id(self, style: str = "gmail") -> str:
        self.serial += 1
        token = base64.urlsafe_b64encode(self.rng.getrandbits(96).to_bytes(12, "big")).decode()
        if style == "outlook":
            return f"{token.upper()}{self.serial:X}@EXAMPLE.PROD.OUTLOOK.COM"
        if style == "bot":
            return f"{token.lower()}.{self.serial}@bots.example.net"
        return f"CA+{token}{self.serial:x}@mail.gmail.com"

    def thread_id(self) -> int:
        return (1 << 60) | self.rng.getrandbits(59)

    def body(self) -> str:
        return self.rng.choice(BODIES)

    def at(self, moment: datetime, sender: str) -> datetime:
        return moment.astimezone(self.zone(sender))

    def thread(self, first: MailSpec, replies: int, other: Address,
               max_gap_minutes: int = 300) -> list[MailSpec]:
        """``first`` and up to ``replies`` alternating answers, all before ``now``."""
        out = [first]
        a, b = first.sender, other
        for _ in range(replies):
            prev = out[-1]
            when = prev.date + timedelta(minutes=self.rng.randint(7, max_gap_minutes))
            if when >= self.window.now:
                break
            a, b = b, a
            out.append(MailSpec(
                message_id=self.message_id(), thread_id=prev.thread_id,
                date=self.at(when, a.email), sender=a, to=[b], cc=list(prev.cc),
                subject=prev.subject if prev.subject.startswith("Re: ") else f"Re: {prev.subject}",
                in_reply_to=prev.message_id, references=[*prev.references, prev.message_id][-8:],
                body=self.body(), labels=self.labels_for(a),
            ))
        return out

    def labels_for(self, sender: Address) -> str:
        if self.org.canonical(sender.email) == self.org.owner:
            return "Sent"
        return "Inbox,Important,Opened" if self.rng.random() < 0.4 else "Inbox,Opened"
