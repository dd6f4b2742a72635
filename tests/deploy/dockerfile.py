"""A small reader of deploy/Dockerfile for the tests: stages, and per stage its
instructions, ENV, VOLUME, USER and ENTRYPOINT/CMD (the subset the file uses)."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[2] / "deploy" / "Dockerfile"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (KEYWORD, rest)

    def all(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        """ENV key=value pairs, later ones winning; ``$PATH``-style references kept."""
        out: dict[str, str] = {}
        for rest in self.all("ENV"):
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                out[key] = value
        return out

    def volumes(self) -> list[str]:
        return [v for rest in self.all("VOLUME") for v in json.loads(rest)]

    def exec_form(self, keyword: str) -> list[str]:
        (rest,) = self.all(keyword)[-1:]
        return list(json.loads(rest))


def logical_lines(text: str) -> list[str]:
    """Instructions with their backslash continuations joined, comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


def stages(path: Path = DOCKERFILE) -> dict[str, Stage]:
    out: dict[str, Stage] = {}
    current: Stage | None = None
    for line in logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(out))
            current = out[name] = Stage(name, parts[0])
        elif current is not None:
            current.instructions.append((keyword, rest.strip()))
    return out
