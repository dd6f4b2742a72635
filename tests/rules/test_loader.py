"""Rule files: the shipped default, layering, and clear errors for broken files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from peerpulse.rules.errors import RuleError
from peerpulse.rules.loader import default_text, load_rules

FILES = Path(__file__).parent / "files"


def _expectations(path: Path) -> dict[str, str]:
    found = re.findall(r"^# (error|line|column|key): (.*)$", path.read_text(), re.MULTILINE)
    return dict(found)


@pytest.mark.parametrize("path", sorted((FILES / "good").glob("*.toml")), ids=lambda p: p.name)
def test_good_rule_file_loads(path: Path) -> None:
    rules = load_rules([(str(path), path.read_text())])
    assert rules.sources == ("rules/default.toml", str(path))


@pytest.mark.parametrize("path", sorted((FILES / "bad").glob("*.toml")), ids=lambda p: p.name)
def test_bad_rule_file_names_file_line_key_and_problem(path: Path) -> None:
    expected = _expectations(path)
    with pytest.raises(RuleError) as caught:
        load_rules([(str(path), path.read_text())])
    error = caught.value
    assert expected["error"] in error.message
    assert error.file == str(path)
    assert error.line == int(expected["line"])
    if "column" in expected:
        assert error.column == int(expected["column"])
    if "key" in expected:
        assert error.key == expected["key"]
    assert str(path) in str(error) and f":{expected['line']}" in str(error)


def test_default_rules_implement_the_shared_semantics() -> None:
    model = load_rules([]).model
    assert model.noise.events.max_attendees == 25
    assert model.noise.mail.max_recipients == 15
    assert model.noise.mail.precedence == ["bulk", "list", "junk"]
    assert "*town hall*" in model.noise.events.all_hands_titles
    assert model.kinds.small_meeting_max_people == 8
    assert [k.name for k in model.key_functions] == ["HR", "Finance"]
    assert model.tie_strength.half_life_days == 90


def test_every_default_key_is_commented() -> None:
    for number, line in enumerate(default_text().splitlines(), start=1):
        if re.match(r"^\s*[A-Za-z_]+\s*=", line):
            assert "#" in line, f"default.toml line {number} has no comment: {line}"


@pytest.mark.parametrize(
    ("user_text", "check"),
    [
        # a scalar overrides
        ("[noise.mail]\nmax_recipients = 10\n",
         lambda r: r.model.noise.mail.max_recipients == 10),
        # a table merges key by key: the sibling keeps its default
        ("[noise.mail]\nmax_recipients = 10\n",
         lambda r: r.model.noise.mail.exclude_list_id is True),
        # a list replaces
        ('[noise.mail]\nnoreply_senders = ["robot*"]\n',
         lambda r: r.model.noise.mail.noreply_senders == ["robot*"]),
        # { extend = [...] } appends
        ('[noise.mail]\nnoreply_senders = { extend = ["robot*"] }\n',
         lambda r: r.model.noise.mail.noreply_senders[-1] == "robot*"
         and "noreply*" in r.model.noise.mail.noreply_senders),
        # arrays of tables replace too, and extend the same way
        ('key_functions = { extend = [{ name = "Legal", departments = ["legal*"], '
         'cadence_days = 20 }] }\n',
         lambda r: [k.name for k in r.model.key_functions] == ["HR", "Finance", "Legal"]),
        ('[[key_functions]]\nname = "Legal"\ndepartments = ["legal*"]\ncadence_days = 20\n',
         lambda r: [k.name for k in r.model.key_functions] == ["Legal"]),
        # addresses are normalized
        ('[peers]\nexclude = ["Lee@Corp.Example"]\n',
         lambda r: r.model.peers.exclude == ["lee@corp.example"]),
    ],
)
def test_user_file_layers_over_the_default(user_text: str, check) -> None:  # type: ignore[no-untyped-def]
    assert check(load_rules([("mine.toml", user_text)]))


def test_later_files_override_earlier_ones() -> None:
    rules = load_rules([
        ("a.toml", "[tie_strength]\nhalf_life_days = 30\n"),
        ("b.toml", "[tie_strength]\nhalf_life_days = 45\n"),
        ("c.toml", '[noise.mail]\nblocked_domains = { extend = ["x.example"] }\n'),
        ("d.toml", '[noise.mail]\nblocked_domains = { extend = ["y.example"] }\n'),
    ])
    assert rules.model.tie_strength.half_life_days == 45
    assert rules.blocked_domains == {"x.example", "y.example"}


def test_error_in_second_file_is_attributed_to_it_and_nothing_is_applied() -> None:
    with pytest.raises(RuleError) as caught:
        load_rules([
            ("good.toml", "[tie_strength]\nhalf_life_days = 30\n"),
            ("bad.toml", "# a comment\n[tie_strength]\nhalf_life_days = -1\n"),
        ])
    assert caught.value.file == "bad.toml"
    assert caught.value.line == 3
    assert load_rules([]).model.tie_strength.half_life_days == 90


def test_unknown_key_without_close_match_lists_the_allowed_keys() -> None:
    with pytest.raises(RuleError) as caught:
        load_rules([("u.toml", "[celebrate]\nzzz = 1\n")])
    assert "allowed here:" in caught.value.message
    assert "subject_keywords" in caught.value.message
