"""People directory files (CSV / TOML) → Person records, bad rows named by file:line."""

from __future__ import annotations

from pathlib import Path

from peerpulse.connectors.files.people import people_items
from peerpulse.connectors.records import Person, SkippedInput


def read(path: Path) -> tuple[dict[str, Person], list[SkippedInput]]:
    items = list(people_items(path, path.name))
    return (
        {p.email: p for p in items if isinstance(p, Person)},
        [s for s in items if isinstance(s, SkippedInput)],
    )


def test_csv_directory_with_aliases_tags_and_managers(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "email,name,aliases,department,title,manager,tags,team_size\n"
        "ceo@example.com,Ceo,,Exec,CEO,,,\n"
        "Ann@Example.com,Ann,ann.b@example.com; a@example.com,Eng,Director,ceo@example.com,"
        "eng;leads,7\n"
        "bob@example.com,Bob,,Eng,Engineer,ann@example.com,,\n"
        "broken,No Email,,,,,,\n"
        "carl@example.com,Carl,,Eng,,,,many\n"
    )
    people, skipped = read(path)
    assert set(people) == {"ceo@example.com", "ann@example.com", "bob@example.com"}
    ann = people["ann@example.com"]
    assert ann.aliases == ("ann.b@example.com", "a@example.com")
    assert ann.tags == ("eng", "leads") and ann.team_size == 7 and ann.manages_anyone
    assert people["ceo@example.com"].manages_anyone  # Ann names her as manager
    assert not people["bob@example.com"].manages_anyone
    assert [s.location for s in skipped] == ["people.csv:5", "people.csv:6"]


def test_unknown_csv_columns_are_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("email,name,shoe_size\nann@example.com,Ann,42\n")
    people, skipped = read(path)
    assert set(people) == {"ann@example.com"}
    assert (
        len(skipped) == 1
        and "shoe_size" in skipped[0].reason
        and skipped[0].location.endswith(":1")
    )


def test_toml_directory_and_explicit_manages_anyone(tmp_path: Path) -> None:
    path = tmp_path / "people.toml"
    path.write_text(
        '[[person]]\nemail = "ann@example.com"\naliases = ["ann.b@example.com"]\n'
        'manages_anyone = true\n\n[[person]]\nemail = "bad"\n'
    )
    people, skipped = read(path)
    assert people["ann@example.com"].manages_anyone
    assert people["ann@example.com"].aliases == ("ann.b@example.com",)
    assert [s.location for s in skipped] == ["people.toml:6"]


def test_invalid_toml_is_one_skip(tmp_path: Path) -> None:
    path = tmp_path / "people.toml"
    path.write_text("[[person]\nemail=")
    people, skipped = read(path)
    assert people == {} and len(skipped) == 1
