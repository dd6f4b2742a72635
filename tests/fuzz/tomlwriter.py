"""A tiny TOML writer, so the fuzz properties can generate documents from dicts.

It writes scalars first, then ``[table]`` headers for nested dicts (so key
lines are exercised the way users write them) and inline tables inside lists.
Not a general serializer: keys are always quoted, which TOML allows everywhere.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time
from typing import Any


def dumps(document: dict[str, Any]) -> str:
    lines: list[str] = []
    _table(document, (), lines)
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    return json.dumps(key)  # a JSON string is a TOML basic string


def _table(table: dict[str, Any], path: tuple[str, ...], lines: list[str]) -> None:
    nested = {k: v for k, v in table.items() if isinstance(v, dict)}
    for key, value in table.items():
        if key not in nested:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in nested.items():
        here = (*path, key)
        lines.append("")
        lines.append("[" + ".".join(_key(k) for k in here) + "]")
        _table(value, here, lines)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
