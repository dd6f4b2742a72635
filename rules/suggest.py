"""Who the owner really corresponds with, for ``peerpulse people suggest`` (issue 13, item 3).

A new user has no people file yet, so nobody is a peer and the engine keeps only
per-rule counts. This runs the very same inference (every noise rule, the same
kinds) with a ledger that tallies interactions with *everyone*, directory or
not, so the suggested people file starts from the owner's real correspondents:
mailing lists, automated senders, all-hands and large recipient lists already
left out. Pure: records and rules in, a ranked list out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from peerpulse.connectors.records import EventInstance, MessageMeta, Person
from peerpulse.rules.identity import Identity
from peerpulse.rules.inference import UNKNOWN, infer_events, infer_messages
from peerpulse.rules.peers import build_directory
from peerpulse.rules.ruleset import RuleSet
from peerpulse.rules.scoring import MEETINGS
from peerpulse.rules.tally import Ledger


@dataclass(slots=True)
class Correspondent:
    email: str
    name: str = ""
    interactions: int = 0
    mail: int = 0
    meetings: int = 0
    last_at: float = 0.0
    person: Person | None = None  # the directory entry, when there is one
    internal: bool = True  # in one of the owner's domains

    def add(self, at: float, kind: str) -> None:
        self.interactions += 1
        if kind in MEETINGS:
            self.meetings += 1
        else:
            self.mail += 1
        self.last_at = max(self.last_at, at)


class _Everyone(dict[str, str]):
    """``not_peer_rule`` that claims every address, so the inference hands every
    non-peer interaction (known or not) to :meth:`_TallyLedger.not_a_peer`; the
    rule it counts under stays the real one (``get`` falls back to UNKNOWN)."""

    def __contains__(self, key: object) -> bool:
        return True


class _TallyLedger(Ledger):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        known: dict[str, str] = self.not_peer_rule
        self.not_peer_rule = _Everyone(known)
        self.tally: dict[str, list[tuple[float, str]]] = {}

    def not_a_peer(self, email: str, at: float, kind: str, record_id: str) -> None:
        self.tally.setdefault(email, []).append((at, kind))
        if self.not_peer_rule.get(email) is None:
            self.counts[UNKNOWN] = self.counts.get(UNKNOWN, 0) + 1
            return
        super().not_a_peer(email, at, kind, record_id)


@dataclass(slots=True)
class _Names:
    """Display names seen on the way (From display names, attendee names)."""

    identity: Identity
    names: dict[str, str] = field(default_factory=dict)

    def messages(self, items: Iterable[MessageMeta]) -> Iterator[MessageMeta]:
        for m in items:
            if m.sender and m.sender_name:
                self.names.setdefault(self.identity.resolve(m.sender), m.sender_name)
            yield m

    def events(self, items: Iterable[EventInstance]) -> Iterator[EventInstance]:
        for e in items:
            for a in e.attendees:
                if a.name:
                    self.names.setdefault(self.identity.resolve(a.email), a.name)
            yield e


def correspondents(
    owner: str,
    owner_aliases: Iterable[str],
    events: Iterable[EventInstance],
    messages: Iterable[MessageMeta],
    people: Sequence[Person],
    rules: RuleSet,
    now: datetime,
) -> list[Correspondent]:
    """Everyone the owner interacted with (after the noise rules), most interactions first."""
    identity = Identity(owner, owner_aliases, people, rules)
    directory = build_directory(people, identity, rules)
    ledger = _TallyLedger(directory)
    names = _Names(identity)
    infer_events(names.events(events), identity, rules, ledger, now)
    infer_messages(names.messages(messages), identity, rules, ledger, now)
    found: dict[str, Correspondent] = {}

    def entry(email: str) -> Correspondent:
        item = found.get(email)
        if item is None:
            person = directory.people.get(email)
            name = (person.name if person and person.name else "") or names.names.get(email, "")
            item = found[email] = Correspondent(email, name, person=person,
                                                internal=identity.is_internal(email))
        return item

    for email, rows in ledger.peer_rows.items():
        for row in rows:
            entry(email).add(row[0], row[1])
    for email, seen in ledger.tally.items():
        if email == identity.owner or not email:
            continue
        for at, kind in seen:
            entry(email).add(at, kind)
    return sorted(found.values(), key=lambda c: (-c.interactions, -c.last_at, c.email))
