"""Find the line of a key in TOML text, so errors can point at it.

tomllib returns plain dicts without positions; validation errors come back as a
key path (``("accounts", 0, "delivery", "port")``). This scanner walks the
text once, tracking table headers and array-of-table indexes, and returns the
line where that key (or, failing that, its nearest enclosing table) is defined.
It is deliberately forgiving: a wrong guess costs a less precise line number,
never an exception.
"""

from __future__ import annotations

import re
import tomllib

_BASIC = r'"(?:[^"\\]|\\.)*"'
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*(" + _BASIC + r"|'[^']*'|[A-Za-z0-9_\-.]+)\s*=")


def _split_dotted(key: str) -> list[str]:
    parts = re.findall(_BASIC + r"|'[^']*'|[^.\s]+", key)
    return [_unquote(p) for p in parts]


def _unquote(part: str) -> str:
    """A quoted key as tomllib reads it (escapes such as ``\\u001f`` decoded)."""
    if part[:1] == '"':
        try:
            return str(tomllib.loads(f"k = {part}")["k"])
        except tomllib.TOMLDecodeError:
            return part.strip('"')
    return part.strip("'")


def key_line(text: str, path: tuple[str | int, ...]) -> int | None:
    """1-based line defining ``path`` in ``text``, or the closest known ancestor's line."""
    wanted = [p for p in path]
    best: tuple[int, int] | None = None  # (matched depth, line)
    table: list[str | int] = []
    array_counts: dict[tuple[str | int, ...], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            names: list[str | int] = list(_split_dotted(header.group(2)))
            if header.group(1) == "[[":
                key = tuple(names)
                array_counts[key] = array_counts.get(key, -1) + 1
                names = [*names, array_counts[key]]
            else:
                # a [a.b] under [[a]] refers to the last element of array a
                resolved: list[str | int] = []
                for name in names:
                    resolved.append(name)
                    count = array_counts.get(tuple(resolved))
                    if count is not None:
                        resolved.append(count)
                names = resolved
            table = names
            candidate = table
        else:
            match = _KEY.match(line)
            if not match:
                continue
            candidate = [*table, *_split_dotted(match.group(1))]
        depth = _common_prefix(candidate, wanted)
        if depth == len(candidate) or depth == len(wanted):
            if best is None or depth > best[0]:
                best = (depth, number)
            if depth == len(wanted) and len(candidate) == len(wanted):
                return number
    return best[1] if best else None


def _common_prefix(a: list[str | int], b: list[str | int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def format_path(path: tuple[str | int, ...]) -> str:
    """("accounts", 0, "source", "type") -> "accounts[0].source.type"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out
