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

    __slots__ = ("owner", "owner_addresses", "internal_domains", "_map", "_internal_cache")

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
        owner_people = {mapping[a] for a in mine if a in mapping}
        for address, canonical in list(mapping.items()):
            if canonical in owner_people:
                mapping[address] = self.owner
        for address in mine:
            mapping[address] = self.owner
        self._map = mapping
        domains = rules.model.identity.internal_domains or sorted(
            {domain_of(a) for a in self.owner_addresses}
        )
        self.internal_domains = tuple(domains)
        self._internal_cache: dict[str, bool] = {}

    def resolve(self, address: str) -> str:
        """The canonical email for ``address`` (itself, normalized, when unknown)."""
        found = self._map.get(address)
        if found is None:
            key = normalize(address)
            found = self._map.get(key, key)
            self._map[address] = found
        return found

    def is_internal(self, canonical: str) -> bool:
        cached = self._internal_cache.get(canonical)
        if cached is None:
            domain = domain_of(canonical)
            cached = any(domain == d or domain.endswith("." + d) for d in self.internal_domains)
            self._internal_cache[canonical] = cached
        return cached
