"""The synthetic org chart: who manages whom, who the focal manager's peers are.

A handful of named people carry the demo's story (the focal manager Dana Reyes,
Lee Chen who writes from three addresses, peers in HR and Finance, peers in New
York, London and Tokyo); everyone else is drawn from the seeded RNG. The chart
answers the questions the ground truth needs: canonical address of an alias,
and whether someone is a peer per the default semantics (manages someone, is
not the owner, not in the owner's management chain, not one of their reports).
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from peerpulse.worker.demo import names

MIN_MANAGERS = 22
HOME_ZONE = "Europe/Berlin"


@dataclass(frozen=True, slots=True)
class DemoPerson:
    email: str
    name: str
    department: str
    title: str
    manager: str | None
    level: str  # ceo, vp, director, manager, ic
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    team_size: int = 0  # everyone below them, directly or not
    timezone: str = HOME_ZONE
    mail_name: str = ""  # how their mail client spells their name, when it differs

    @property
    def display_name(self) -> str:
        return self.mail_name or self.name


@dataclass(frozen=True)
class OrgChart:
    people: tuple[DemoPerson, ...]
    owner: str
    chain: tuple[str, ...]  # the owner's manager, their manager, ... up to the CEO
    reports: tuple[str, ...]  # the owner's direct and indirect reports
    direct_reports: tuple[str, ...]
    peers: tuple[str, ...]
    named: Mapping[str, str]  # story key ("lee", "vp:HR") -> canonical email
    by_email: Mapping[str, DemoPerson] = field(repr=False)
    _resolve: Mapping[str, str] = field(repr=False)
    _peer_set: frozenset[str] = field(repr=False)

    def canonical(self, address: str) -> str:
        """The directory address for any alias or spelling; unknown addresses as lowercased."""
        lowered = address.lower()
        return self._resolve.get(lowered, lowered)

    def is_peer(self, canonical_email: str) -> bool:
        return canonical_email in self._peer_set

    def person(self, key: str) -> DemoPerson:
        return self.by_email[self.named[key]]


@dataclass
class _Draft:
    key: str
    email: str
    name: str
    department: str
    title: str
    manager_key: str | None
    level: str
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    timezone: str = HOME_ZONE
    mail_name: str = ""


_VP_NAMES = {
    "Engineering": "Avery Johnson", "Product": "Rachel Kim", "Sales": "Thomas Grant",
    "Marketing": "Helena Costa", "Support": "Omar Haddad", "Operations": "Ingrid Larsen",
    "Legal": "Victor Stone", "HR": "Nadia Rahman", "Finance": "Paul Meyer",
}

# key, name, department, level, manager key, title, zone, aliases, mail name
_STORY = (
    ("morgan", "Morgan Blake", "Engineering", "director", "vp:Engineering",
     "Director, Engineering", HOME_ZONE, (), ""),
    ("dana", "Dana Reyes", "Engineering", "manager", "morgan", "Engineering Manager", HOME_ZONE,
     ("dana@example.com", "dana.reyes@example.co.uk"), ""),
    ("sam", "Sam Okafor", "Engineering", "manager", "dana", "Team Lead, Platform SRE", HOME_ZONE,
     (), ""),
    ("lee", "Lee Chen", "Product", "manager", "vp:Product", "Senior Manager, Product", HOME_ZONE,
     ("lchen@example.com", "lee.chen@example.co.uk"), ""),
    ("priya", "Priya Nair", "Engineering", "manager", "vp:Engineering",
     "Senior Engineering Manager", HOME_ZONE, ("pnair@example.com",), ""),
    ("renee", "Renée Müller", "HR", "manager", "vp:HR", "Manager, People Partners", HOME_ZONE,
     ("renee.mueller@example.com",), ""),
    ("soren", "Søren Åberg", "Finance", "manager", "vp:Finance", "Senior Manager, FP&A",
     HOME_ZONE, (), ""),
    ("hanako", "Hanako Sato", "Operations", "manager", "vp:Operations",
     "Manager, Operations APAC", "Asia/Tokyo", (), "佐藤 花子 (Hanako Sato)"),
    ("marcus", "Marcus Webb", "Sales", "director", "vp:Sales", "Director, Sales",
     "America/New_York", (), ""),
    ("oliver", "Oliver Hughes", "Support", "manager", "vp:Support", "Manager, Support",
     "Europe/London", ("oliver.hughes@example.co.uk",), ""),
    ("jose", "José Núñez", "Marketing", "manager", "vp:Marketing", "Manager, Marketing",
     HOME_ZONE, (), ""),
)


def _ascii_local(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name.replace("ø", "o").replace("Ø", "O"))
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return ".".join(part.lower() for part in plain.split())


class _Namer:
    """Hands out unique names and addresses from the fixed pools."""

    def __init__(self, rng: random.Random, taken: set[str]) -> None:
        self._rng = rng
        self._taken = taken

    def reserve(self, name: str) -> str:
        email = f"{_ascii_local(name)}@{names.DOMAIN}"
        self._taken.add(email)
        return email

    def fresh(self) -> tuple[str, str]:
        for attempt in range(1000):
            name = f"{self._rng.choice(names.FIRST_NAMES)} {self._rng.choice(names.LAST_NAMES)}"
            local = _ascii_local(name)
            suffix = "" if attempt < 50 else str(attempt)
            email = f"{local}{suffix}@{names.DOMAIN}"
            if email not in self._taken:
                self._taken.add(email)
                return name, email
        raise RuntimeError("name pool exhausted")


def build_org(rng: random.Random, managers: int) -> OrgChart:
    """A company with ``managers`` people who manage someone, the owner among them."""
    if managers < MIN_MANAGERS:
        raise ValueError(f"managers must be at least {MIN_MANAGERS}, got {managers}")
    namer = _Namer(rng, set())
    drafts: list[_Draft] = []
    ceo_email = namer.reserve("Jordan Ellis")
    drafts.append(_Draft("ceo", ceo_email, "Jordan Ellis", "Executive", "Chief Executive Officer",
                         None, "ceo", tags=("exec",)))
    for dept in names.DEPARTMENTS:
        vp = _VP_NAMES[dept]
        drafts.append(_Draft(f"vp:{dept}", namer.reserve(vp), vp, dept, names.vp_title(dept),
                             "ceo", "vp", tags=("exec",),
                             timezone=names.DEPARTMENT_ZONES.get(dept, HOME_ZONE)))
    for key, name, dept, level, boss, title, zone, aliases, mail_name in _STORY:
        drafts.append(_Draft(key, namer.reserve(name), name, dept, title, boss, level,
                             aliases=aliases, timezone=zone, mail_name=mail_name,
                             tags=_zone_tags(zone)))
    _add_generic_managers(drafts, rng, namer, managers - (len(drafts)))
    _add_individual_contributors(drafts, rng, namer)
    return _freeze(drafts)


def _zone_tags(zone: str) -> tuple[str, ...]:
    office = {"America/New_York": "office:new-york", "Europe/London": "office:london",
              "Asia/Tokyo": "office:tokyo"}.get(zone)
    return (office,) if office else ()


def _allocate(total: int) -> dict[str, int]:
    """Largest-remainder split of the generic manager slots by department weight."""
    weight_sum = sum(names.DEPARTMENT_WEIGHTS.values())
    exact = {d: total * w / weight_sum for d, w in names.DEPARTMENT_WEIGHTS.items()}
    counts = {d: int(x) for d, x in exact.items()}
    rest = total - sum(counts.values())
    for dept in sorted(exact, key=lambda d: (counts[d] - exact[d], d))[:rest]:
        counts[dept] += 1
    return counts


def _add_generic_managers(drafts: list[_Draft], rng: random.Random, namer: _Namer,
                          total: int) -> None:
    for dept, count in _allocate(total).items():
        directors = [d.key for d in drafts if d.department == dept and d.level == "director"]
        zone = names.DEPARTMENT_ZONES.get(dept, HOME_ZONE)
        for i in range(count):
            name, email = namer.fresh()
            key = f"m:{dept}:{i}"
            if i % 4 == 3 or (not directors and count > 2 and i == 0):
                drafts.append(_Draft(key, email, name, dept,
                                     names.director_title(dept, rng.random() < 0.3),
                                     f"vp:{dept}", "director", timezone=zone))
                directors.append(key)
                continue
            boss = directors[i % len(directors)] if directors else f"vp:{dept}"
            drafts.append(_Draft(key, email, name, dept,
                                 names.manager_title(dept, rng.random() < 0.35), boss, "manager",
                                 tags=("mentor",) if rng.random() < 0.15 else (),
                                 timezone=zone))


def _add_individual_contributors(drafts: list[_Draft], rng: random.Random,
                                 namer: _Namer) -> None:
    has_manager_reports = {d.manager_key for d in drafts}
    for boss in list(drafts):
        if boss.level == "ceo":
            continue
        if boss.key == "dana":
            count = 5
        elif boss.key == "sam":
            count = 2
        elif boss.level in ("vp", "director"):
            count = 1 if boss.key in has_manager_reports else 3
        else:
            count = rng.randint(4, 9)
        for i in range(count):
            name, email = namer.fresh()
            drafts.append(_Draft(f"ic:{boss.key}:{i}", email, name, boss.department,
                                 rng.choice(names.IC_TITLES[boss.department]), boss.key, "ic",
                                 timezone=boss.timezone))


def _freeze(drafts: list[_Draft]) -> OrgChart:
    email_of = {d.key: d.email for d in drafts}
    children: dict[str, list[_Draft]] = {}
    for d in drafts:
        if d.manager_key is not None:
            children.setdefault(d.manager_key, []).append(d)

    def below(key: str) -> list[str]:
        out: list[str] = []
        for child in children.get(key, ()):
            out.append(child.email)
            out.extend(below(child.key))
        return out

    people: list[DemoPerson] = []

    def visit(d: _Draft) -> None:
        people.append(DemoPerson(
            email=d.email, name=d.name, department=d.department, title=d.title,
            manager=email_of[d.manager_key] if d.manager_key else None, level=d.level,
            aliases=d.aliases, tags=d.tags, team_size=len(below(d.key)), timezone=d.timezone,
            mail_name=d.mail_name,
        ))
        for child in children.get(d.key, ()):
            visit(child)

    visit(drafts[0])
    by_email = {p.email: p for p in people}
    resolve: dict[str, str] = {}
    for p in people:
        resolve[p.email] = p.email
        for alias in p.aliases:
            resolve[alias.lower()] = p.email
    owner = email_of["dana"]
    chain: list[str] = []
    boss = by_email[owner].manager
    while boss is not None:
        chain.append(boss)
        boss = by_email[boss].manager
    reports = tuple(below("dana"))
    excluded = {owner, *chain, *reports}
    peers = tuple(p.email for p in people if p.team_size > 0 and p.email not in excluded)
    return OrgChart(
        people=tuple(people), owner=owner, chain=tuple(chain), reports=reports,
        direct_reports=tuple(c.email for c in children["dana"]), peers=peers,
        named={d.key: d.email for d in drafts if not d.key.startswith(("ic:", "m:"))},
        by_email=by_email, _resolve=resolve, _peer_set=frozenset(peers),
    )
