"""What the manager told us about a person: snooze, done, never (issue 13, item 1).

Overrides come from the CLI (``peerpulse snooze lee@example.com``) or from the
action links in the digest (read back from sent mail). The worker reads them
from the store and passes them in as data; this module only decides what they
mean on a given day, so the engine stays pure.

* ``never``: the person is left out of every section until undone.
* ``snooze``: left out of every section up to and including ``until``.
* ``done``: the manager was in touch today; it counts as one interaction of
  kind ``marked_done`` on that day, so recency and cadence restart from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

DEFAULT_SNOOZE_WEEKS = 4  # `peerpulse snooze` and the digest's snooze link
MAX_SNOOZE_WEEKS = 104

ACTIONS = ("snooze", "done", "never")
DONE_KIND = "marked_done"


@dataclass(frozen=True, slots=True)
class Override:
    """One instruction about one person, as stored (newest wins per kind)."""

    email: str
    action: str  # one of ACTIONS
    at: datetime  # when it was given, aware
    source: str  # "cli" or "mail"
    until: date | None = None  # snooze only: the last day snoozed

    def describe(self) -> str:
        """"snoozed until 2027-01-05 (cli, 2026-12-01)": for ``explain`` and listings."""
        given = f"{self.source}, {self.at.date().isoformat()}"
        if self.action == "snooze":
            return f"snoozed until {self.until.isoformat() if self.until else '?'} ({given})"
        if self.action == "never":
            return f"never suggest ({given})"
        return f"marked done on {self.at.date().isoformat()} ({given})"


@dataclass(frozen=True, slots=True)
class ActiveOverrides:
    """The overrides in force, by canonical address."""

    never: frozenset[str] = frozenset()
    snoozed: dict[str, date] = field(default_factory=dict)  # email -> last day snoozed
    done: dict[str, tuple[datetime, ...]] = field(default_factory=dict)
    by_email: dict[str, tuple[Override, ...]] = field(default_factory=dict)

    def blocked(self, email: str, today: date) -> bool:
        if email in self.never:
            return True
        until = self.snoozed.get(email)
        return until is not None and until >= today


def resolve(overrides: Iterable[Override], canonical: Callable[[str], str]) -> ActiveOverrides:
    """Group overrides by the person they name (any alias maps to one address).

    For snooze the latest ``until`` given wins (a later, shorter snooze replaces
    a longer one: the newest instruction is what the manager meant).
    """
    never: set[str] = set()
    snoozed: dict[str, tuple[datetime, date]] = {}
    done: dict[str, list[datetime]] = {}
    by_email: dict[str, list[Override]] = {}
    for item in sorted(overrides, key=lambda o: o.at):
        email = canonical(item.email)
        by_email.setdefault(email, []).append(item)
        if item.action == "never":
            never.add(email)
        elif item.action == "snooze" and item.until is not None:
            snoozed[email] = (item.at, item.until)
        elif item.action == "done":
            done.setdefault(email, []).append(item.at)
    return ActiveOverrides(
        never=frozenset(never),
        snoozed={e: until for e, (_at, until) in snoozed.items()},
        done={e: tuple(times) for e, times in done.items()},
        by_email={e: tuple(items) for e, items in by_email.items()},
    )
