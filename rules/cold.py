"""The owner's peers with nothing on record, as one aggregate (issue 12).

In an organization's directory a manager has hundreds of peers and has met a few.
A peer with nothing on record looks the same in every digest (their view depends
on the person and the rules alone), and the sections only ask of them: how many
per department (coverage, ``stats.peers``), the first by email in a department
(invitations), the k-th in a fixed order (the first-coffee draw), and one by
address (celebrate, ``explain``). :class:`ColdPool` answers those for a set of
people, sorted once per department; :class:`ColdPeers` is one digest's view of it:
the pool minus the few who are not cold for this owner (their own chain and
reports, the peers they met). So those sections cost the peers met, not every peer.

A shared directory keeps one pool per version (``rules.peers.SharedDirectory``);
without one the engine makes it per digest from the owner's peers: the sections
run the same code either way, so both give the same digest.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass

from peerpulse.connectors.records import Person
from peerpulse.rules.views import PeerView


def department_key(department: str | None) -> tuple[bool, str]:
    """A total order over departments, None (no department) first."""
    return (department is not None, department or "")


@dataclass(frozen=True, slots=True)
class ColdPool:
    """People grouped by department, each group sorted by email. Read-only once made."""

    people: Mapping[str, Person]
    departments: tuple[str | None, ...]  # in department_key order
    emails: Mapping[str | None, list[str]]  # department -> its emails, sorted
    where: Mapping[str, tuple[str | None, int]]  # email -> (department, index in emails)

    @classmethod
    def of(cls, people: Mapping[str, Person]) -> ColdPool:
        groups: dict[str | None, list[str]] = {}
        for email, person in people.items():
            groups.setdefault(person.department, []).append(email)
        where: dict[str, tuple[str | None, int]] = {}
        for department, emails in groups.items():
            emails.sort()
            for i, email in enumerate(emails):
                where[email] = (department, i)
        return cls(people, tuple(sorted(groups, key=department_key)), groups, where)


class ColdPeers:
    """One digest's cold peers: ``pool`` minus ``out``. ``skip`` arguments leave out
    more people for one question (the never and snooze lists, recent picks)."""

    __slots__ = ("pool", "_out", "_make", "_views")

    def __init__(self, pool: ColdPool, out: Collection[str],
                 make_view: Callable[[str, Person], PeerView]) -> None:
        self.pool = pool
        self._make = make_view
        self._views: dict[str, PeerView] = {}
        # department -> sorted indexes of its people who are not cold here
        self._out: dict[str | None, list[int]] = {}
        for email in out:
            found = pool.where.get(email)
            if found is not None:
                self._out.setdefault(found[0], []).append(found[1])
        for indexes in self._out.values():
            indexes.sort()

    def _left_out(self, department: str | None, skip: Collection[str]) -> list[int]:
        """Sorted indexes in ``department`` of the people not cold, ``skip`` included."""
        out = self._out.get(department, [])
        extra: list[int] = []
        for email in skip:
            found = self.pool.where.get(email)
            if found is not None and found[0] == department and not _has(out, found[1]):
                extra.append(found[1])
        return sorted(out + extra) if extra else out

    def __contains__(self, email: object) -> bool:
        found = self.pool.where.get(email) if isinstance(email, str) else None
        return found is not None and not _has(self._out.get(found[0], []), found[1])

    def view(self, email: str) -> PeerView:
        """The view of a cold peer (made once per digest, or taken from a shared cache)."""
        found = self._views.get(email)
        if found is None:
            found = self._views[email] = self._make(email, self.pool.people[email])
        return found

    def count(self, department: str | None, skip: Collection[str] = ()) -> int:
        """Cold peers in ``department``, ``skip`` left out."""
        emails = self.pool.emails.get(department)
        if not emails:
            return 0
        return len(emails) - len(self._left_out(department, skip))

    def total(self, skip: Collection[str] = ()) -> int:
        return sum(self.count(d, skip) for d in self.pool.departments)

    def departments(self) -> tuple[str | None, ...]:
        """Every department of the pool, in :func:`department_key` order (some may
        have no cold peer left: ask :meth:`count`)."""
        return self.pool.departments

    def nth(self, department: str | None, n: int, skip: Collection[str] = ()) -> str:
        """The ``n``-th (from 0) cold peer of ``department`` by email, ``skip`` left out."""
        index = n
        for left in self._left_out(department, skip):
            if left <= index:
                index += 1
            else:
                break
        return self.pool.emails[department][index]

    def below(self, department: str | None, email: str, skip: Collection[str] = ()) -> int:
        """How many cold peers of ``department`` (``skip`` left out) sort before ``email``."""
        emails = self.pool.emails.get(department, [])
        at = bisect_left(emails, email)
        return at - bisect_left(self._left_out(department, skip), at)

    def first(self, department: str | None, skip: Collection[str] = ()) -> str | None:
        """The cold peer of ``department`` first by email, ``skip`` left out."""
        return self.nth(department, 0, skip) if self.count(department, skip) else None

    def emails(self) -> Iterator[str]:
        for department in self.pool.departments:
            left = set(self._left_out(department, ()))
            for i, email in enumerate(self.pool.emails[department]):
                if i not in left:
                    yield email


def _has(indexes: list[int], i: int) -> bool:
    at = bisect_left(indexes, i)
    return at < len(indexes) and indexes[at] == i


class PeerViews(Mapping[str, PeerView]):
    """Every peer's view: the ones computed for this digest, and the cold ones on
    demand (``explain``, talking points, benchmarks iterating them all)."""

    def __init__(self, warm: Mapping[str, PeerView], cold: ColdPeers) -> None:
        self._warm = warm
        self._cold = cold

    def __getitem__(self, email: str) -> PeerView:
        found = self._warm.get(email)
        if found is not None:
            return found
        if email in self._cold:
            return self._cold.view(email)
        raise KeyError(email)

    def __contains__(self, email: object) -> bool:
        return email in self._warm or email in self._cold

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({*self._warm, *self._cold.emails()}))

    def __len__(self) -> int:
        return len(self._warm) + self._cold.total()
