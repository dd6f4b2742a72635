"""Peers with nothing on record as one aggregate (rules.cold, issue 12): the digest is
what the sections give over every peer's view one by one, over a shared directory
and without one; and the first-coffee draw is stable per (owner, period) and fair."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import time

import pytest
from peerpulse.connectors.records import Person
from peerpulse.rules import sections
from peerpulse.rules.engine import EngineInputs, _tallies, compute
from peerpulse.rules.loader import load_rules
from peerpulse.rules.peers import share_directory

from tests.rules.builders import ME, MY_ALIAS, NOW, days_ago, mail, meeting

DEPARTMENTS = ("Finance", "Legal", "Sales", None, "", "Ops")


def _org(rng: random.Random, n: int) -> tuple[Person, ...]:
    """The owner, their manager, two reports, and ``n`` managers in a few departments."""
    people = [
        Person(ME, "Morgan Me", department="Engineering", title="Engineering Manager",
               manager="boss@corp.example", manages_anyone=True),
        Person("boss@corp.example", "Blair Boss", department="Engineering", title="VP",
               manages_anyone=True),
        Person("r1@corp.example", "Riley One", department="Engineering", manager=ME),
        Person("r2@corp.example", "Robin Two", department="Engineering", manager=ME),
    ]
    for i in rng.sample(range(10 * n), n):
        people.append(Person(f"p{i:03d}@corp.example", f"Pat {i}",
                             department=rng.choice(DEPARTMENTS), title="Manager",
                             manager="boss@corp.example", manages_anyone=True))
    return tuple(people)


def _records(rng: random.Random, peers: list[str]):
    met = rng.sample(peers, rng.randint(0, min(6, len(peers))))
    events, messages = [], []
    for email in met:
        for _ in range(rng.randint(1, 5)):
            events.append(meeting(days_ago(rng.randint(1, 200)), email))
        if rng.random() < 0.5:
            messages.append(mail(days_ago(rng.randint(1, 60)), email, (ME,)))
    team = rng.sample(peers, min(2, len(peers)))
    for week in range(8):  # the owner's weekly team meeting, a peer or two attending
        events.append(meeting(days_ago(7 * week + 3), "r1@corp.example", "r2@corp.example",
                              *team, title="Team sync", series="team", recurring=True,
                              uid="team"))
    return events, messages


def _inputs(people, events, messages, rules, *, period, history, title_changes, shared):
    return EngineInputs(
        account="work", owner=ME, owner_aliases=frozenset({MY_ALIAS}), timezone="UTC",
        now=NOW, period=period, events=list(events), messages=list(messages), people=people,
        title_changes=title_changes, history=history, working_hours=(time(9), time(17)),
        shared=shared,
    )


@pytest.mark.parametrize("seed", range(12))
def test_the_aggregate_gives_what_the_sections_give_over_every_view(seed: int) -> None:
    rng = random.Random(seed)
    people = _org(rng, rng.choice((3, 12, 40)))
    peers = [p.email for p in people[4:]]
    never = rng.sample(peers, min(len(peers), rng.randint(0, 3)))
    listed = ", ".join(f'"{e}"' for e in never)
    rules = load_rules([("r.toml", f"[recommend]\nnever = [{listed}]\n")])
    events, messages = _records(rng, peers)
    period = rng.choice(("2026-W48", "2026-W47"))  # ME's first-coffee week, and not
    history = {"peer_of_the_week": [("2026-W46", e) for e in rng.sample(peers, 2)]}
    if rng.random() < 0.3:  # this week's pick already made: kept if still a candidate
        history["peer_of_the_week"].append((period, rng.choice(peers)))
    title_changes = [(e, "Manager", "Director", days_ago(3)) for e in rng.sample(peers, 2)]
    shared = share_directory(people, rules)
    full = compute(_inputs(people, events, messages, rules, period=period,
                           history=history, title_changes=title_changes, shared=None), rules)
    fast = compute(_inputs(people, events, messages, rules, period=period,
                           history=history, title_changes=title_changes, shared=shared), rules)
    assert fast._ledger.directory.shared_cold is not None  # the shared path was taken
    assert fast.digest == full.digest
    assert list(fast.views) == list(full.views)
    for email in full.views:  # PeerHistory has no equality: the figures it gives
        a, b = fast.views[email], full.views[email]
        assert (a.score, a.cadence, a.rows, a.days_since, a.upcoming, a.attendance) == (
            b.score, b.cadence, b.rows, b.days_since, b.upcoming, b.attendance)

    # The reference: every view one by one, the sections without an aggregate.
    every = [full.views[e] for e in full.views]
    assert [v.email for v in every] == sorted(set(full._ledger.directory.peers))
    ctx = full._ctx
    digest = full.digest
    pick = sections.peer_of_the_week(every, ctx, lambda: ())
    assert (pick and replace(pick, slots=())) == (
        digest.peer_of_the_week and replace(digest.peer_of_the_week, slots=()))
    directory = full._ledger.directory
    owner = directory.people[ME]
    assert sections.invitations(
        every, full.team_meeting,
        lambda e: directory.people[e].department if e in directory.people else None,
        owner.department, ctx) == digest.invitations
    assert full.team_meeting is not None
    assert tuple(sections.all_coverage(_tallies(every, ctx), ctx)) == full.coverage
    hits = {e: p.subject_hits for e, p in full._ledger.persons.items() if p.subject_hits}
    assert sections.celebrate(every, hits, title_changes, ctx,
                              full._identity.resolve) == digest.celebrate
    assert digest.stats["peers"] == len(every) == len(full.views)


def _draw(owner: str, period: str, emails: list[str]) -> str:
    """The first coffee of an owner who met no one, among never-met peers in one department."""
    people = (Person(owner, "Owner", department="Eng", manager="vp@corp.example",
                     manages_anyone=True),
              *(Person(e, e, department="Eng", manager="vp@corp.example", manages_anyone=True)
                for e in emails))
    rules = load_rules([])
    result = compute(EngineInputs(
        account="work", owner=owner, owner_aliases=frozenset(), timezone="UTC", now=NOW,
        period=period, events=(), messages=(), people=people,
        shared=share_directory(people, rules)), rules)
    pick = result.digest.peer_of_the_week
    assert pick is not None and pick.first_coffee
    return pick.person.email


def test_the_first_coffee_draw_is_stable_per_owner_and_period_and_spreads_over_peers() -> None:
    """The draw takes a position fixed by a hash of (owner, period) among the equal
    candidates: the same pick every time it is computed, other picks for other
    owners and weeks, every peer about equally often."""
    emails = [f"p{i:02d}@corp.example" for i in range(20)]
    owners = [f"m{i}@corp.example" for i in range(12)]
    weeks = [f"2026-W{w:02d}" for w in range(4, 53, 4)]  # no tie to keep: a coffee each week
    picks = Counter()
    for owner in owners:
        for week in weeks:
            pick = _draw(owner, week, emails)
            assert _draw(owner, week, list(reversed(emails))) == pick  # input order irrelevant
            picks[pick] += 1
    assert len({_draw(o, "2026-W48", emails) for o in owners}) >= 6  # owners spread out
    draws = len(owners) * len(weeks)  # 156 draws over 20 peers: 7.8 each expected
    assert set(picks) == set(emails)
    assert max(picks.values()) <= 20 and min(picks.values()) >= 1
    assert sections.draw_index("a", "2026-W48", 7) == sections.draw_index("a", "2026-W48", 7)
    assert sum(picks.values()) == draws
