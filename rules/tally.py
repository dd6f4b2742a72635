"""The inference tally: where inference writes what it decided, with memory bounded for huge stores.

The inference loop calls :meth:`Ledger.count` for every (person, record)
interaction and :meth:`Ledger.exclude` for every record that does not count.
The ledger keeps:
- a counter per rule, for everything (``rules check``);
- every counted interaction of a *peer* (``explain`` lists them all; scoring reads
  them through ``rules.history``), except in a digest resumed from a checkpoint,
  where those before it are summarized per day (``PersonLedger.compact``);
- for people in the directory, only the most recent exclusions (a bounded deque),
  so a 1,000,000-message store does not keep a million exclusion records.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from peerpulse.rules.peers import Directory

if TYPE_CHECKING:
    from peerpulse.rules.history import Compact

EXCLUSIONS_KEPT = 200

# (at epoch seconds, kind, weight, record id, initiated by me, initiated by them, is reply)
InteractionRow = tuple[float, str, float, str, bool, bool, bool]
# (at epoch seconds, record id, rule, detail)
ExclusionRow = tuple[float, str, str, str]


@dataclass(slots=True)
class PersonLedger:
    interactions: list[InteractionRow] = field(default_factory=list)
    exclusions: deque[ExclusionRow] = field(default_factory=lambda: deque(maxlen=EXCLUSIONS_KEPT))
    excluded_total: int = 0
    upcoming: float | None = None  # earliest 1:1 / lunch / small meeting ahead
    upcoming_kind: str | None = None
    subject_hits: list[tuple[float, str, str]] = field(default_factory=list)  # (at, subject, id)
    # Threads this peer started (Message-ID -> time) that the owner has not answered yet.
    open_threads: dict[str, float] = field(default_factory=dict)
    # Threads the owner started to this peer (Message-ID -> time) that this peer has not
    # answered yet: the other direction, to tell the owner's own stream from a debt.
    mine_open: dict[str, float] = field(default_factory=dict)
    # Interactions a checkpoint summarized (rules.history); ``interactions`` holds the rest.
    compact: Compact | None = None


class Ledger:
    """Per-rule counters plus per-person evidence for the people we may explain."""

    __slots__ = ("directory", "counts", "persons", "peers", "peer_rows", "not_peer_rule",
                 "tracked", "owner_records", "leader_contacts")

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.counts: dict[str, int] = {}
        # Entries are made on first use (:meth:`person`), not one per peer up front: an
        # owner of an organization's directory has hundreds of peers and meets a few,
        # and every entry made here was a cost per peer in every digest (issue 12).
        self.persons: dict[str, PersonLedger] = {}
        self.peers = directory.peers  # who is a peer: their interactions are kept
        # The hot path appends to these lists directly (see inference.infer_messages);
        # a peer without one yet gets it from :meth:`peer_rows_of`.
        self.peer_rows: dict[str, list[InteractionRow]] = {}
        # A shared directory's are made once per directory version (rules.peers.owner_directory)
        self.not_peer_rule: dict[str, str] = (
            directory.not_peer_rules if directory.not_peer_rules is not None
            else {e: v.rule for e, v in directory.not_peers.items()})
        self.tracked: frozenset[str] = (
            directory.tracked if directory.tracked is not None
            else frozenset(directory.people) | frozenset(directory.peers))
        # records naming the owner (any alias): none means the owner address is wrong
        self.owner_records = 0
        # Leaders by title (no manager column) are never peers, but the digest keeps
        # them in their own place: (at, kind) of each interaction with them.
        self.leader_contacts: dict[str, list[tuple[float, str]]] = {
            e: [] for e, rule in self.not_peer_rule.items() if rule.startswith("peers.leader")
        } if directory.not_peer_rules is None else {}  # shared: leaders decline it

    def person(self, email: str) -> PersonLedger:
        found = self.persons.get(email)
        if found is None:
            found = self.persons[email] = PersonLedger()
            if email in self.peers:
                self.peer_rows[email] = found.interactions
        return found

    def peer_rows_of(self, email: str) -> list[InteractionRow] | None:
        """A peer's interaction list (their entry made on first use); None for anyone
        else. The hot paths call it only when ``peer_rows`` has no list yet."""
        if email in self.peers:
            return self.person(email).interactions
        return None

    def rule(self, rule: str) -> None:
        """Count a record excluded (or noted) by ``rule``."""
        counts = self.counts
        counts[rule] = counts.get(rule, 0) + 1

    def exclude(self, email: str, at: float, record_id: str, rule: str, detail: str = "") -> None:
        """Attribute an excluded record to a person we may later explain."""
        if email in self.tracked:
            entry = self.person(email)
            entry.exclusions.append((at, record_id, rule, detail))
            entry.excluded_total += 1

    def not_a_peer(self, email: str, at: float, kind: str, record_id: str) -> None:
        """An interaction with someone who is not a peer: counted under the peer rule why."""
        rule = self.not_peer_rule.get(email, "peers.not_in_directory")
        counts = self.counts
        counts[rule] = counts.get(rule, 0) + 1
        contacts = self.leader_contacts.get(email)
        if contacts is not None:
            contacts.append((at, kind))
        if email in self.tracked:
            entry = self.person(email)
            entry.exclusions.append((at, record_id, rule, kind))
            entry.excluded_total += 1

    def count(
        self,
        email: str,
        at: float,
        kind: str,
        weight: float,
        record_id: str,
        by_me: bool,
        by_them: bool,
        is_reply: bool,
    ) -> bool:
        """An interaction with ``email``; kept if they are a peer, else excluded. True if kept."""
        rows = self.peer_rows.get(email)
        if rows is None:
            rows = self.peer_rows_of(email)
        if rows is not None:
            key = "kinds." + kind
            counts = self.counts
            counts[key] = counts.get(key, 0) + 1
            rows.append((at, kind, weight, record_id, by_me, by_them, is_reply))
            return True
        self.not_a_peer(email, at, kind, record_id)
        return False

    def upcoming(self, email: str, at: float, kind: str) -> None:
        if email in self.peers:
            entry = self.person(email)
            if entry.upcoming is None or at < entry.upcoming:
                entry.upcoming = at
                entry.upcoming_kind = kind
