"""Config -> delivery backend, including the Gmail backend that needs the account."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from peerpulse.connectors.google.delivery import GmailDeliveryBackend
from peerpulse.worker.cli import Env, main
from peerpulse.worker.config import load_settings
from peerpulse.worker.delivery import make_backend
from peerpulse.worker.errors import ConfigError

GOOGLE = """\
[[accounts]]
name = "work"
owner = "dana@example.com"
[accounts.source]
type = "{source}"
[accounts.delivery]
type = "gmail"
"""


def settings_for(tmp_path: Path, source: str):
    path = tmp_path / "config.toml"
    path.write_text(GOOGLE.format(source=source))
    return load_settings(path)


def test_gmail_delivery_uses_the_accounts_google_credentials(tmp_path):
    settings = settings_for(tmp_path, "google")
    account = settings.accounts[0]
    backend = make_backend(account.delivery, owner=account.owner,
                           resolve_path=settings.resolve_path, account=account, settings=settings)
    assert isinstance(backend, GmailDeliveryBackend)
    assert backend.state_dir == str(settings.state_path)
    assert backend.settings is account.source


def test_gmail_delivery_without_a_google_source_is_a_config_error(tmp_path):
    settings = settings_for(tmp_path, "files")
    account = settings.accounts[0]
    with pytest.raises(ConfigError, match="needs a google source"):
        make_backend(account.delivery, owner=account.owner, resolve_path=settings.resolve_path,
                     account=account, settings=settings)


def test_auth_google_on_a_files_account_is_a_usage_error(tmp_path):
    settings_for(tmp_path, "files")
    err = io.StringIO()
    code = main(["--config", str(tmp_path / "config.toml"), "auth", "google", "--account", "work"],
                Env(stdout=io.StringIO(), stderr=err))
    assert code == 2
    assert "uses the 'files' connector, not google" in err.getvalue()


def test_auth_google_without_client_secrets_says_what_to_configure(tmp_path):
    settings_for(tmp_path, "google")
    err = io.StringIO()
    code = main(["--config", str(tmp_path / "config.toml"), "auth", "google", "--account", "work"],
                Env(stdout=io.StringIO(), stderr=err))
    assert code == 1
    assert "client_secrets" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_a_digest_run_gives_the_gmail_backend_its_account(tmp_path):
    """`digest` used to build the backend without the account: gmail was refused
    as "needs a google source" even on a google account. Now it reaches the
    credentials and says which command authorizes sending."""
    path = tmp_path / "config.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        + GOOGLE.format(source="google").replace(
            "[accounts.delivery]", "[accounts.digest]\nsend_empty = true\n[accounts.delivery]"
        )
    )
    err = io.StringIO()
    code = main(["--config", str(path), "digest", "--now", "2026-11-23T09:30:00+00:00"],
                Env(stdout=io.StringIO(), stderr=err))
    assert "needs a google source" not in err.getvalue()
    assert code == 1
    assert "peerpulse auth google --account work" in err.getvalue()
