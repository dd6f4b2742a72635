"""One-off messages that every demo contains, whatever the seed and scale.

Celebrations from peers, RFC 2047 names and non-ASCII subjects, mail from and
to aliases, the 15/16-recipient boundary, a peer's list post that also Cc's the
owner, a Bcc on sent mail, and a body line that needs mbox escaping.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta

from peerpulse.worker.demo.mail_factory import MailFactory
from peerpulse.worker.demo.model import Address, MailSpec


def scripted_mail(mf: MailFactory, profiles: dict[str, str]) -> Iterator[MailSpec]:
    org, w = mf.org, mf.window
    met = [p for p in org.peers if profiles.get(p) not in ("never", "dormant")]
    named = org.named
    span = (w.end - w.start).days

    def at(fraction: float, hour: int, sender: str) -> datetime:
        day = w.start + timedelta(days=min(span - 1, int(span * fraction)))
        return datetime.combine(day, time(hour, 17), mf.zone(sender))

    def mail(fraction: float, hour: int, sender: Address, subject: str, to: list[Address],
             **extra: object) -> MailSpec:
        return MailSpec(message_id=mf.message_id(), thread_id=mf.thread_id(),
                        date=at(fraction, hour, org.canonical(sender.email)), sender=sender,
                        to=to, subject=subject, body=str(extra.pop("body", mf.body())),
                        labels=mf.labels_for(sender), **extra)  # type: ignore[arg-type]

    managers = [mf.person(p) for p in met[:9]]
    promoted = mail(0.9, 9, mf.person(named["priya"]), "Promoted to Director!",
                    [mf.owner(), *[m for m in managers if m.email != named["priya"]][:9]],
                    body="Thank you all: I start as Director, Engineering next month.")
    yield from mf.thread(promoted, 1, mf.owner())
    yield mail(0.85, 16, mf.person(named["jose"]), "We launched Atlas 🚀",
               [mf.owner(), mf.person(named["lee"]), mf.person(named["soren"])])
    yield mail(0.8, 11, Address("lee.chen@example.co.uk", "Lee Chen"), "Shipped v2",
               [mf.owner()], body="From today, v2 is live for every customer.")
    yield mail(0.7, 10, mf.person(named["hanako"]), "お疲れ様です - Tokyo visit next month",
               [mf.owner()])
    yield mail(0.05, 14, mf.person(named["renee"]), "Überblick: Q3 people review",
               [mf.owner()], cc=[mf.person(org.chain[0])])
    yield mail(0.5, 15, mf.person(named["soren"]), "Café next week? ☕", [mf.owner()])
    # Mixed-case addresses and the owner's second-domain alias.
    yield mail(0.55, 9, Address("LChen@Example.com", "Lee Chen"), "Re: capacity for Q1",
               [Address("Dana.Reyes@example.co.uk", "Dana Reyes")])
    yield mail(0.56, 10, Address("dana.reyes@example.co.uk", "Dana Reyes"),
               "Platform capacity, Q1", [mf.person(named["lee"])],
               cc=[Address("lchen@example.com", "Lee Chen"), mf.person(named["oliver"])],
               bcc=[mf.person(org.chain[0])])
    # The recipient-count boundary: 15 counts, 16 does not (Bcc included).
    crowd = [mf.person(p.email) for p in org.people[-40:]
             if p.level == "ic" and p.email not in org.reports]
    peers = [mf.person(p) for p in met]
    yield mail(0.6, 11, mf.person(named["marcus"]), "Sales kickoff: platform asks",
               [mf.owner(), *crowd[:14]])
    yield mail(0.61, 11, mf.owner(), "Platform roadmap for partner teams", peers[:8],
               cc=crowd[:6], bcc=[mf.person(org.chain[0]), mf.person(org.chain[1])])
    # A peer's post to a mailing list that also names the owner.
    yield mail(0.65, 13, mf.person(named["oliver"]), "[eng-managers] Support rota change",
               [Address("eng-managers@example.com")], cc=[mf.owner()],
               extra_headers=[("List-Id", "Engineering managers <eng-managers.example.com>")])
