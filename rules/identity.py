"""Who is who: every address resolved to one canonical person, before anything else.

An address maps to a canonical email through, in order of precedence: the
owner's own addresses (config owner and aliases, rules ``identity.my_addresses``),
the rules' alias groups, and the directory's ``aliases`` column. Resolution is
a dict lookup, cached per raw address, because the inference loop does it a few
million times.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from peerpulse.connectors.records import Person
from peerpulse.rules.ruleset import RuleSet


def normalize(address: str) -> str:
    """Lower-case, trimmed, without angle brackets or a ``mailto:`` prefix."""
    address = address.strip().strip("<>").strip().lower()
    return address.removeprefix("mailto:")


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]


class Identity:
    """Address -> canonical email; who the owner is; which domains are internal."""

    __slots__ = ("owner", "owner_addresses", "internal_domains", "_map", "_base",
                 "_internal_cache")

    def __init__(
        self,
        owner: str,
        owner_aliases: Iterable[str],
        people: Sequence[Person],
        rules: RuleSet,
    ) -> None:
        self.owner = normalize(owner)
        mine = {self.owner, *(normalize(a) for a in owner_aliases)}
        mine.update(rules.model.identity.my_addresses)
        self.owner_addresses = frozenset(mine)
        mapping = address_map(people, rules)
        owner_people = {mapping[a] for a in mine if a in mapping}
        for address, canonical in list(mapping.items()):
            if canonical in owner_people:
                mapping[address] = self.owner
        for address in mine:
            mapping[address] = self.owner
        self._map = mapping
        self._base: dict[str, str] = {}
        self.internal_domains = internal_domains_for(self.owner_addresses, rules)
        self._internal_cache: dict[str, bool] = {}

    @classmethod
    def over(
        cls, base: IdentityBase, owner: str, owner_aliases: Iterable[str], rules: RuleSet
    ) -> Identity | None:
        """The owner's identity over a shared directory's resolved addresses, without a
        pass over them; None when the owner's addresses merge with someone else's in
        the directory (then only the full constructor gives the same answers).

        The constructor's owner step maps the owner's addresses, and every address of
        a directory person one of them names, to the owner. When none of the owner's
        addresses is known to ``base`` except as the owner itself, that step only adds
        the owner's own addresses: an overlay, the rest shared."""
        if base.rules is not rules:
            return None
        self = cls.__new__(cls)
        self.owner = normalize(owner)
        mine = {self.owner, *(normalize(a) for a in owner_aliases)}
        mine.update(rules.model.identity.my_addresses)
        if any(base.mapping.get(a, self.owner) != self.owner for a in mine):
            return None
        self.owner_addresses = frozenset(mine)
        self._map = dict.fromkeys(mine, self.owner)
        self._base = base.mapping
        self.internal_domains = internal_domains_for(self.owner_addresses, rules)
        self._internal_cache = {}
        return self

    def resolve(self, address: str) -> str:
        """The canonical email for ``address`` (itself, normalized, when unknown)."""
        found = self._map.get(address)
        if found is None:
            found = self._base.get(address)
            if found is None:
                key = normalize(address)
                found = self._map.get(key) or self._base.get(key, key)
            self._map[address] = found
        return found

    def is_internal(self, canonical: str) -> bool:
        cached = self._internal_cache.get(canonical)
        if cached is None:
            cached = in_domains(canonical, self.internal_domains)
            self._internal_cache[canonical] = cached
        return cached


class IdentityBase:
    """What :class:`Identity` resolves without knowing the owner: every directory
    address and alias, and the rules' alias groups (a shared directory's part,
    built once and shared by every owner's :meth:`Identity.over`)."""

    __slots__ = ("mapping", "rules")

    def __init__(self, people: Sequence[Person], rules: RuleSet) -> None:
        self.mapping = address_map(people, rules)
        self.rules = rules

    def resolve(self, address: str) -> str:
        """What :meth:`Identity.resolve` answers for an address none of the owner's."""
        found = self.mapping.get(address)
        if found is None:
            key = normalize(address)
            found = self.mapping.get(key, key)
        return found


def internal_domains_for(owner_addresses: Iterable[str], rules: RuleSet) -> tuple[str, ...]:
    """The rules' internal domains, else the domains of the owner's own addresses."""
    domains = rules.model.identity.internal_domains or sorted(
        {domain_of(a) for a in owner_addresses}
    )
    return tuple(domains)


def in_domains(canonical: str, domains: Sequence[str]) -> bool:
    """Whether ``canonical``'s domain is one of ``domains`` or below one."""
    domain = domain_of(canonical)
    return any(domain == d or domain.endswith("." + d) for d in domains)


def address_map(people: Sequence[Person], rules: RuleSet) -> dict[str, str]:
    """Every address and alias of ``people`` and of the rules' alias groups -> its
    canonical address, before the owner's own addresses are folded in."""
    mapping: dict[str, str] = {}
    for person in people:
        canonical = normalize(person.email)
        mapping.setdefault(canonical, canonical)
        for alias in person.aliases:
            mapping[normalize(alias)] = canonical
    for group in rules.model.identity.alias_groups:
        # a group member the directory knows decides the canonical address
        known = next((mapping[a] for a in group if a in mapping), group[0])
        for address in group:
            mapping[address] = known
    return mapping
