"""Case-insensitive shell-style globs compiled once into fast matchers.

Users write globs (``*all hands*``, ``noreply*``), never regular expressions, so
a rule file cannot smuggle in a pathological pattern. Most globs people write
have one of four shapes (exact, ``prefix*``, ``*suffix``, ``*contains*``);
those become plain string operations. Anything else goes through
``fnmatch.translate``, whose output uses atomic groups on Python 3.11+ and so
cannot backtrack catastrophically; the pattern length is capped as well.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable

MAX_GLOB_LENGTH = 200
_SPECIAL = set("*?[")


def check_glob(pattern: str) -> str:
    """Validate one user glob; raise ValueError with a sentence saying why not."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError("a glob must be a non-empty string")
    if len(pattern) > MAX_GLOB_LENGTH:
        raise ValueError(f"glob is {len(pattern)} characters long; the limit is {MAX_GLOB_LENGTH}")
    if pattern.count("[") != pattern.count("]"):
        raise ValueError(f"glob {pattern!r} has an unbalanced '[' or ']'")
    return pattern


def _compile_one(pattern: str) -> Callable[[str], bool]:
    p = pattern.lower()
    inner = p.strip("*")
    simple = not (_SPECIAL & set(inner))
    if simple:
        starts, ends = p.startswith("*"), p.endswith("*")
        if starts and ends:
            return lambda s: inner in s
        if ends:
            return lambda s: s.startswith(inner)
        if starts:
            return lambda s: s.endswith(inner)
        return lambda s: s == p
    return re.compile(fnmatch.translate(p), re.DOTALL).match  # type: ignore[return-value]


class GlobSet:
    """A set of globs; :meth:`match` returns the first glob that matches, or None.

    Results are cached per input string when ``cache`` is on: hot paths (a
    sender's address on a million messages) see few distinct values.
    """

    __slots__ = ("patterns", "_matchers", "_cache", "_cache_limit")

    def __init__(self, patterns: Iterable[str], *, cache_limit: int = 200_000) -> None:
        self.patterns: tuple[str, ...] = tuple(patterns)
        self._matchers = tuple((p, _compile_one(p)) for p in self.patterns)
        self._cache: dict[str, str | None] = {}
        self._cache_limit = cache_limit

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def match(self, value: str | None) -> str | None:
        if value is None or not self._matchers:
            return None
        cached = self._cache.get(value, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        lowered = value.lower()
        found = None
        for pattern, matcher in self._matchers:
            if matcher(lowered):
                found = pattern
                break
        if len(self._cache) < self._cache_limit:
            self._cache[value] = found
        return found

    def __repr__(self) -> str:
        return f"GlobSet({list(self.patterns)!r})"


_MISSING = object()
