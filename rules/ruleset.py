"""A validated rule file compiled for the hot path.

:class:`RuleSet` keeps the validated pydantic model (``model``) for reading
plain settings and adds the compiled glob matchers the inference loop calls a
million times. It is built once per load and never mutated afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peerpulse.rules.globs import GlobSet
from peerpulse.rules.schema import RulesModel


@dataclass(frozen=True, slots=True)
class KeyFunctionMatcher:
    name: str
    departments: GlobSet
    cadence_days: int


@dataclass(frozen=True, slots=True)
class CadenceGroupMatcher:
    name: str
    days: int
    departments: GlobSet
    titles: GlobSet
    tags: GlobSet
    people: frozenset[str]


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The effective rules: defaults plus the user's files, validated and compiled."""

    model: RulesModel
    sources: tuple[str, ...] = ()
    all_hands: GlobSet = field(default_factory=lambda: GlobSet(()))
    event_titles: GlobSet = field(default_factory=lambda: GlobSet(()))
    lunch_titles: GlobSet = field(default_factory=lambda: GlobSet(()))
    precedence: GlobSet = field(default_factory=lambda: GlobSet(()))
    noreply: GlobSet = field(default_factory=lambda: GlobSet(()))
    blocked_addresses: GlobSet = field(default_factory=lambda: GlobSet(()))
    blocked_domains: frozenset[str] = frozenset()
    mail_subjects: GlobSet = field(default_factory=lambda: GlobSet(()))
    peer_departments: GlobSet = field(default_factory=lambda: GlobSet(()))
    peer_exclude_departments: GlobSet = field(default_factory=lambda: GlobSet(()))
    peer_titles: GlobSet = field(default_factory=lambda: GlobSet(()))
    peer_exclude_titles: GlobSet = field(default_factory=lambda: GlobSet(()))
    peer_tags: GlobSet = field(default_factory=lambda: GlobSet(()))
    peer_exclude_tags: GlobSet = field(default_factory=lambda: GlobSet(()))
    title_levels: tuple[tuple[int, str, GlobSet], ...] = ()  # highest level first
    influential_titles: GlobSet = field(default_factory=lambda: GlobSet(()))
    celebrate_subjects: GlobSet = field(default_factory=lambda: GlobSet(()))
    key_functions: tuple[KeyFunctionMatcher, ...] = ()
    cadence_groups: tuple[CadenceGroupMatcher, ...] = ()

    @classmethod
    def compile(cls, model: RulesModel, sources: tuple[str, ...] = ()) -> RuleSet:
        ev, mail, peers = model.noise.events, model.noise.mail, model.peers
        return cls(
            model=model,
            sources=sources,
            all_hands=GlobSet(ev.all_hands_titles),
            event_titles=GlobSet(ev.exclude_titles),
            lunch_titles=GlobSet(model.kinds.lunch_titles),
            precedence=GlobSet(mail.precedence),
            noreply=GlobSet(mail.noreply_senders),
            blocked_addresses=GlobSet(mail.blocked_addresses),
            blocked_domains=frozenset(mail.blocked_domains),
            mail_subjects=GlobSet(mail.exclude_subjects),
            peer_departments=GlobSet(peers.departments),
            peer_exclude_departments=GlobSet(peers.exclude_departments),
            peer_titles=GlobSet(peers.titles),
            peer_exclude_titles=GlobSet(peers.exclude_titles),
            peer_tags=GlobSet(peers.tags),
            peer_exclude_tags=GlobSet(peers.exclude_tags),
            title_levels=tuple(sorted(
                ((t.level, t.name, GlobSet(t.titles)) for t in peers.title_levels),
                key=lambda t: -t[0],
            )),
            influential_titles=GlobSet(model.cadence.influential.titles),
            celebrate_subjects=GlobSet(model.celebrate.subject_keywords),
            key_functions=tuple(
                KeyFunctionMatcher(k.name, GlobSet(k.departments), k.cadence_days)
                for k in model.key_functions
            ),
            cadence_groups=tuple(
                CadenceGroupMatcher(
                    g.name, g.days, GlobSet(g.departments), GlobSet(g.titles),
                    GlobSet(g.tags), frozenset(g.people),
                )
                for g in model.cadence.groups
            ),
        )

    def title_level(self, title: str | None) -> tuple[int, str | None]:
        """The seniority a title implies: the highest ``[[peers.title_levels]]`` it matches."""
        if title:
            for level, name, globs in self.title_levels:
                if globs.match(title):
                    return level, name
        return 0, None

    def key_function(self, department: str | None) -> KeyFunctionMatcher | None:
        """The key function a department belongs to, if any."""
        if not department:
            return None
        for function in self.key_functions:
            if function.departments.match(department):
                return function
        return None
