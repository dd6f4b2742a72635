"""Any rule file text either loads or raises one RuleError naming the file (and a line)."""

from __future__ import annotations

import tomllib
from datetime import date, time
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from peerpulse.rules.errors import RuleError
from peerpulse.rules.loader import load_rules
from peerpulse.rules.ruleset import RuleSet
from peerpulse.rules.schema import RulesModel
from pydantic import BaseModel

from tests.fuzz.budget import budget
from tests.fuzz.tomlwriter import dumps


def _field_names(model: type[BaseModel], seen: set[str]) -> set[str]:
    for name, field in model.model_fields.items():
        seen.add(name)
        for candidate in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                _field_names(candidate, seen)
    return seen


SECTIONS = sorted(RulesModel.model_fields)
FIELDS = sorted(_field_names(RulesModel, set()) | {"extend", "events", "mail", "weights"})
key = st.one_of(st.sampled_from(FIELDS), st.sampled_from(SECTIONS), st.text(max_size=12))
scalar = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, 2, 3, 15, 3650, 3651, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["*@corp.example", "corp.example", "HR", "Finance*", "[", "**", "a" * 300,
                     "lee@corp.example", "not an address", "", "quarter", "month", "12:00",
                     "(a+)+$", "*" * 100, "\u0130", "@", "x@", "@x"]),
    st.text(max_size=20),
    st.dates(min_value=date(1, 1, 1)),
    st.times(),
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(key, inner, max_size=4)
    ),
    max_leaves=12,
)
section = st.dictionaries(st.one_of(st.sampled_from(FIELDS), key), value, max_size=4)
document = st.dictionaries(
    st.one_of(st.sampled_from(SECTIONS), key),
    st.one_of(section, section, value, st.lists(section, max_size=3)),
    max_size=4,
)


def _check(text: str) -> None:
    try:
        loaded = load_rules([("user.toml", text)])
    except RuleError as exc:
        assert exc.file == "user.toml", exc
        assert exc.message
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            assert exc.line is not None, exc  # tomllib always knows where it stopped
        else:
            if text.strip():
                assert exc.line is not None, exc  # the key, or its closest table
        return
    assert isinstance(loaded, RuleSet)


@budget(300)
@given(document)
@example({"recommend": {"snooze": [{"email": "lee@corp.example", "until": date(2025, 1, 1)}]}})
@example({"recommend": {"preferred_start": time(25 % 24, 0)}})
@example({"noise": {"events": {"max_attendees": 2**63 - 1}}})
@example({"key_functions": {"extend": [{"name": "X"}]}})
@example({"cadence": {"groups": [{"name": "x", "days": 1, "departments": ["(a+)+$"]}]}})
def test_a_generated_rule_document_loads_or_names_its_file_and_line(doc: dict[str, Any]) -> None:
    _check(dumps(doc))


@budget(200)
@given(st.text(max_size=200))
@example("[recommend\nslots = 3")
@example('version = 2\n')
@example('"\\ud800" = 1')
@example("[[key_functions]]\n[key_functions]")
def test_arbitrary_text_as_a_rule_file_loads_or_names_its_file_and_line(text: str) -> None:
    _check(text)
