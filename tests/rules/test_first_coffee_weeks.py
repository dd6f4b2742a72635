"""First-coffee weeks phased per owner and counted across the new year.

Before: a week was a first-coffee week when its ISO week number was divisible by
``first_coffee_every``, so every manager of an organization asked a stranger for
coffee the same week (73 of 74 Enron senior managers in 2001-W48, one person asked
7 times), and the interval broke at the year boundary (W52 -> W01, and W53)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta

import pytest
from peerpulse.connectors.records import Person
from peerpulse.rules.engine import EngineInputs, compute
from peerpulse.rules.loader import load_rules
from peerpulse.rules.sections import coffee_phase, is_first_coffee_week

from tests.rules.builders import ME, NOW, days_ago, meeting


def _period(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _weeks(first_monday: date, n: int) -> list[str]:
    return [_period(first_monday + timedelta(weeks=k)) for k in range(n)]


OWNERS = [f"manager{i:03d}@corp.example" for i in range(100)]


@pytest.mark.parametrize("every", [2, 3, 4, 5, 7])
@pytest.mark.parametrize("first_monday", [date(2026, 7, 6), date(2020, 6, 29)])
def test_each_owner_gets_a_first_coffee_exactly_every_n_weeks_across_the_new_year(
    every: int, first_monday: date,
) -> None:
    """52 consecutive weeks over a new year (2026 -> 2027; 2020 has a W53): the gaps
    between an owner's first-coffee weeks are all exactly ``every`` weeks."""
    weeks = _weeks(first_monday, 52)
    assert any(w.endswith("-W01") for w in weeks)  # the window crosses a year boundary
    for owner in OWNERS[:20]:
        hits = [k for k, period in enumerate(weeks) if is_first_coffee_week(owner, period, every)]
        assert hits[0] < every
        assert all(b - a == every for a, b in zip(hits, hits[1:], strict=False))
        assert hits[-1] >= 52 - every


def test_week_53_and_the_turn_of_the_year_keep_the_interval() -> None:
    """2020 has a W53: by ISO numbers, W52, W53 and W01 would have given gaps of 1 and
    4 weeks with ``every = 2`` (52 % 2 == 0, 53 % 2 == 1, 1 % 2 == 1; then W02)."""
    weeks = ["2020-W51", "2020-W52", "2020-W53", "2021-W01", "2021-W02", "2021-W03"]
    for owner in OWNERS[:10]:
        marks = [is_first_coffee_week(owner, w, 2) for w in weeks]
        assert marks in ([True, False] * 3, [False, True] * 3)


def test_the_owners_of_an_organization_spread_over_the_weeks() -> None:
    """100 owners, every 4 weeks: no week holds more than 40% of them, and over any 4
    consecutive weeks each owner has exactly one."""
    weeks = _weeks(date(2026, 11, 2), 12)
    per_week = Counter()
    for owner in OWNERS:
        mine = [w for w in weeks if is_first_coffee_week(owner, w, 4)]
        assert len(mine) == 3
        per_week.update(mine)
    assert max(per_week.values()) <= 40
    assert min(per_week.values()) >= 10
    assert len({coffee_phase(owner, 4) for owner in OWNERS}) == 4


def test_the_phase_is_stable_and_zero_means_never() -> None:
    """A digest of the address, not Python's salted ``hash``: the same in every process
    (pinned here), so a recomputed or resumed digest makes the same pick."""
    assert [coffee_phase(o, 4) for o in OWNERS[:8]] == [
        coffee_phase(o, 4) for o in list(OWNERS[:8])]
    assert coffee_phase("me@corp.example", 4) == 1  # pinned: sha256, not hash()
    assert all(0 <= coffee_phase(o, 7) < 7 for o in OWNERS)
    assert not any(is_first_coffee_week(o, w, 0) for o in OWNERS[:10]
                   for w in _weeks(date(2026, 1, 5), 8))
    assert all(is_first_coffee_week(o, w, 1) for o in OWNERS[:10]
               for w in _weeks(date(2026, 1, 5), 8))


def _org_week(owner: str, friend: str, period: str, now: datetime,
              people: tuple[Person, ...]) -> bool:
    """Whether ``owner``'s peer of the week is a first coffee: a weekly 1:1 with
    ``friend`` quiet for two months (a tie worth keeping), strangers elsewhere. The
    builders' meetings are the test owner's (ME): ME is this owner's alias here."""
    events = [meeting(days_ago(60 + 7 * w), friend) for w in range(30)]
    result = compute(EngineInputs(
        account="work", owner=owner, owner_aliases=frozenset({ME}), timezone="UTC",
        now=now, period=period, events=events, messages=(), people=people,
        working_hours=(time(9), time(17)),
    ), load_rules([]))
    pick = result.digest.peer_of_the_week
    assert pick is not None
    return pick.first_coffee


def test_an_organizations_managers_do_not_all_send_first_coffees_the_same_week() -> None:
    """The Enron shape: many managers, each with a tie to keep and strangers to meet.
    Over 4 weeks each manager gets exactly one first coffee, and no week has them all
    (before, all 12 in W48 and none in W45-W47)."""
    managers = [f"m{i:02d}@corp.example" for i in range(12)]
    friends = [f"f{i:02d}@corp.example" for i in range(12)]
    people = tuple(
        [Person(m, m, department="Eng", manages_anyone=True) for m in managers]
        + [Person(f, f, department="Finance", manages_anyone=True) for f in friends]
        + [Person(f"s{i}@corp.example", f"S{i}", department=d, manages_anyone=True)
           for i, d in enumerate(("Legal", "Sales", "Ops"))])
    weeks = [("2026-W45", NOW - timedelta(weeks=3)), ("2026-W46", NOW - timedelta(weeks=2)),
             ("2026-W47", NOW - timedelta(weeks=1)), ("2026-W48", NOW)]
    per_week = Counter()
    for manager, friend in zip(managers, friends, strict=True):
        mine = [p for p, now in weeks if _org_week(manager, friend, p, now, people)]
        assert len(mine) == 1, (manager, mine)
        per_week.update(mine)
    assert max(per_week.values()) < len(managers) / 2
