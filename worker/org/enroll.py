"""``peerpulse org enroll``'s decision, pure: who should be enrolled, and what changes.

Why pure: enrollment is re-run (cron, a deploy step) and must be idempotent;
a function from (directory, current rows, opt-outs, overrides) to a plan is
tested without a database, and ``--dry-run`` prints the same plan that a real
run writes (worker/org/roster.py).

A manager is someone with direct reports: a person another directory entry
names as manager, or one the directory itself marks as managing anyone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from peerpulse.connectors.records import Person
from peerpulse.worker.config import ManagerOverride
from peerpulse.worker.org.roster import Enrollment

LEFT = "left the directory"
NO_REPORTS = "no direct reports"
OPTED_OUT = "opted out"
DISABLED = "disabled by an override"
CONFIGURED = "configured in [[accounts]]"


@dataclass(frozen=True)
class Change:
    account: str
    owner: str
    what: str  # added | reactivated | changed | deactivated
    detail: str = ""

    def line(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.what:<11} {self.account:<24} {self.owner}{detail}"


@dataclass(frozen=True)
class Plan:
    rows: list[Enrollment]  # rows to write: every change, nothing else
    changes: list[Change]
    unchanged: int
    active: int  # active managers once applied
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for change in self.changes:
            counts[change.what] = counts.get(change.what, 0) + 1
        parts = [f"{counts[k]} {k}" for k in ("added", "reactivated", "changed", "deactivated")
                 if counts.get(k)]
        parts.append(f"{self.unchanged} unchanged")
        return f"{self.active} managers enrolled: " + ", ".join(parts)


def managers_in(people: Iterable[Person]) -> dict[str, Person]:
    """The directory's managers by address: named as someone's manager, or marked so."""
    everyone = {p.email.lower(): p for p in people}
    named = {p.manager.lower() for p in everyone.values() if p.manager}
    return {email: person for email, person in sorted(everyone.items())
            if email in named or person.manages_anyone}


def override_values(override: ManagerOverride | None) -> dict[str, Any]:
    """The keys an override sets, as stored in the row (JSON: time as HH:MM)."""
    if override is None:
        return {}
    values: dict[str, Any] = {}
    for key in ("recipient", "day", "timezone"):
        value = getattr(override, key)
        if value is not None:
            values[key] = value.lower() if key == "recipient" else value
    if override.time is not None:
        values["time"] = override.time.strftime("%H:%M")
    if override.people:
        values["people"] = list(override.people)
    return values


def plan(
    people: Iterable[Person],
    existing: Iterable[Enrollment],
    *,
    opt_out: set[str],
    overrides: Mapping[str, ManagerOverride],
    configured: Mapping[str, str],
) -> Plan:
    """What enrollment changes. ``configured``: owner address -> name of every
    ``[[accounts]]`` entry (those managers are not enrolled twice, and their names
    are taken)."""
    directory = {p.email.lower() for p in people}
    managers = managers_in(people if isinstance(people, list) else list(people))
    by_owner = {row.owner: row for row in existing}
    taken = {row.account for row in by_owner.values()} | set(configured.values())
    rows: list[Enrollment] = []
    changes: list[Change] = []
    unchanged = active = 0
    notes: list[str] = []

    def write(row: Enrollment, what: str, detail: str = "") -> None:
        rows.append(row)
        changes.append(Change(row.account, row.owner, what, detail))

    for email in managers:
        override = overrides.get(email)
        reason = (CONFIGURED if email in configured else OPTED_OUT if email in opt_out
                  else DISABLED if override is not None and override.disabled else None)
        wanted = override_values(override)
        row = by_owner.get(email)
        if reason is not None:
            if row is not None and row.active:
                write(replace(row, active=False, reason=reason), "deactivated", reason)
            elif row is not None:
                unchanged += 1
            continue
        active += 1
        if row is None:
            name = account_name(email, taken)
            taken.add(name)
            write(Enrollment(name, email, wanted), "added", _describe(wanted))
        elif not row.active:
            write(replace(row, overrides=wanted, active=True, reason=None), "reactivated",
                  f"was: {row.reason}" if row.reason else "")
        elif row.overrides != wanted:
            write(replace(row, overrides=wanted), "changed",
                  _describe(wanted) or "overrides removed")
        else:
            unchanged += 1
    for row in by_owner.values():
        if row.owner in managers:
            continue  # decided above
        if not row.active:
            unchanged += 1
            continue
        reason = LEFT if row.owner not in directory else NO_REPORTS
        write(replace(row, active=False, reason=reason), "deactivated", reason)
    for email in sorted(set(overrides) - set(managers)):
        notes.append(f"[organization.overrides.\"{email}\"]: not a manager in the directory; "
                     "ignored")
    return Plan(rows, changes, unchanged, active, notes)


def _describe(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={', '.join(v) if isinstance(v, list) else v}"
                     for k, v in sorted(values.items()))


_UNSAFE = re.compile(r"[^a-z0-9_.-]+")


def account_name(email: str, taken: set[str]) -> str:
    """A stable, valid account name for ``email``: its local part, then with the
    domain's first label, then numbered, whichever is free first."""
    local, _, domain = email.lower().partition("@")
    base = _UNSAFE.sub("-", local).lstrip("-_.")[:48] or "manager"
    label = _UNSAFE.sub("-", domain.split(".")[0]).strip("-_.")[:14]
    candidates = [base, f"{base}-{label}" if label else base]
    for candidate in candidates:
        if candidate not in taken:
            return candidate
    n = 2
    while f"{candidates[-1]}-{n}" in taken:
        n += 1
    return f"{candidates[-1]}-{n}"


def parse_opt_out(text: str, file: str) -> set[str]:
    """An opt-out file: one address a line; blank lines and ``#`` comments ignored.
    A line that is not an address is a ConfigError naming file and line."""
    from peerpulse.worker.errors import ConfigError

    found: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not re.fullmatch(r"[^@\s]+@[^@\s]+", line):
            raise ConfigError(f"not an email address: {line!r} (one address a line)",
                              file=file, line=number)
        found.add(line.lower())
    return found
