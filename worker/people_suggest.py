"""A people file started from the owner's own mail and calendar (issue 13, item 3).

``peerpulse people suggest`` ranks the owner's real correspondents
(:func:`rules.suggest.correspondents`: the noise rules already applied) and
writes them as a people CSV with the columns to fill (department, title,
manager, manages_anyone) and whatever the data already gives: the directory's values, display
names, ``external`` in ``tags`` for addresses outside the owner's domains.
``merge`` keeps every value the user already wrote and only fills empty cells
and adds new people, so it can be run again after more mail arrives.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from peerpulse.connectors.atomic_file import write_atomic
from peerpulse.rules.suggest import Correspondent
from peerpulse.worker.errors import ConfigError

COLUMNS = ("email", "name", "aliases", "department", "title", "manager", "tags", "team_size",
           "manages_anyone")


@dataclass(frozen=True, slots=True)
class Written:
    path: Path
    new: int  # people added
    kept: int  # rows the file already had
    filled: int  # empty cells filled in rows the file already had


def rows_for(found: Sequence[Correspondent]) -> list[dict[str, str]]:
    """One CSV row per correspondent, pre-filled from what the data says."""
    rows = []
    for c in found:
        p = c.person
        tags = list(p.tags) if p else []
        if not c.internal and "external" not in tags:
            tags.append("external")
        rows.append({
            "email": c.email,
            "name": c.name,
            "aliases": ";".join(p.aliases) if p else "",
            "department": (p.department or "") if p else "",
            "title": (p.title or "") if p else "",
            "manager": (p.manager or "") if p else "",
            "tags": ";".join(tags),
            "team_size": str(p.team_size) if p and p.team_size is not None else "",
            # peers manage people: say so here when the file has no manager column to tell
            "manages_anyone": "yes" if p and p.manages_anyone else "",
        })
    return rows


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", file=str(path)) from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "email" not in fields:
        raise ConfigError("no 'email' column in the header row; --merge needs a people CSV",
                          file=str(path), line=1)
    reader.fieldnames = fields
    return fields, [{k: (v or "") for k, v in row.items() if k} for row in reader]


def write(path: Path, suggested: list[dict[str, str]], *, merge: bool, force: bool) -> Written:
    """Write the people file; with ``merge`` the user's values always win."""
    if path.exists() and not (merge or force):
        raise ConfigError(f"{path} exists; --merge keeps what you filled in and adds new "
                          "people, --force replaces it", file="command line")
    fields = list(COLUMNS)
    rows: list[dict[str, str]] = []
    kept = filled = 0
    if merge and path.exists():
        existing_fields, rows = _read(path)
        fields += [f for f in existing_fields if f not in fields]
        kept = len(rows)
        by_email = {r.get("email", "").strip().lower(): r for r in rows}
        for alias_row in rows:
            for alias in alias_row.get("aliases", "").split(";"):
                if alias.strip():
                    by_email.setdefault(alias.strip().lower(), alias_row)
        fresh = []
        for row in suggested:
            mine = by_email.get(row["email"])
            if mine is None:
                fresh.append(row)
                continue
            for column, value in row.items():
                if value and not (mine.get(column) or "").strip():
                    mine[column] = value
                    filled += 1
        rows += fresh
    else:
        rows = list(suggested)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({f: row.get(f, "") for f in fields})
    write_atomic(path, out.getvalue().encode("utf-8"))
    return Written(path, len(rows) - kept, kept, filled)
