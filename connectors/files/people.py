"""A people directory (CSV or TOML) → :class:`Person` records.

CSV: a header row naming columns ``email,name,aliases,department,title,manager,
tags,team_size`` (optionally ``manages_anyone``); ``aliases`` and ``tags`` are
``;``-separated. TOML: ``[[person]]`` tables with the same keys (lists allowed
for aliases/tags). ``manages_anyone`` is true when someone names the person as
their manager, or when the file says so explicitly. A bad row is skipped with a
warning naming ``file:line``; unknown columns are reported once and ignored.
"""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeAlias

from peerpulse.connectors.addresses import normalize_address, single_line
from peerpulse.connectors.records import Person, SkippedInput

PeopleItem: TypeAlias = Person | SkippedInput

COLUMNS = frozenset(
    {"email", "name", "aliases", "department", "title", "manager", "tags", "team_size",
     "manages_anyone"}
)
MAX_BYTES = 32 * 1024 * 1024  # tomllib warns that hostile input can be costly: bound it
_TRUE = {"1", "true", "yes", "y", "x"}


class BadRow(ValueError):
    pass


def people_items(path: Path, label: str) -> Iterator[PeopleItem]:
    """Every person of a CSV or TOML directory file, then skips for bad rows."""
    try:
        if path.stat().st_size > MAX_BYTES:
            yield SkippedInput(label, f"file larger than {MAX_BYTES // 2**20} MiB")
            return
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        yield SkippedInput(label, f"cannot read: {exc}")
        return
    rows: list[tuple[int, dict[str, Any]]]
    skipped: list[SkippedInput] = []
    if path.suffix.lower() == ".toml":
        rows = _toml_rows(text, label, skipped)
    else:
        rows = _csv_rows(text, label, skipped)
    people: list[Person] = []
    seen: set[str] = set()
    for line, row in rows:
        try:
            person = _person(row)
        except BadRow as exc:
            skipped.append(SkippedInput(f"{label}:{line}", str(exc)))
            continue
        if person.email in seen:
            skipped.append(SkippedInput(f"{label}:{line}", f"duplicate email {person.email}"))
            continue
        seen.add(person.email)
        people.append(person)
    managers = {p.manager for p in people if p.manager}
    for person in people:
        yield replace(person, manages_anyone=True) if person.email in managers else person
    yield from skipped


def _csv_rows(
    text: str, label: str, skipped: list[SkippedInput]
) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "email" not in fields:
        skipped.append(SkippedInput(f"{label}:1", "no 'email' column in the header row"))
        return []
    unknown = [f for f in fields if f and f not in COLUMNS]
    if unknown:
        skipped.append(SkippedInput(
            f"{label}:1", f"unknown column(s) ignored: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(COLUMNS))})"))
    reader.fieldnames = fields
    rows = []
    for row in reader:
        if None in row:  # more cells than header columns
            skipped.append(SkippedInput(f"{label}:{reader.line_num}", "more cells than columns"))
            continue
        if not any((v or "").strip() for v in row.values()):
            continue
        rows.append((reader.line_num, row))
    return rows


def _toml_rows(
    text: str, label: str, skipped: list[SkippedInput]
) -> list[tuple[int, dict[str, Any]]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        skipped.append(SkippedInput(label, f"invalid TOML: {exc}"))
        return []
    tables = data.get("person", [])
    if not isinstance(tables, list):
        skipped.append(SkippedInput(label, "'person' must be an array of tables ([[person]])"))
        return []
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.strip() == "[[person]]"]
    rows = []
    for index, table in enumerate(tables):
        line = lines[index] if index < len(lines) else 0
        if not isinstance(table, dict):
            skipped.append(SkippedInput(f"{label}:{line}", "a [[person]] entry must be a table"))
            continue
        unknown = sorted(set(table) - COLUMNS)
        if unknown:
            skipped.append(SkippedInput(
                f"{label}:{line}", f"unknown key(s) ignored: {', '.join(unknown)}"))
        rows.append((line, table))
    return rows


def _split(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else str(value).split(";")
    return tuple(single_line(str(item)) for item in items if single_line(str(item)))


def _optional(value: Any) -> str | None:
    text = single_line(str(value)) if value is not None else ""
    return text or None


def _person(row: dict[str, Any]) -> Person:
    email = normalize_address(str(row.get("email") or ""))
    if email is None:
        raise BadRow(f"missing or invalid email {row.get('email')!r}")
    aliases = []
    for alias in _split(row.get("aliases")):
        normalized = normalize_address(alias)
        if normalized is None:
            raise BadRow(f"invalid alias {alias!r}")
        if normalized != email:
            aliases.append(normalized)
    manager_raw = _optional(row.get("manager"))
    manager = normalize_address(manager_raw) if manager_raw else None
    if manager_raw and manager is None:
        raise BadRow(f"invalid manager email {manager_raw!r}")
    team_size_raw = row.get("team_size")
    team_size = None
    if team_size_raw not in (None, ""):
        try:
            team_size = int(str(team_size_raw).strip())
        except ValueError:
            raise BadRow(f"team_size must be a whole number, got {team_size_raw!r}") from None
        if team_size < 0:
            raise BadRow(f"team_size must not be negative, got {team_size}")
    explicit = row.get("manages_anyone")
    if isinstance(explicit, bool):
        manages = explicit
    elif explicit not in (None, ""):
        manages = str(explicit).strip().lower() in _TRUE
    else:  # no explicit answer: a team of one or more means they manage someone
        manages = bool(team_size)
    return Person(
        email=email,
        name=single_line(str(row.get("name") or "")),
        aliases=tuple(aliases),
        department=_optional(row.get("department")),
        title=_optional(row.get("title")),
        manager=manager if manager != email else None,
        manages_anyone=manages,
        tags=_split(row.get("tags")),
        team_size=team_size,
    )
