"""Who is a peer: the other managers, sideways on the org chart.

A pure function of the directory, the identity and the ``[peers]`` rules. Every
person who is not a peer gets the rule that says why, so ``explain`` can show
it ("peers.exclude_my_reports: reports to you through dana@...").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from peerpulse.connectors.records import Person
from peerpulse.rules.identity import Identity, IdentityBase, in_domains
from peerpulse.rules.ruleset import RuleSet


@dataclass(frozen=True, slots=True)
class NotPeer:
    rule: str
    detail: str


@dataclass(frozen=True, slots=True)
class SharedCold:
    """An owner's peers over a shared directory, as the engine's aggregate of peers with
    nothing on record needs them (``rules.cold``): the peers before the owner's
    chain and reports (``base``), where the pool made from them is kept for every
    owner (``pools[key]``), and how this owner's peers differ from ``base``."""

    base: dict[str, Person]
    pools: dict[tuple[str, ...], Any]  # internal domains -> rules.cold.ColdPool
    key: tuple[str, ...]
    out: frozenset[str]  # in base, not this owner's peers (them, their chain, reports)
    extra: frozenset[str]  # this owner's peers outside base (peers.include)


@dataclass(slots=True)
class Directory:
    """The directory resolved through identity, and the peer verdict for each person."""

    people: dict[str, Person]  # canonical email -> person
    peers: dict[str, Person]
    not_peers: dict[str, NotPeer]
    reports: frozenset[str]  # the owner's direct and indirect reports
    direct_reports: frozenset[str]
    management_chain: tuple[str, ...]  # the owner's manager, their manager, ...
    team_sizes: dict[str, int] = field(default_factory=dict)  # direct + indirect reports
    chain_known: bool = True  # False: no one in the directory has a manager
    # A shared directory's views of peers with nothing on record (the engine fills it):
    # the same for every owner under the same rules (issue 12). None: not shared.
    cold_views: dict[str, Any] | None = None
    # A shared directory's, made once per version for the inference ledger: rule per
    # not-peer (none is a leader: the shared path declines those) and who is tracked.
    not_peer_rules: dict[str, str] | None = None
    tracked: frozenset[str] | None = None
    # A shared directory's: the owner's peers as base peers minus/plus a few (issue 12).
    shared_cold: SharedCold | None = None

    def verdict(self, canonical: str) -> NotPeer | None:
        """None for a peer; otherwise why not."""
        if canonical in self.peers:
            return None
        return self.not_peers.get(canonical) or NotPeer(
            "peers.not_in_directory", "not in the directory"
        )


def build_directory(people: Sequence[Person], identity: Identity, rules: RuleSet) -> Directory:
    """Resolve the directory and decide, for every person, whether they are a peer."""
    resolved: dict[str, Person] = {}
    for person in people:
        canonical = identity.resolve(person.email)
        if canonical not in resolved or canonical == person.email.lower():
            resolved[canonical] = person
    managers = {
        email: identity.resolve(p.manager) for email, p in resolved.items() if p.manager
    }
    children: dict[str, list[str]] = {}
    for email, manager in managers.items():
        children.setdefault(manager, []).append(email)
    chain = _chain(identity.owner, managers)
    reports = _below(identity.owner, children)
    team_sizes = {email: len(_below(email, children)) for email in children}
    peers: dict[str, Person] = {}
    not_peers: dict[str, NotPeer] = {}
    policy = _Policy(rules, identity, frozenset(chain), reports, children)
    chain_known = bool(managers)
    owner_person = resolved.get(identity.owner)
    if not chain_known and _titles_stand_in(rules) and owner_person:
        level, named = rules.title_level(owner_person.title)
        # An owner's title no level names says nothing about their rank: judged from it
        # (level 0), every titled person would be a leader and the digest empty (Enron:
        # "Mng Dir Trading" before it was a level). Only the top level leads them then.
        policy.owner_level = level if named is not None else None
        policy.owner_unranked = named is None
        policy.owner_department = (owner_person.department or "").lower()
    for email, person in resolved.items():
        verdict = policy.judge(email, person)
        if verdict is None:
            peers[email] = person
        else:
            not_peers[email] = verdict
    for email in rules.model.peers.include:
        canonical = identity.resolve(email)
        if canonical not in resolved and canonical != identity.owner:
            peers[canonical] = Person(email=canonical)
            not_peers.pop(canonical, None)
    return Directory(
        people=resolved,
        peers=peers,
        not_peers=not_peers,
        reports=frozenset(reports),
        direct_reports=frozenset(children.get(identity.owner, ())),
        management_chain=tuple(chain),
        team_sizes=team_sizes,
        chain_known=chain_known,
    )


@dataclass(slots=True)
class SharedDirectory:
    """The part of :func:`build_directory` that does not depend on the owner, for a
    directory every manager of an organization reads (issue 12).

    Built once per directory version (the worker keys it by the store's people
    stamp) and shared by every owner's :func:`owner_directory`, which then costs
    the owner's chain, reports and the peers they remove, not a pass over the
    directory. Read-only once built: owners' directories share its dicts."""

    people: Sequence[Person]
    rules: RuleSet
    identity: IdentityBase
    resolved: dict[str, Person]
    managers: dict[str, str]
    children: dict[str, list[str]]
    team_sizes: dict[str, int]
    include: frozenset[str]
    exclude: frozenset[str]
    # per internal domains: (peers, not peers, their rules) before the owner's chain
    # and reports
    verdicts: dict[tuple[str, ...], tuple[dict[str, Person], dict[str, NotPeer],
                                          dict[str, str]]] = field(default_factory=dict)
    cold_views: dict[str, Any] = field(default_factory=dict)  # see Directory.cold_views
    pools: dict[tuple[str, ...], Any] = field(default_factory=dict)  # see SharedCold
    known: frozenset[str] = frozenset()  # every resolved address (the ledger's tracked)

    def verdicts_for(
        self, domains: tuple[str, ...]
    ) -> tuple[dict[str, Person], dict[str, NotPeer], dict[str, str]]:
        """Every person's verdict but for the owner-dependent checks, in directory order."""
        found = self.verdicts.get(domains)
        if found is None:
            peers: dict[str, Person] = {}
            not_peers: dict[str, NotPeer] = {}
            for email, person in self.resolved.items():
                if email in self.exclude:
                    not_peers[email] = NotPeer("peers.exclude", "listed in peers.exclude")
                    continue
                verdict = None if email in self.include else _tail_verdict(
                    email, person, self.rules, domains, self.children)
                if verdict is None:
                    peers[email] = person
                else:
                    not_peers[email] = verdict
            rules = {email: verdict.rule for email, verdict in not_peers.items()}
            found = self.verdicts[domains] = (peers, not_peers, rules)
        return found


def share_directory(people: Sequence[Person], rules: RuleSet) -> SharedDirectory:
    """Resolve a shared directory as far as no owner is needed (see :class:`SharedDirectory`)."""
    base = IdentityBase(people, rules)
    resolve = base.resolve
    resolved: dict[str, Person] = {}
    for person in people:
        canonical = resolve(person.email)
        if canonical not in resolved or canonical == person.email.lower():
            resolved[canonical] = person
    managers = {email: resolve(p.manager) for email, p in resolved.items() if p.manager}
    children: dict[str, list[str]] = {}
    for email, manager in managers.items():
        children.setdefault(manager, []).append(email)
    return SharedDirectory(
        people=people,
        rules=rules,
        identity=base,
        resolved=resolved,
        managers=managers,
        children=children,
        team_sizes={email: len(_below(email, children)) for email in children},
        include=frozenset(resolve(e) for e in rules.model.peers.include),
        exclude=frozenset(resolve(e) for e in rules.model.peers.exclude),
        known=frozenset(resolved),
    )


def owner_directory(
    shared: SharedDirectory, owner: str, owner_aliases: Iterable[str], rules: RuleSet
) -> tuple[Identity, Directory] | None:
    """The owner's identity and directory over ``shared``: equal to ``Identity(...)``
    and :func:`build_directory` over the same people, or None where that would take
    the full pass (the caller then makes it): other rules, an owner address another
    directory person claims or names as manager, no manager column (title levels
    then judge everyone against the owner's)."""
    identity = Identity.over(shared.identity, owner, owner_aliases, rules)
    if identity is None or shared.rules is not rules:
        return None
    me = identity.owner
    for address in identity.owner_addresses:
        if address != me and address not in shared.identity.mapping and address in shared.children:
            return None  # a manager column names an owner alias: resolves to the owner
    resolved, managers, children = shared.resolved, shared.managers, shared.children
    chain_known = bool(managers)
    model = rules.model.peers
    if not chain_known and _titles_stand_in(rules) and me in resolved:
        return None
    chain = _chain(me, managers)
    reports = _below(me, children)
    base_peers, base_not_peers, base_rules = shared.verdicts_for(identity.internal_domains)
    peers = dict(base_peers)
    not_peers = dict(base_not_peers)

    changed: set[str] = set()  # whose verdict differs from the shared one

    def judged(email: str, verdict: NotPeer) -> None:
        peers.pop(email, None)
        not_peers[email] = verdict
        changed.add(email)

    if me in resolved:
        judged(me, NotPeer("identity.me", "this is you"))
    kept = shared.exclude | shared.include | {me}
    if model.exclude_my_management_chain:
        for email in chain:
            if email in resolved and email not in kept:
                judged(email, NotPeer("peers.exclude_my_management_chain",
                                      "in your management chain"))
        kept = kept | set(chain)
    if model.exclude_my_reports:
        for email in reports:
            if email in resolved and email not in kept:
                judged(email, NotPeer("peers.exclude_my_reports", "reports to you"))
    extra: set[str] = set()
    for email in model.include:
        canonical = identity.resolve(email)
        if canonical not in resolved and canonical != me:
            peers[canonical] = Person(email=canonical)
            not_peers.pop(canonical, None)
            extra.add(canonical)
            changed.add(canonical)
    rules_now = dict(base_rules)
    for email in changed:
        if email in not_peers:
            rules_now[email] = not_peers[email].rule
        else:
            rules_now.pop(email, None)
    cold = SharedCold(
        base=base_peers, pools=shared.pools, key=identity.internal_domains,
        out=frozenset(e for e in changed if e in base_peers and e not in peers),
        extra=frozenset(e for e in changed if e in peers and e not in base_peers),
    )
    return identity, Directory(
        people=resolved,
        peers=peers,
        not_peers=not_peers,
        reports=frozenset(reports),
        direct_reports=frozenset(children.get(me, ())),
        management_chain=tuple(chain),
        team_sizes=shared.team_sizes,
        chain_known=chain_known,
        cold_views=shared.cold_views,
        not_peer_rules=rules_now,
        tracked=shared.known | extra if extra else shared.known,
        shared_cold=cold,
    )


def _chain(owner: str, managers: dict[str, str]) -> list[str]:
    chain: list[str] = []
    current = managers.get(owner)
    while current and current != owner and current not in chain:
        chain.append(current)
        current = managers.get(current)
    return chain


def _below(root: str, children: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(children.get(root, ()))
    while stack:
        email = stack.pop()
        if email in seen or email == root:
            continue
        seen.add(email)
        stack.extend(children.get(email, ()))
    return seen


class _Policy:
    def __init__(
        self,
        rules: RuleSet,
        identity: Identity,
        chain: frozenset[str],
        reports: set[str],
        children: dict[str, list[str]],
    ) -> None:
        self.rules = rules
        self.model = rules.model.peers
        self.identity = identity
        self.chain = chain
        self.reports = reports
        self.children = children
        self.include = {identity.resolve(e) for e in self.model.include}
        self.exclude = {identity.resolve(e) for e in self.model.exclude}
        # Set only when the chain is unknown and titles stand in for it.
        self.owner_level: int | None = None
        self.owner_unranked = False  # the owner's title names no level
        self.owner_department = ""

    def judge(self, email: str, person: Person) -> NotPeer | None:
        m, r = self.model, self.rules
        if email == self.identity.owner:
            return NotPeer("identity.me", "this is you")
        if email in self.exclude:
            return NotPeer("peers.exclude", "listed in peers.exclude")
        if email in self.include:
            return None
        if m.exclude_my_management_chain and email in self.chain:
            return NotPeer("peers.exclude_my_management_chain", "in your management chain")
        if m.exclude_my_reports and email in self.reports:
            return NotPeer("peers.exclude_my_reports", "reports to you")
        leader = self._leader(person)
        if leader:
            return leader
        return _tail_verdict(email, person, r, self.identity.internal_domains, self.children)

    def _leader(self, person: Person) -> NotPeer | None:
        """Without a manager column, title rank stands in for the chain (issue 9, item 2).

        Someone above your level in your own department is probably your boss
        or theirs; someone two or more levels above you anywhere is a leader.
        Neither is a peer. Someone below your level in your own department is
        probably on your team (a VP of Regulatory Affairs and a Director of
        Regulatory Affairs): the spec's "not one of their reports", guessed the
        same way, so a sideways tool does not send you to your own people. And
        someone two or more levels below you anywhere is not a peer either: a
        peer is about your level, sideways (Enron: a President & CEO was sent to
        reconnect with Directors and VPs of other divisions, and told he owed them).
        """
        m = self.model
        if self.owner_level is None:
            if self.owner_unranked and m.leaders_by_title_when_chain_unknown:
                level, name = self.rules.title_level(person.title)
                top = self.rules.title_levels[0][0] if self.rules.title_levels else 0
                if name is not None and level == top:
                    return NotPeer("peers.leader",
                                   f"{name} title, the top level; yours names no level "
                                   "(no manager column)")
            return None
        level, name = self.rules.title_level(person.title)
        same = (person.department or "").lower() == self.owner_department != ""
        if m.leaders_by_title_when_chain_unknown:
            if same and level > self.owner_level:
                return NotPeer("peers.leader_in_my_department",
                               f"{name} title above yours in your department "
                               "(no manager column)")
            if level >= self.owner_level + 2:
                return NotPeer("peers.leader",
                               f"{name} title two or more levels above yours "
                               "(no manager column)")
        if m.reports_by_title_when_chain_unknown and same and level < self.owner_level:
            return NotPeer("peers.report_in_my_department",
                           f"{name or 'untitled'} title below yours in your department "
                           "(no manager column): probably on your team")
        if m.far_below_by_title_when_chain_unknown and 0 < level <= self.owner_level - 2:
            # a title no level names (or none) says nothing about rank: still a peer
            return NotPeer("peers.far_below",
                           f"{name} title two or more levels below yours "
                           "(no manager column): not a peer at your level")
        return None


def _titles_stand_in(rules: RuleSet) -> bool:
    """Whether title levels judge anyone when no one in the directory has a manager."""
    m = rules.model.peers
    return (m.leaders_by_title_when_chain_unknown or m.reports_by_title_when_chain_unknown
            or m.far_below_by_title_when_chain_unknown)


def _tail_verdict(
    email: str, person: Person, r: RuleSet, internal_domains: Sequence[str],
    children: dict[str, list[str]],
) -> NotPeer | None:
    """The policy's checks that do not depend on who the owner is (after ``identity.me``,
    ``peers.exclude``/``include``, the owner's chain, reports and leaders): the same
    for every owner with the same internal domains, so a shared directory keeps them."""
    m = r.model.peers
    if m.internal_only and not in_domains(email, internal_domains):
        return NotPeer("peers.internal_only", "outside your organization's domains")
    if m.require_manages_anyone and not (person.manages_anyone or children.get(email)):
        return NotPeer("peers.require_manages_anyone", "manages no one")
    department, title = person.department or "", person.title or ""
    if r.peer_departments and not r.peer_departments.match(department):
        return NotPeer("peers.departments", f"department {department!r} not listed")
    hit = r.peer_exclude_departments.match(department)
    if hit:
        return NotPeer("peers.exclude_departments", f"department matches {hit!r}")
    if r.peer_titles and not r.peer_titles.match(title):
        return NotPeer("peers.titles", f"title {title!r} not listed")
    hit = r.peer_exclude_titles.match(title)
    if hit:
        return NotPeer("peers.exclude_titles", f"title matches {hit!r}")
    if r.peer_tags and not any(r.peer_tags.match(t) for t in person.tags):
        return NotPeer("peers.tags", "no listed tag")
    for tag in person.tags:
        hit = r.peer_exclude_tags.match(tag)
        if hit:
            return NotPeer("peers.exclude_tags", f"tag matches {hit!r}")
    return None
