"""Load the shipped default rules and layer the user's rule files over them.

Layering (documented in docs/RULES.md):
- a key a user file writes replaces the same key below it; tables merge key by key;
- a list replaces the list below it, unless written as ``key = { extend = [...] }``,
  which appends to it.

Each layer is validated as soon as it is merged, so an error is attributed to the
file that caused it, with the line of the offending key (found with
:func:`rules.tomlpos.key_line`) and, for unknown keys, a "did you mean". A
failing file raises :class:`rules.errors.RuleError` and nothing is returned:
there is never a half-applied rule set.
"""

from __future__ import annotations

import copy
import difflib
import re
import tomllib
import types
import typing
from importlib import resources
from typing import Any

from peerpulse.rules.errors import RuleError
from peerpulse.rules.ruleset import RuleSet
from peerpulse.rules.schema import RulesModel
from peerpulse.rules.tomlpos import format_path, key_line
from pydantic import BaseModel, ValidationError

DEFAULT_NAME = "rules/default.toml"
EXTEND = "extend"
_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def default_text() -> str:
    """The shipped default rules, read as package data."""
    return resources.files("peerpulse.rules").joinpath("default.toml").read_text(encoding="utf-8")


def load_rules(user_files: list[tuple[str, str]] | None = None) -> RuleSet:
    """The default rules with each (file name, TOML text) layered on top, in order."""
    merged = _parse(DEFAULT_NAME, default_text())
    _validate(DEFAULT_NAME, default_text(), merged)
    for name, text in user_files or []:
        layer = _parse(name, text)
        merged = _merge(merged, layer, (), name, text)
        _validate(name, text, merged)
    model = RulesModel.model_validate(merged)
    return RuleSet.compile(model, sources=(DEFAULT_NAME, *(n for n, _ in user_files or [])))


def _parse(name: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = _POSITION.search(message)
        line = int(where.group(1)) if where else None
        column = int(where.group(2)) if where else None
        if where is None and "end of document" in message:
            line = max(1, len(text.splitlines()))
        reason = _POSITION.sub("", message).replace("(at end of document)", "").strip()
        raise RuleError(f"invalid TOML: {reason}", file=name, line=line, column=column) from None


def _merge(
    base: dict[str, Any], layer: dict[str, Any], path: tuple[str, ...], name: str, text: str
) -> dict[str, Any]:
    """A new dict: ``layer`` over ``base`` (neither is modified)."""
    out = copy.deepcopy(base)
    for key, value in layer.items():
        here = (*path, key)
        below = out.get(key)
        if isinstance(value, dict) and EXTEND in value:
            out[key] = _extended(below, value, here, name, text)
        elif isinstance(value, dict) and isinstance(below, dict):
            out[key] = _merge(below, value, here, name, text)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _extended(
    below: Any, value: dict[str, Any], here: tuple[str, ...], name: str, text: str
) -> list[Any]:
    def fail(message: str) -> RuleError:
        return RuleError(message, file=name, line=key_line(text, here), key=format_path(here))

    if set(value) != {EXTEND}:
        extra = ", ".join(sorted(set(value) - {EXTEND}))
        raise fail(f"{{ extend = [...] }} takes no other keys (found: {extra})")
    items = value[EXTEND]
    if not isinstance(items, list):
        raise fail("extend takes a list, e.g. { extend = [\"a\", \"b\"] }")
    if below is None:
        below = []
    if not isinstance(below, list):
        raise fail("extend works only on lists, and this key is not a list")
    return [*below, *copy.deepcopy(items)]


def _validate(name: str, text: str, data: dict[str, Any]) -> None:
    try:
        RulesModel.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, name, text) from None


def _explain(exc: ValidationError, name: str, text: str) -> RuleError:
    """Turn pydantic's first error into one sentence naming file, line and key."""
    errors = exc.errors()
    error = errors[0]
    loc = tuple(p for p in error["loc"] if isinstance(p, str | int))
    key = format_path(loc) or "(top level)"
    line = key_line(text, loc)
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        wrong = str(loc[-1]) if loc else ""
        message = f"unknown key {wrong!r}"
        close = difflib.get_close_matches(wrong, allowed, n=1, cutoff=0.6)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        elif allowed:
            message += f"; allowed here: {', '.join(sorted(allowed))}"
    elif error["type"] == "missing":
        message = "required key is missing"
    else:
        message = error["msg"].removeprefix("Value error, ")
        if "input" in error and not isinstance(error["input"], dict | list):
            shown = repr(error["input"])
            if shown not in message:
                message += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return RuleError(message, file=name, line=line, key=key)


def _allowed_keys(parent: tuple[str | int, ...]) -> list[str]:
    model: type[BaseModel] | None = RulesModel
    for part in parent:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        model = _model_in(field.annotation) if field else None
    return list(model.model_fields) if model else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``Model``, ``list[Model]`` or ``Model | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found:
                return found
    return None
