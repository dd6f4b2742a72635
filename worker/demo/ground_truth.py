"""The answer key: every true peer interaction, and every record that must not count.

This is an independent, deliberately plain implementation of the default
interaction semantics (see docs: "Default interaction semantics"), applied to
the generator's own specs as they are written. The rules engine is checked
against it; it must therefore never import from ``rules``.

Lines of ``ground_truth.jsonl``::

    {"person": "lee.chen@example.com", "when": "...Z", "kind": "one_on_one",
     "record": "event:UID@...Z", "initiated": "me"}
    {"trap": "declined", "record": "mail:...", "person": "lee.chen@example.com", "when": "...Z"}

``initiated`` says who took the initiative in that record: ``"me"`` (the
owner organized the meeting or wrote a mail that answers nothing), ``"them"``
(the peer did), or ``null`` (a reply, a meeting someone else organized, or an
announcement: a mail or meeting addressed to more than five people). A
recurring series is initiated once, by its first occurrence that is held; its
other occurrences are meetings, not initiatives.

A record-level trap (the whole record must not count) is written once per peer
involved, or once with ``"person": null`` when no peer is involved; a
person-level trap (``not_a_peer``, an attendee's ``declined``) names the person.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import TextIO

from peerpulse.worker.demo.model import EventSpec, MailSpec, utc_stamp
from peerpulse.worker.demo.org import OrgChart

ALL_HANDS_GLOBS = ("*all hands*", "*all-hands*", "*town hall*", "*townhall*")
MEAL_GLOBS = ("*lunch*", "*coffee*", "*breakfast*", "*dinner*")
BOT_SENDER_GLOBS = ("noreply*", "no-reply*", "donotreply*", "do-not-reply*", "notifications*",
                    "notification*", "mailer-daemon*", "postmaster*", "bounce*")
MAX_ATTENDEES = 25
MAX_RECIPIENTS = 15
MAX_ADDRESSED = 5  # more people addressed: an announcement, nobody's initiative
ATTENDING = ("ACCEPTED", "TENTATIVE")

TRAP_REASONS = ("declined", "cancelled", "all_hands", "too_big", "list_mail", "bot", "auto_reply",
                "invitation_mail", "future_meeting", "all_day", "free", "out_of_office",
                "focus_time", "self_only", "not_a_peer", "bulk")


def _matches(text: str, globs: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(fnmatchcase(lowered, g) for g in globs)


def event_kind(title: str, people: int) -> str:
    """The interaction kind of a meeting of ``people`` (owner included, 2..25)."""
    meal = _matches(title, MEAL_GLOBS)
    if people == 2:
        return "lunch" if meal else "one_on_one"
    if people <= 8:
        return "lunch" if meal else "small_meeting"
    return "large_meeting"


def event_key(uid: str, start: datetime) -> str:
    return f"event:{uid}@{utc_stamp(start)}"


def mail_key(message_id: str) -> str:
    return f"mail:{message_id.lower()}"


class GroundTruth:
    """Classifies each written record and streams the verdicts to a JSONL file."""

    def __init__(self, out: TextIO, org: OrgChart, now: datetime,
                 peers: frozenset[str] | None = None, titles_kept: bool = True) -> None:
        self._out = out
        self._org = org
        self._owner = org.owner
        self._now = now
        # The peers to count (a variant without a manager column has its own).
        self._peers = frozenset(org.peers) if peers is None else peers
        self._series_started: dict[str, datetime] = {}  # series UID -> first held occurrence
        # Hashed titles (privacy.subjects = "hashed"): no meal or all-hands title is readable.
        self._titles_kept = titles_kept
        self.series_uids: dict[str, str] = {}  # a series master's title -> its UID
        # Threads a peer started that the owner has not answered: thread -> (peer, when).
        self._open_threads: dict[int, tuple[str, str]] = {}
        self.interactions = 0
        self.traps: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()

    # -- writing ------------------------------------------------------------------------

    def is_peer(self, canonical_email: str) -> bool:
        return canonical_email in self._peers

    def _interaction(self, person: str, when: str, kind: str, record: str,
                     initiated: str | None) -> None:
        by = f'"{initiated}"' if initiated else "null"
        self._out.write(f'{{"person": "{person}", "when": "{when}", "kind": "{kind}", '
                        f'"record": "{record}", "initiated": {by}}}\n')
        self.interactions += 1
        self.kinds[kind] += 1

    def _trap(self, reason: str, record: str, person: str | None, when: str) -> None:
        who = f'"{person}"' if person else "null"
        self._out.write(f'{{"trap": "{reason}", "record": "{record}", "person": {who}, '
                        f'"when": "{when}"}}\n')
        self.traps[reason] += 1

    def _record_trap(self, reason: str, record: str, involved: list[str], when: str) -> None:
        peers: list[str | None] = [p for p in involved if self.is_peer(p)]
        for person in peers or [None]:
            self._trap(reason, record, person, when)

    # -- calendar -----------------------------------------------------------------------

    def event_instance(self, spec: EventSpec, start: datetime) -> None:
        """One occurrence (``spec`` is the master, or the override that replaces it)."""
        record = event_key(spec.uid, start)
        when = utc_stamp(start)
        if spec.recurrence is not None:
            self.series_uids.setdefault(spec.summary, spec.uid)
        title = spec.summary if self._titles_kept else ""
        others: dict[str, str] = {}  # canonical -> PARTSTAT, resources left out
        for guest in spec.guests:
            who = self._org.canonical(guest.email)
            if not guest.is_resource and who != self._owner:
                others.setdefault(who, guest.partstat)
        organizer = self._org.canonical(spec.organizer.email)
        if organizer != self._owner:
            others.setdefault(organizer, "ACCEPTED")
        reason = self._event_trap(spec, start, organizer, len(others), title)
        if reason:
            self._record_trap(reason, record, list(others), when)
            return
        live = [who for who, status in others.items() if status != "DECLINED"]
        kind = event_kind(title, 1 + len(others))
        if any(self.is_peer(p) for p in live) and kind != event_kind(title, 1 + len(live)):
            raise ValueError(f"{record}: size depends on counting declined attendees")
        initiative = len(others) <= MAX_ADDRESSED
        if spec.recurrence is not None or spec.recurrence_id is not None:
            first = self._series_started.setdefault(spec.uid, start)
            if start < first:
                raise ValueError(f"{record}: series occurrences must be written in order")
            initiative = initiative and first == start
        for who, status in others.items():
            if not self.is_peer(who):
                self._trap("not_a_peer", record, who, when)
            elif status == "DECLINED":
                self._trap("declined", record, who, when)
            else:
                by = None
                if initiative and organizer == self._owner:
                    by = "me"
                elif initiative and organizer == who:
                    by = "them"
                self._interaction(who, when, kind, record, by)

    def _event_trap(self, spec: EventSpec, start: datetime, organizer: str,
                    others: int, title: str) -> str | None:
        if spec.status == "CANCELLED":
            return "cancelled"
        if organizer != self._owner:
            mine = [g.partstat for g in spec.guests
                    if self._org.canonical(g.email) == self._owner]
            if not mine or mine[0] not in ATTENDING:
                if mine and mine[0] == "DECLINED":
                    return "declined"
                raise ValueError(f"{spec.uid}: the owner's answer must be known")
        if spec.all_day:
            return "all_day"
        if spec.transp == "TRANSPARENT":
            return "free"
        if spec.busystatus == "OOF" or spec.marker == "out_of_office":
            return "out_of_office"
        if spec.marker == "focus_time":
            return "focus_time"
        if others == 0:
            return "self_only"
        if _matches(title, ALL_HANDS_GLOBS):
            return "all_hands"
        if 1 + others > MAX_ATTENDEES:
            return "too_big"
        if start.astimezone(UTC) >= self._now:
            return "future_meeting"
        return None

    # -- mail ---------------------------------------------------------------------------

    def message(self, mail: MailSpec) -> None:
        record = mail_key(mail.message_id)
        when = utc_stamp(mail.date)
        canon = self._org.canonical
        sender = canon(mail.sender.email)
        involved = _unique([sender] + [canon(a.email) for a in (*mail.to, *mail.cc, *mail.bcc)])
        involved = [p for p in involved if p != self._owner]
        reason = self._mail_trap(mail)
        if reason:
            self._record_trap(reason, record, involved, when)
            return
        direct = _unique([canon(a.email) for a in (*mail.to, *mail.cc)])
        if sender == self._owner and mail.in_reply_to:
            self._open_threads.pop(mail.thread_id, None)  # answered
        if sender == self._owner:
            targets = [p for p in direct if p != self._owner]
            if not targets:
                self._record_trap("self_only", record, [], when)
            for who in targets:
                if self.is_peer(who):
                    announced = mail.in_reply_to or len(targets) > MAX_ADDRESSED
                    self._interaction(who, when, "mail_sent", record,
                                      None if announced else "me")
                else:
                    self._trap("not_a_peer", record, who, when)
            return
        if self._owner not in direct:
            raise ValueError(f"{record}: received mail must name the owner in To or Cc")
        if self.is_peer(sender):
            asks = not mail.in_reply_to and len(direct) <= MAX_ADDRESSED
            self._interaction(sender, when, "mail_received", record,
                              "them" if asks else None)
            if asks:
                self._open_threads[mail.thread_id] = (sender, when)
        else:
            self._trap("not_a_peer", record, sender, when)

    def unanswered(self) -> dict[str, list[str]]:
        """Per peer, when each thread they started and the owner never answered began."""
        out: dict[str, list[str]] = {}
        for person, when in self._open_threads.values():
            out.setdefault(person, []).append(when)
        return {p: sorted(w) for p, w in sorted(out.items())}

    @staticmethod
    def _mail_trap(mail: MailSpec) -> str | None:
        if mail.calendar_part is not None:
            return "invitation_mail"
        auto = (mail.header("Auto-Submitted") or "no").strip().lower()
        if auto != "no":
            return "auto_reply" if auto.startswith("auto-replied") else "bot"
        if _matches(mail.sender.email.split("@", 1)[0], BOT_SENDER_GLOBS):
            return "bot"
        if mail.header("List-Id"):
            return "list_mail"
        precedence = (mail.header("Precedence") or "").strip().lower()
        if mail.header("List-Unsubscribe") or precedence in ("bulk", "list", "junk"):
            return "bulk"
        if len(mail.to) + len(mail.cc) + len(mail.bcc) > MAX_RECIPIENTS:
            return "too_big"
        return None


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
