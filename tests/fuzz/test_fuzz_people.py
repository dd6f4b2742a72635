"""A people file (CSV or TOML) of hostile text: people or counted skips, never a crash."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from peerpulse.connectors.files.people import people_items
from peerpulse.connectors.records import Person, SkippedInput

from tests.fuzz.budget import budget
from tests.fuzz.strategies import ADDRESSES, header_value

HEADER = ("email", "name", "aliases", "department", "title", "manager", "tags", "team_size",
          "manages_anyone", "EMAIL", " email ", "bogus", "")
CELLS = (*ADDRESSES, "", " ", "-1", "3", "1e9", "99999999999999999999", "yes", "no", "x",
         "a@b;c@d", ";;", "\"", "\"\"", ",", "\n", "\r\n", "\ufeff", "Ana\u200bPérez",
         "=cmd|' /C calc'!A0", "Director\x00", "\udcff")
cell = st.one_of(st.sampled_from(CELLS), header_value)

csv_text = st.builds(
    lambda head, rows, sep: "\n".join(
        [",".join(head), *(",".join(r) for r in rows)]).replace(",", sep),
    st.lists(st.sampled_from(HEADER), min_size=1, max_size=10),
    st.lists(st.lists(cell, max_size=10), max_size=8),
    st.sampled_from([",", ",", ";"]),
)

TOML_LINES = ("[[person]]", "[person]", "person = 3", "person = [1, 2]", "[[person.x]]",
              'email = "lee@corp.example"', 'email = "x@y"', "email = 42", 'email = ""',
              'aliases = ["a@corp.example", 7]', 'aliases = "a@b;c@d"', "team_size = -3",
              "team_size = 1.5", 'team_size = "many"', "manages_anyone = true",
              'manages_anyone = "yes"', 'manager = "lee@corp.example"', 'manager = "nope"',
              'title = "Dir\\u200bector"', 'tags = [[1]]', 'name = """multi\nline"""',
              "unknown = 1", "= broken", '"quoted key" = 1', "[[person]] # c", "")
toml_text = st.lists(st.one_of(st.sampled_from(TOML_LINES), header_value),
                     max_size=20).map("\n".join)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def _check(items: list[Person | SkippedInput], label: str) -> None:
    emails = [i.email for i in items if isinstance(i, Person)]
    assert len(emails) == len(set(emails))  # a duplicate is a skip, not a second person
    for item in items:
        if isinstance(item, SkippedInput):
            assert item.location.startswith(label) and item.reason
            continue
        assert item.email and item.email == item.email.strip() and "@" in item.email
        assert item.email not in item.aliases and item.manager != item.email
        assert item.team_size is None or item.team_size >= 0
        for text in (item.name, item.title or "", item.department or "", *item.tags):
            assert not any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in text)


def _write(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8", "surrogatepass"))


@budget(100)
@given(csv_text)
@example("email,manager\nlee@corp.example,lee@corp.example\nlee@corp.example,x@y")
@example("\ufeffemail,team_size\nx@y,99999999999999999999")
def test_any_csv_people_file_yields_people_or_skips(folder, text):
    path = folder / "people.csv"
    _write(path, text)
    _check(list(people_items(path, "people.csv")), "people.csv")


@budget(100)
@given(toml_text)
@example("[[person]]\nemail = 42\n[[person]]\nemail = \"x@y\"\nteam_size = -3")
@example("person = 3")
def test_any_toml_people_file_yields_people_or_skips(folder, text):
    path = folder / "people.toml"
    _write(path, text)
    _check(list(people_items(path, "people.toml")), "people.toml")
