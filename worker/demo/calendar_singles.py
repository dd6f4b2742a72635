"""Single (non-recurring) events: a scripted set of edge cases, then seeded background.

The scripted events are placed at fixed fractions of the window so that every
trap category and size boundary exists at any seed and scale; the background
(peer 1:1s by cadence profile, cross-department meetings, prep blocks) is drawn
day by day from the RNG and grows with ``scale`` like its square root.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from peerpulse.worker.demo.invites import PROJECTOR, PROJECTS, EventFactory, safe_to_decline
from peerpulse.worker.demo.model import DemoWindow, EventSpec, Guest, zoned
from peerpulse.worker.demo.org import HOME_ZONE, OrgChart

# Cadence profiles: (min days, max days) between meetings; None never meets.
PROFILES = {"biweekly": (11, 17), "monthly": (24, 36), "occasional": (30, 65),
            "dormant": (8, 14), "never": None}
_CYCLE = ("biweekly", "monthly", "occasional", "never", "dormant", "monthly", "occasional",
          "never", "occasional", "dormant")
STORY_PROFILES = {"soren": "occasional", "renee": "dormant", "oliver": "occasional",
                  "jose": "occasional", "marcus": "occasional", "lee": "monthly"}


def peer_profiles(org: OrgChart, rng: random.Random) -> dict[str, str]:
    """Each peer's cadence profile (shared by calendar and mail); story peers have fixed ones."""
    story = {org.named[k]: v for k, v in STORY_PROFILES.items()}
    fixed = {org.named["priya"], org.named["hanako"]}  # their series are their cadence
    generic = [p for p in org.peers if p not in story and p not in fixed]
    rng.shuffle(generic)
    profiles = {p: _CYCLE[i % len(_CYCLE)] for i, p in enumerate(generic)}
    profiles.update(story)
    return profiles


def _weekday_at(window: DemoWindow, fraction: float) -> date:
    day = window.start + timedelta(days=int((window.end - window.start).days * fraction))
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return max(day, window.start) if day < window.end else window.end - timedelta(days=3)


class SingleEvents:
    """Yields single events day by day; memory stays flat whatever the window."""

    def __init__(self, f: EventFactory, window: DemoWindow, calendar_scale: float,
                 profiles: dict[str, str]) -> None:
        self.f = f
        self.org = f.org
        self.window = window
        self.calendar_factor = calendar_scale
        self.profiles = profiles
        self.met = [p for p in self.org.peers if profiles.get(p) != "never"]
        self.steady = [p for p in self.met if profiles.get(p) != "dormant"]
        self.dormant_until = window.start + timedelta(days=max(
            21, (window.end - window.start).days * 3 // 10))
        self.others = [p.email for p in self.org.people
                       if p.level == "ic" and p.email not in self.org.reports]

    def __iter__(self) -> Iterator[EventSpec]:
        yield from self.scripted()
        yield from self.background()
        yield from self.future()

    # -- scripted edge cases ------------------------------------------------------------

    def scripted(self) -> Iterator[EventSpec]:
        f, org, w = self.f, self.org, self.window
        owner = org.owner
        named = org.named
        lee, priya, soren, renee = named["lee"], named["priya"], named["soren"], named["renee"]
        oliver, jose, marcus, hanako = (named["oliver"], named["jose"], named["marcus"],
                                        named["hanako"])
        peers = self.steady  # "never met" and dormant peers stay out of meetings that count
        ics = self.others

        def at(fraction: float, hour: int, minute: int = 0, zone: str = HOME_ZONE) -> datetime:
            return zoned(_weekday_at(w, fraction), hour, minute, zone)

        def people(emails: list[str]) -> list[Guest]:
            return [f.guest(e) for e in emails]

        def whole_day(fraction: float) -> datetime:
            # All-day events are dates; like the files connector, the ground truth
            # starts them at midnight in the owner's zone (X-WR-TIMEZONE).
            return zoned(_weekday_at(w, fraction), 0, 0, HOME_ZONE)

        yield f.event("Renée / Dana intro", at(0.04, 10), 30, renee,
                      [f.guest(renee), f.owner()])
        yield f.event("Pricing strategy review", at(0.15, 11, 0, "America/New_York"), 60, marcus,
                      [f.guest(marcus), f.owner("DECLINED"), f.guest(lee), *people(ics[:2])])
        yield f.event("Launch readiness: Atlas", at(0.22, 14), 45, jose,
                      [f.guest(jose), f.owner(), Guest("lee.chen@example.co.uk", "Lee Chen",
                                                       "DECLINED"),
                       f.guest(priya), f.guest(ics[2], "NEEDS-ACTION"), f.room()])
        yield f.event("Team lunch with Support managers", at(0.25, 12, 30), 60, oliver,
                      [f.guest(oliver), f.owner(), f.guest(self._peer_in("Support", oliver)),
                       f.guest(org.direct_reports[0])], location="Kantine, 1st floor")
        yield f.event("Lunch with Lee", at(0.28, 12), 60, owner, [f.owner(), f.guest(lee)])
        yield f.event("Canceled: Vendor contract sync", at(0.3, 9), 30, soren,
                      [f.guest(soren), f.owner()], tzid=None, outlook=True, status="CANCELLED")
        yield f.event("Prep: quarterly business review", at(0.33, 8), 60, owner, [])
        yield f.event("Engineering Town Hall", at(0.35, 16), 60, org.chain[1],
                      [f.guest(org.chain[1]), f.owner(), *people(
                          [p for p in peers if org.by_email[p].department == "Engineering"][:6]
                          + ics[:12])])
        boundary = [p for p in peers if p not in (lee, priya)]
        yield f.event("Q4 planning kickoff", at(0.4, 10), 90, org.chain[0],
                      [f.guest(org.chain[0]), f.owner(), *people(boundary[:14] + ics[:10])])
        yield f.event("Managers' dinner", at(0.42, 19), 120, owner,
                      [f.owner(), *people(boundary[:14] + ics[:10])], location="Restaurant Nola")
        yield f.event("Hiring sync", at(0.45, 11), 30, owner,
                      [f.owner(), *people(boundary[:4] + ics[:3]), f.room()])
        yield f.event("Ops review", at(0.47, 11), 45, hanako,
                      [f.guest(hanako), f.owner(), *people(boundary[4:8] + ics[3:6])])
        yield f.event("Leadership offsite", whole_day(0.5), 2 * 24 * 60,
                      org.chain[1], [f.guest(org.chain[1]), f.owner(), *people(boundary[:6])],
                      all_day=True, tzid=None)
        yield f.event("FYI: Support quarterly demo (optional)", at(0.55, 15, 0, "Europe/London"),
                      60, oliver, [f.guest(oliver), f.owner(), f.room(london=True)],
                      transp="TRANSPARENT")
        yield f.event("Out of office - Lee covers platform questions", at(0.6, 13), 5 * 60, owner,
                      [f.owner(), Guest("lchen@example.com", "Lee Chen")], busystatus="OOF",
                      marker="out_of_office")
        yield f.event("Out of office", at(0.62, 13), 5 * 60, owner, [f.owner()],
                      busystatus="OOF", marker="out_of_office", outlook=True, tzid=None)
        yield f.event("Coffee with Hanako (Tokyo visit)", at(0.65, 10, 0, "Asia/Tokyo"), 30,
                      owner, [f.owner(), f.guest(hanako)], location="Blue Bottle, Shinjuku")
        # Outlook lists the organizer only as ORGANIZER, not as an ATTENDEE.
        yield f.event("Budget review: Platform 2027", at(0.68, 9), 45, soren, [f.owner()],
                      tzid=None, outlook=True)
        yield f.event("Out of office", whole_day(0.7), 3 * 24 * 60, owner, [],
                      all_day=True, tzid=None, busystatus="OOF", transp="TRANSPARENT")
        yield f.event("Oliver / Dana", at(0.72, 14, 0, "Europe/London"), 30, oliver,
                      [Guest("Oliver.Hughes@example.co.uk", "Oliver Hughes"), f.owner(),
                       f.room(london=True)])
        yield f.event("Architecture review: Helix", at(0.75, 10), 60, priya,
                      [f.guest(priya), f.owner("TENTATIVE"), f.guest(boundary[0]),
                       f.guest(ics[4]), f.room(), PROJECTOR])
        pm = next((e for e in ics if "Product Manager" in org.by_email[e].title), ics[5])
        yield f.event(f"Dana / {f.name_of(pm)} (PM) sync", at(0.77, 16), 30, owner,
                      [f.owner(), f.guest(pm)])
        yield f.event("Acme Consulting intro", at(0.78, 13), 30, "sales@acme-consulting.com",
                      [Guest("sales@acme-consulting.com", "Ava Brooks (Acme)"), f.owner()])
        yield f.event("Write performance reviews", at(0.8, 8), 90, owner, [f.owner()])

    def _peer_in(self, department: str, besides: str) -> str:
        same = [p for p in self.org.peers
                if self.org.by_email[p].department == department and p != besides]
        return same[0] if same else self.org.named["lee"]

    # -- background ---------------------------------------------------------------------

    def background(self) -> Iterator[EventSpec]:
        rng = self.f.rng
        due = {p: self.window.start + timedelta(days=rng.randint(0, 20)) for p in self.profiles}
        for day in self.window.days():
            if day.weekday() >= 5:
                continue
            for peer, profile in self.profiles.items():
                gap = PROFILES[profile]
                if gap is None or due[peer] > day:
                    continue
                if profile == "dormant" and day > self.dormant_until:
                    continue
                due[peer] = day + timedelta(days=rng.randint(*gap))
                yield self._one_on_one(day, peer)
            for _ in range(self._draws(0.35)):
                yield self._cross_department(day, large=False)
            for _ in range(self._draws(0.07)):
                yield self._cross_department(day, large=True)
            if rng.random() < 0.1:
                yield self.f.event(f"Prep: {rng.choice(PROJECTS)} status", zoned(
                    day, 8, 30, HOME_ZONE), 30, self.org.owner, [])

    def _draws(self, rate: float) -> int:
        expected = rate * self.calendar_factor
        whole = int(expected)
        return whole + (1 if self.f.rng.random() < expected - whole else 0)

    def _local_start(self, day: date, person: str) -> datetime:
        rng = self.f.rng
        zone = self.org.by_email[person].timezone
        hour = {"America/New_York": rng.randint(9, 11), "Asia/Tokyo": rng.randint(16, 17),
                "Europe/London": rng.randint(9, 15)}.get(zone, rng.randint(9, 16))
        return zoned(day, hour, rng.choice((0, 30)), zone)

    def _one_on_one(self, day: date, peer: str) -> EventSpec:
        f, rng = self.f, self.f.rng
        first = f.name_of(peer)
        title = rng.choice((f"Dana / {first}", f"{first} <> Dana 1:1", f"Catch-up: {first}",
                            f"Coffee with {first}", f"Lunch with {first}", f"Dana / {first}"))
        start = self._local_start(day, peer)
        if "Lunch" in title:
            start = zoned(day, 12, 0, HOME_ZONE)
        if rng.random() < 0.5:
            return f.event(title, start, 30, self.org.owner,
                           [f.owner(), f.guest(peer, alias_rate=0.3)])
        answer = rng.choices(("ACCEPTED", "TENTATIVE", "DECLINED"), (85, 8, 7))[0]
        return f.event(title, start, 30, peer, [f.guest(peer), f.owner(answer)],
                       outlook=rng.random() < 0.2)

    def _cross_department(self, day: date, large: bool) -> EventSpec:
        f, rng, org = self.f, self.f.rng, self.org
        n_peers = rng.randint(6, 12) if large else rng.randint(1, 3)
        n_others = rng.randint(3, 9) if large else rng.randint(0, 2)
        pool = self.met if day <= self.dormant_until else self.steady
        invited = rng.sample(pool, min(n_peers, len(pool))) + rng.sample(
            self.others, n_others)
        organizer = org.owner if rng.random() < 0.3 else invited[0]
        total = 1 + len(invited)
        decliner = rng.randrange(len(invited)) if (safe_to_decline(total)
                                                   and rng.random() < 0.25) else -1
        guests = [f.guest(e, "DECLINED" if i == decliner else "ACCEPTED", alias_rate=0.2)
                  for i, e in enumerate(invited)]
        me = "ACCEPTED"
        if organizer != org.owner:
            me = rng.choices(("ACCEPTED", "TENTATIVE", "DECLINED"), (85, 10, 5))[0]
        project = rng.choice(PROJECTS)
        title = rng.choice((f"Quarterly planning: {project}", f"{project} steering group",
                            f"Incident review: {project}", f"Cross-team sync: {project}")
                           if large else
                           (f"Roadmap sync: {project}", f"Design review: {project}",
                            "Budget check-in", f"Lunch & learn: {project}", "Hiring committee",
                            f"Launch readiness: {project}"))
        if organizer != org.owner:
            guests.insert(0, guests.pop(invited.index(organizer)))
            guests[0] = Guest(guests[0].email, guests[0].name, "ACCEPTED")
        return f.event(title, self._local_start(day, organizer), 60 if large else 45, organizer,
                       [f.owner(me), *guests, f.room()])

    # -- the next two weeks -------------------------------------------------------------

    def future(self) -> Iterator[EventSpec]:
        f, org, w = self.f, self.org, self.window
        soren, renee = org.named["soren"], org.named["renee"]
        never = next((p for p, prof in self.profiles.items() if prof == "never"), soren)

        def ahead(days: int, hour: int) -> datetime:
            day = w.end + timedelta(days=days)
            while day.weekday() >= 5:
                day += timedelta(days=1)
            return zoned(day, hour, 0, HOME_ZONE)

        yield f.event("Søren / Dana catch-up", ahead(3, 10), 30, org.owner,
                      [f.owner(), f.guest(soren)])
        yield f.event("Planning: Atlas v3", ahead(5, 14), 60, org.named["lee"],
                      [f.guest(org.named["lee"]), f.owner(), f.guest(org.named["jose"])])
        yield f.event("Renée / Dana - reconnect", ahead(6, 11), 30, renee,
                      [f.guest(renee), f.owner("TENTATIVE")])
        yield f.event(f"Intro: Dana / {f.name_of(never)}", ahead(9, 15), 30, org.owner,
                      [f.owner(), f.guest(never, "NEEDS-ACTION")])
