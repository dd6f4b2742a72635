"""Any config file either loads or raises one ConfigError that names the file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from peerpulse.worker.config import Settings, load_settings
from peerpulse.worker.errors import ConfigError

from tests.fuzz.budget import budget
from tests.fuzz.tomlwriter import dumps

TOP = ["state_dir", "rules", "privacy", "accounts", "source_file", "model_config", "unknown"]
ACCOUNT = ["name", "owner", "aliases", "timezone", "source", "digest", "delivery", "password"]
SOURCE = ["type", "calendar", "mail", "people", "window_past_days", "mode", "client_secrets",
          "service_account_key", "calendars", "api_endpoint", "env", "file"]
DIGEST = ["recipient", "day", "time", "working_hours", "working_days", "send_empty"]
DELIVERY = ["type", "host", "port", "security", "password", "dir", "format", "username"]
WORDS = ["files", "memory", "google", "smtp", "file", "stdout", "gmail", "user", "monday",
         "09:00-17:00", "17:00-09:00", "9-5", "-", "Europe/Berlin", "Mars/Olympus", "UTC",
         "../../etc/passwd", "~", "", "me@corp.example", "me", "a" * 70, "starttls", "Etc/GMT+99",
         "/", "\\", "..", "text", "PEERPULSE"]

scalar = st.one_of(
    st.sampled_from(WORDS), st.text(max_size=15), st.booleans(), st.integers(-(2**63), 2**63 - 1),
    st.floats(), st.times(), st.dates(),
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(SOURCE), inner, max_size=3)),
    max_leaves=8,
)


def _table(keys: list[str], extra: st.SearchStrategy[Any] = value) -> st.SearchStrategy[Any]:
    return st.dictionaries(st.one_of(st.sampled_from(keys), st.text(max_size=8)), extra,
                           max_size=len(keys))


account = st.fixed_dictionaries(
    {}, optional={
        "name": st.sampled_from(["work", "a b", "", "x" * 70, "Work.1"]),
        "owner": st.sampled_from(["me@corp.example", "me", " ME@Corp.Example "]),
        "timezone": st.sampled_from(WORDS),
        "source": _table(SOURCE, st.one_of(value, st.sampled_from(WORDS))),
        "digest": _table(DIGEST),
        "delivery": _table(DELIVERY, st.one_of(value, st.sampled_from(WORDS))),
    },
)
document = st.dictionaries(
    st.one_of(st.sampled_from(TOP), st.text(max_size=8)),
    st.one_of(value, st.lists(account, max_size=2), _table(["subjects", "retention_days"])),
    max_size=4,
)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name, pytest.MonkeyPatch.context() as patch:
        for variable in [v for v in os.environ if v.startswith("PEERPULSE_")]:
            patch.delenv(variable)  # the environment overrides the file
        yield Path(name)


def _check(path: Path) -> None:
    try:
        loaded = load_settings(path)
    except ConfigError as exc:
        assert exc.file == str(path), exc
        assert str(path) in str(exc)
        return
    assert isinstance(loaded, Settings)


@budget(300)
@given(document)
@example({"source_file": "/etc/passwd", "accounts": []})  # a kwarg load_settings also passes
@example({"_env_file": "/etc/passwd"})  # BaseSettings' own option, not a config key
@example({"accounts": [{"name": "w", "owner": "me@corp.example", "source": {"type": "files"},
                        "timezone": "Etc/GMT+99"}]})
@example({"accounts": [{"name": "w", "owner": "me@corp.example", "source": {"type": "files"},
                        "digest": {"working_hours": "9-5-7"}}]})
def test_a_generated_config_loads_or_names_its_file(folder: Path, doc: dict[str, Any]) -> None:
    path = folder / "config.toml"
    path.write_text(dumps(doc), encoding="utf-8")
    _check(path)


@budget(150)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
@example(b"\xff\xfe[accounts]")
@example(b"accounts = [{}]\x00")
def test_arbitrary_bytes_as_a_config_file_load_or_name_the_file(folder: Path, data: bytes) -> None:
    path = folder / "config.toml"
    path.write_bytes(data)
    _check(path)
