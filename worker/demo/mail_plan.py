"""Background mail, day by day: peer threads, team mail, lists, newsletters, bots.

Volumes are per weekday at ``scale`` 1 (weekends carry a seventh of that) and
multiply with ``scale``; nothing is kept from one day to the next, so memory
stays flat for a million messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from peerpulse.worker.demo.invites import PROJECTS
from peerpulse.worker.demo.mail_factory import MailFactory
from peerpulse.worker.demo.model import Address, MailSpec

RATES = {"peer": 3.0, "team": 3.0, "external": 0.5, "list": 4.0, "newsletter": 1.5,
         "bot": 4.0, "huge": 0.25, "invitation": 0.5, "auto_reply": 0.1, "self": 0.05}
PEER_WEIGHTS = {"biweekly": 6.0, "monthly": 3.0, "occasional": 1.5, "dormant": 2.0}
PEER_SUBJECTS = ("Hiring plan for {p}", "Quick question about {p}", "Budget for {p}",
                 "Your team's on-call rotation", "Intro: new tech lead on {p}",
                 "Feedback on the {p} proposal", "Headcount for next quarter",
                 "Can your team review {p}?", "{p} dependencies")
TEAM_SUBJECTS = ("1:1 notes", "Sprint review", "Vacation plan", "Promotion packet draft",
                 "On-call handover", "{p} status", "Expense report")
LISTS = (("eng-managers@example.com", "Engineering managers <eng-managers.example.com>"),
         ("all@example.com", "Everyone at Example <all.example.com>"),
         ("platform-dev@example.com", "platform-dev.example.com"))
NEWSLETTERS = (
    (Address("news@weeklybrief.io", "The Weekly Brief"), True, "bulk"),
    (Address("digest@techradar.example.net", "Tech Radar"), True, None),
    (Address("updates@financeweekly.example.org", "Finance Weekly"), False, "bulk"),
)
BOTS: tuple[tuple[Address, str, list[tuple[str, str]]], ...] = (
    (Address("jira@example.atlassian.net", "Jira"), "[JIRA] (PLAT-{n}) {p}: status changed",
     [("Auto-Submitted", "auto-generated")]),
    (Address("notifications@github.com", "GitHub"), "Re: [example/platform] {p} (PR #{n})",
     [("List-Id", "example/platform <platform.example.github.com>"),
      ("List-Unsubscribe", "<mailto:unsub+{n}@reply.github.com>")]),
    (Address("no-reply@pagerduty.com", "PagerDuty"), "[Resolved] #{n} {p} latency high", []),
    (Address("build-bot@example.com", "Build bot"), "Nightly build {n} passed",
     [("Auto-Submitted", "auto-generated"), ("Precedence", "bulk")]),
    (Address("mailer-daemon@googlemail.com", "Mail Delivery Subsystem"),
     "Delivery Status Notification (Failure)", []),
)
EXTERNALS = (Address("jane.doe@talentfirm.io", "Jane Doe"),
             Address("ava.brooks@acme-consulting.com", "Ava Brooks (Acme)"),
             Address("sales@cloudvendor.example.net", "Cloud Vendor Sales"))


class BackgroundMail:
    def __init__(self, mf: MailFactory, scale: float, profiles: dict[str, str]) -> None:
        self.mf = mf
        self.org = mf.org
        self.rng = mf.rng
        self.scale = scale
        self.window = mf.window
        self.profiles = profiles
        self.dormant_until = self.window.start + timedelta(days=max(
            21, (self.window.end - self.window.start).days * 3 // 10))
        self.team = [*self.org.reports, *self.org.chain[:2]]
        self.ics = [p.email for p in self.org.people
                    if p.level == "ic" and p.email not in self.org.reports]

    def __iter__(self) -> Iterator[MailSpec]:
        makers = {"peer": self.peer_thread, "team": self.team_thread,
                  "external": self.external, "list": self.list_mail,
                  "newsletter": self.newsletter, "bot": self.bot, "huge": self.huge,
                  "invitation": self.invitation, "auto_reply": self.auto_reply,
                  "self": self.note_to_self}
        for day in self.window.days():
            factor = self.scale * (1.0 if day.weekday() < 5 else 1 / 7)
            for kind, maker in makers.items():
                expected = RATES[kind] * factor
                count = int(expected) + (1 if self.rng.random() < expected % 1 else 0)
                for _ in range(count):
                    yield from maker(day)

    # -- helpers ------------------------------------------------------------------------

    def _moment(self, day: date, sender: str) -> datetime:
        local = datetime.combine(day, time(self.rng.randint(8, 17), self.rng.randrange(60),
                                           self.rng.randrange(60)), self.mf.zone(sender))
        return local

    def _peer(self, day: date) -> str:
        peers = [p for p, prof in self.profiles.items()
                 if prof in PEER_WEIGHTS and (prof != "dormant" or day <= self.dormant_until)]
        weights = [PEER_WEIGHTS[self.profiles[p]] for p in peers]
        return self.rng.choices(peers, weights)[0]

    def _subject(self, templates: tuple[str, ...]) -> str:
        return self.rng.choice(templates).format(p=self.rng.choice(PROJECTS),
                                                 n=self.rng.randint(100, 9999))

    def _conversation(self, day: date, other: str, templates: tuple[str, ...],
                      alias_rate: float) -> list[MailSpec]:
        mf, rng = self.mf, self.rng
        me, them = mf.owner(0.1), mf.person(other, alias_rate)
        sender, to = (me, them) if rng.random() < 0.55 else (them, me)
        cc: list[Address] = []
        if rng.random() < 0.2:
            cc.append(mf.person(self._peer(day), 0.3))
        if rng.random() < 0.15:
            cc.append(mf.person(rng.choice(self.org.direct_reports)))
        first = MailSpec(message_id=mf.message_id("outlook" if rng.random() < 0.1 else "gmail"),
                         thread_id=mf.thread_id(),
                         date=self._moment(day, sender.email), sender=sender, to=[to], cc=cc,
                         subject=self._subject(templates), body=mf.body(),
                         labels=mf.labels_for(sender))
        if first.date >= self.window.now:
            return []
        return mf.thread(first, rng.choices((0, 1, 2, 3), (3, 4, 2, 1))[0], to)

    # -- kinds of mail ------------------------------------------------------------------

    def peer_thread(self, day: date) -> list[MailSpec]:
        return self._conversation(day, self._peer(day), PEER_SUBJECTS, 0.3)

    def team_thread(self, day: date) -> list[MailSpec]:
        other = self.rng.choice(self.team + self.ics[:20])
        return self._conversation(day, other, TEAM_SUBJECTS, 0.0)

    def external(self, day: date) -> list[MailSpec]:
        mf = self.mf
        ext = self.rng.choice(EXTERNALS)
        return [MailSpec(message_id=mf.message_id("outlook"), thread_id=mf.thread_id(),
                         date=self._moment(day, ext.email), sender=ext, to=[mf.owner()],
                         subject=self._subject(("Following up: {p} proposal",
                                                "Candidates for your open role")),
                         body=mf.body())]

    def list_mail(self, day: date) -> list[MailSpec]:
        mf, rng = self.mf, self.rng
        address, list_id = rng.choice(LISTS)
        author = self._peer(day) if rng.random() < 0.5 else rng.choice(self.ics)
        cc = [mf.owner()] if rng.random() < 0.2 else []
        headers = [("List-Id", list_id), ("Precedence", "list")]
        if rng.random() < 0.5:
            headers.append(("List-Unsubscribe", f"<mailto:{address.replace('@', '+unsub@')}>"))
        return [MailSpec(message_id=mf.message_id(), thread_id=mf.thread_id(),
                         date=self._moment(day, author), sender=mf.person(author, 0.3),
                         to=[Address(address)], cc=cc,
                         subject=f"[{address.split('@')[0]}] " + self._subject(PEER_SUBJECTS),
                         extra_headers=headers, body=mf.body(),
                         labels="Inbox,Category Forums")]

    def newsletter(self, day: date) -> list[MailSpec]:
        mf = self.mf
        sender, unsubscribe, precedence = self.rng.choice(NEWSLETTERS)
        headers = []
        if unsubscribe:
            headers.append(("List-Unsubscribe", f"<https://{sender.email.split('@')[1]}/u/"
                                                f"{self.rng.getrandbits(32):x}>"))
        if precedence:
            headers.append(("Precedence", precedence))
        return [MailSpec(message_id=mf.message_id("bot"), thread_id=mf.thread_id(),
                         date=self._moment(day, sender.email), sender=sender, to=[mf.owner()],
                         subject=f"{sender.name}: " + self._subject(PEER_SUBJECTS),
                         extra_headers=headers, body="Read online.",
                         labels="Category Promotions")]

    def bot(self, day: date) -> list[MailSpec]:
        mf = self.mf
        sender, template, headers = self.rng.choice(BOTS)
        n = self.rng.randint(100, 9999)
        return [MailSpec(message_id=mf.message_id("bot"), thread_id=mf.thread_id(),
                         date=self._moment(day, sender.email), sender=sender, to=[mf.owner()],
                         subject=template.format(p=self.rng.choice(PROJECTS), n=n),
                         extra_headers=[(k, v.format(n=n)) for k, v in headers],
                         body="This is an automated message.", labels="Category Updates")]

    def huge(self, day: date) -> list[MailSpec]:
        mf, rng = self.mf, self.rng
        author = self._peer(day)
        crowd = rng.sample(self.ics, min(len(self.ics), rng.randint(16, 40)))
        return [MailSpec(message_id=mf.message_id(), thread_id=mf.thread_id(),
                         date=self._moment(day, author), sender=mf.person(author),
                         to=[mf.owner(), *(mf.person(p) for p in crowd)],
                         subject=self._subject(("FYI: {p} org changes", "{p} kickoff notes")),
                         body=mf.body())]

    def invitation(self, day: date) -> list[MailSpec]:
        mf, rng = self.mf, self.rng
        author = self._peer(day)
        when = self._moment(day, author)
        title = self._subject(("{p} sync", "Design review: {p}"))
        accepted = rng.random() < 0.4
        method = "REPLY" if accepted else "REQUEST"
        subject = (f"Accepted: {title} @ {when:%a %b %d, %Y %H:%M}" if accepted else
                   f"Invitation: {title} @ {when:%a %b %d, %Y %H:%M} ({mf.org.owner})")
        ics = ("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\n"
               f"METHOD:{method}\nBEGIN:VEVENT\nUID:{rng.getrandbits(64):x}@google.com\n"
               f"SUMMARY:{title}\nDTSTART:{when:%Y%m%dT%H%M%S}Z\nEND:VEVENT\nEND:VCALENDAR")
        return [MailSpec(message_id=mf.message_id(), thread_id=mf.thread_id(), date=when,
                         sender=mf.person(author, 0.3), to=[mf.owner()], subject=subject,
                         body="You have been invited to the following event.",
                         calendar_part=ics, calendar_method=method,
                         extra_headers=[("Sender", "Google Calendar "
                                         "<calendar-notification@google.com>")])]

    def auto_reply(self, day: date) -> list[MailSpec]:
        mf = self.mf
        peer = self._peer(day)
        sent = MailSpec(message_id=mf.message_id(), thread_id=mf.thread_id(),
                        date=self._moment(day, mf.org.owner), sender=mf.owner(),
                        to=[mf.person(peer)], subject=self._subject(PEER_SUBJECTS),
                        body=mf.body(), labels="Sent")
        reply = MailSpec(message_id=mf.message_id("outlook"), thread_id=sent.thread_id,
                         date=mf.at(sent.date + timedelta(minutes=1), peer),
                         sender=mf.person(peer), to=[mf.owner()],
                         subject=f"Automatic reply: {sent.subject}",
                         in_reply_to=sent.message_id, references=[sent.message_id],
                         extra_headers=[("Auto-Submitted", "auto-replied"),
                                        ("X-Auto-Response-Suppress", "All")],
                         body="I am out of office until Monday with limited access to email.")
        return [m for m in (sent, reply) if m.date < self.window.now]

    def note_to_self(self, day: date) -> list[MailSpec]:
        mf = self.mf
        return [MailSpec(message_id=mf.message_id(), thread_id=mf.thread_id(),
                         date=self._moment(day, mf.org.owner), sender=mf.owner(),
                         to=[mf.owner(1.0)], subject="Note to self: " + self._subject(
                             TEAM_SUBJECTS), body=mf.body(), labels="Sent,Inbox")]
