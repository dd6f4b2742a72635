"""Config errors name the file, the line and the key; env overrides the file."""

from __future__ import annotations

import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from peerpulse.worker.config import load_settings
from peerpulse.worker.errors import ConfigError, ExitCode

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """\
[[accounts]]
name = "work"
owner = "Dana@Example.com"
timezone = "Europe/Berlin"

[accounts.source]
type = "files"
calendar = ["cal"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_shipped_example_config_is_valid():
    settings = load_settings(REPO / "config.example.toml")
    assert settings.accounts[0].name == "demo"
    assert settings.resolve_path("demo/people.csv") == REPO / "demo/people.csv"


def test_a_minimal_config_gets_sensible_defaults(tmp_path):
    settings = load_settings(write(tmp_path, MINIMAL))
    account = settings.accounts[0]
    assert account.owner == "dana@example.com"
    assert account.recipient == "dana@example.com"
    assert account.digest.day == "monday"
    assert account.delivery.type == "file"
    assert settings.privacy.subjects == "kept"


@pytest.mark.parametrize(
    ("extra", "line", "key", "message"),
    [
        (
            '[accounts.delivery]\ntype = "smtp"\nhost = "h"\nprot = 25\n',
            13,
            "accounts[0].delivery.prot",
            "did you mean 'port'",
        ),
        (
            '[accounts.delivery]\ntype = "smtp"\nhost = "h"\npassword = "hunter2"\n',
            13,
            "accounts[0].delivery.password",
            "never written inline",
        ),
        ('[accounts.digest]\nday = "someday"\n', 11, "accounts[0].digest.day", "monday"),
        ('[accounts.delivery]\ntype = "pigeon"\n', 10, "accounts[0].delivery", "pigeon"),
        ('[privacy]\nsubjects = "maybe"\n', 11, "privacy.subjects", "'off', 'hashed' or 'kept'"),
    ],
)
def test_invalid_values_name_file_line_and_key(tmp_path, extra, line, key, message):
    path = write(tmp_path, MINIMAL + "\n" + extra)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:{line}: {key}: "), text
    assert message in text
    assert caught.value.exit_code == ExitCode.USAGE


def test_an_unknown_time_zone_is_named(tmp_path):
    path = write(tmp_path, MINIMAL.replace("Europe/Berlin", "Europe/Atlantis"))
    with pytest.raises(ConfigError, match=r":4: accounts\[0\].timezone: unknown time zone"):
        load_settings(path)


def test_the_account_carries_its_time_zone_parsed(tmp_path):
    account = load_settings(write(tmp_path, MINIMAL)).accounts[0]
    assert account.zone is ZoneInfo("Europe/Berlin")
    assert account.zone is account.zone
    # a copy with another zone must not keep the old one
    moved = account.model_copy(update={"timezone": "America/New_York"})
    assert moved.zone == ZoneInfo("America/New_York")


def test_toml_syntax_errors_give_the_line(tmp_path):
    path = write(tmp_path, MINIMAL + 'broken = "\n')
    with pytest.raises(ConfigError, match=r"config.toml:9: invalid TOML"):
        load_settings(path)


def test_a_config_without_accounts_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="accounts"):
        load_settings(write(tmp_path, "rules = []\n"))


def test_duplicate_account_names_are_refused(tmp_path):
    text = MINIMAL + MINIMAL.replace('owner = "Dana', 'owner = "Kim')
    with pytest.raises(ConfigError, match="unique; repeated: work"):
        load_settings(write(tmp_path, text))


def test_the_duplicate_name_check_is_linear_in_the_accounts():
    """It was a ``names.count`` per name: 7 s at 10,000 accounts, more than the rest
    of loading that config (issue 12; ``python -m benchmarks.config_load``). 50,000
    names: seconds when quadratic, milliseconds with one count."""
    from types import SimpleNamespace

    from peerpulse.worker.config import Settings

    names = [f"mgr{k}" for k in range(50_000)] + ["mgr7", "mgr49999"]
    settings = Settings.model_construct(accounts=[SimpleNamespace(name=n) for n in names])
    started = time.perf_counter()
    with pytest.raises(ValueError, match="repeated: mgr49999, mgr7$"):
        settings._unique_names()
    assert time.perf_counter() - started < 1.0


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PEERPULSE_PRIVACY__SUBJECTS", "off")
    monkeypatch.setenv("PEERPULSE_STATE_DIR", str(tmp_path / "state"))
    settings = load_settings(write(tmp_path, MINIMAL + '\n[privacy]\nsubjects = "kept"\n'))
    assert settings.privacy.subjects == "off"
    assert settings.state_path == tmp_path / "state"


def test_a_bad_environment_override_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("PEERPULSE_PRIVACY__SUBJECTS", "sometimes")
    with pytest.raises(ConfigError, match="environment PEERPULSE_PRIVACY__SUBJECTS"):
        load_settings(write(tmp_path, MINIMAL))


def test_secret_references_resolve_from_env_or_credentials_dir(tmp_path, monkeypatch):
    text = (
        MINIMAL + '\n[accounts.delivery]\ntype = "smtp"\nhost = "h"\npassword = { file = "pw" }\n'
    )
    settings = load_settings(write(tmp_path, text))
    (tmp_path / "pw").write_text("s3cret\n")
    (tmp_path / "pw").chmod(0o600)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert settings.accounts[0].delivery.password.resolve() == "s3cret"


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    settings = load_settings(write(tmp_path, MINIMAL))
    assert settings.resolve_path("cal") == tmp_path / "cal"
    assert settings.resolve_path("/abs") == Path("/abs")


def test_a_password_file_readable_by_others_is_refused_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    text = MINIMAL + (
        '\n[accounts.delivery]\ntype = "smtp"\nhost = "h"\npassword = { file = "pw" }\n'
    )
    settings = load_settings(write(tmp_path, text))
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    with pytest.raises(ConfigError) as err:
        settings.accounts[0].delivery.password.resolve()
    assert str(secret) in str(err.value) and f"chmod 600 {secret}" in str(err.value)


def test_an_unknown_source_type_names_the_table_and_lists_the_installed(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, MINIMAL.replace('type = "files"', 'type = "filez"')))
    message = str(err.value)
    assert "config.toml:6: accounts[0].source:" in message
    assert "'files', 'google', 'memory'" in message


def test_a_provider_key_error_names_the_key_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, MINIMAL.replace("calendar =", "calender =")))
    message = str(err.value)
    assert "config.toml:8: accounts[0].source.calender:" in message
    assert "did you mean 'calendar'?" in message


def test_a_google_secret_written_inline_is_refused(tmp_path):
    text = MINIMAL.replace('type = "files"\ncalendar = ["cal"]',
                           'type = "google"\nclient_secrets = "abc"')
    with pytest.raises(ConfigError, match="secrets are never written inline") as err:
        load_settings(write(tmp_path, text))
    assert "accounts[0].source.client_secrets" in str(err.value)
