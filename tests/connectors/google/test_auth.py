"""Credentials: token files, refresh, revocation, scopes, service accounts, the consent flow."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from peerpulse.connectors.base import AuthRequired
from peerpulse.connectors.google.auth import (
    SCOPE_CALENDAR,
    SCOPE_GMAIL_METADATA,
    SCOPE_GMAIL_SEND,
    authorize,
    token_path,
)
from peerpulse.connectors.google.connector import GoogleConnector
from peerpulse.connectors.google.settings import GoogleSettings

from tests.connectors.google.conftest import (
    NOW,
    READ_SCOPES,
    USER,
    drain,
    make_context,
    write_token,
)
from tests.connectors.google.test_calendar import fill


def test_without_a_token_the_connector_asks_for_the_exact_command(fake, state_dir):
    with pytest.raises(AuthRequired) as caught:
        GoogleConnector(*make_context(fake, state_dir))
    assert caught.value.command == "peerpulse auth google --account alice"


def test_a_refreshed_token_is_saved_private(fake, state_dir):
    write_token(state_dir, fake, READ_SCOPES)
    GoogleConnector(*make_context(fake, state_dir))
    path = token_path(state_dir, "alice")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text())["token"].startswith("at-")


def test_a_token_missing_a_scope_needs_authorizing_again(fake, state_dir):
    write_token(state_dir, fake, {SCOPE_CALENDAR})
    with pytest.raises(AuthRequired, match="gmail.metadata"):
        GoogleConnector(*make_context(fake, state_dir))


def test_a_revoked_token_fails_the_account_and_keeps_its_cursors(fake, state_dir, store):
    from peerpulse.worker.config import Settings
    from peerpulse.worker.sync import sync_account

    fill(fake, 12)
    write_token(state_dir, fake, READ_SCOPES)
    settings = Settings(
        state_dir=state_dir,
        accounts=[
            {
                "name": "alice",
                "owner": USER,
                "source": {
                    "type": "google",
                    "mail": False,
                    "api_endpoint": fake.url,
                    "token_endpoint": fake.token_url,
                    "quota_units_per_minute": 3_000_000,
                },
            }
        ],
    )
    account = settings.accounts[0]
    assert sync_account(store, settings, account, now=NOW).ok
    cursor = store.cursor("alice", "calendar")
    write_token(state_dir, fake, READ_SCOPES, refresh="refresh-1")
    fake.revoke("refresh-1")
    report = sync_account(store, settings, account, now=NOW)
    assert not report.ok and "peerpulse auth google --account alice" in (report.hint or "")
    assert store.cursor("alice", "calendar") == cursor
    assert len(list(store.iter_events("alice"))) == 12


def _service_account_key(tmp_path: Path, token_url: str) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path = tmp_path / "sa.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "p",
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "peerpulse@p.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": token_url,
            }
        )
    )
    path.chmod(0o600)  # a key readable by others is refused, as ssh does
    return path


def test_a_service_account_acts_as_the_user_with_domain_wide_delegation(
    fake, state_dir, store, tmp_path
):
    fill(fake, 4)
    key = _service_account_key(tmp_path, fake.token_url)
    context = make_context(
        fake,
        state_dir,
        mode="service_account",
        mail=False,
        service_account_key={"env": None, "file": key},
    )
    (source,) = GoogleConnector(*context).sources()
    drain(store, source)
    assert len(list(store.iter_events("alice"))) == 4
    assert all(user == USER for user, _ in fake.access_tokens.values())


def test_console_authorization_stores_a_refreshable_token(fake, state_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain HTTP
    secrets = tmp_path / "client.json"
    secrets.write_text(
        json.dumps(
            {
                "installed": {
                    "client_id": "cid.apps.googleusercontent.com",
                    "client_secret": "shh",
                    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                    "token_uri": "https://oauth2.googleapis.com/token",
                    "redirect_uris": ["http://localhost"],
                }
            }
        )
    )
    secrets.chmod(0o600)
    fake.auth_codes["code-1"] = (USER, READ_SCOPES | {SCOPE_GMAIL_SEND})
    shown: list[str] = []
    settings = GoogleSettings(
        mode="user",
        calendars=["primary"],
        mail=True,
        client_secrets={"file": str(secrets), "env": None},
        token_endpoint=fake.token_url,
    )
    path = authorize(
        "alice",
        settings,
        state_dir=state_dir,
        console=True,
        send=True,
        prompt=lambda _: "http://127.0.0.1:1/?state=x&code=code-1&scope=a",
        say=shown.append,
    )
    assert "scope=" in shown[0] and "gmail.metadata" in shown[0] and "gmail.send" in shown[0]
    assert "gmail.readonly" not in shown[0]
    saved = json.loads(path.read_text())
    assert saved["refresh_token"].startswith("refresh-")
    assert set(saved["scopes"]) == {SCOPE_CALENDAR, SCOPE_GMAIL_METADATA, SCOPE_GMAIL_SEND}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    GoogleConnector(*make_context(fake, state_dir))  # cron can now refresh it silently


def test_a_grant_revoked_during_a_batch_asks_to_authorize_again(fake, state_dir, store):
    from peerpulse.worker.sync import _sync_source

    from tests.connectors.google.test_mail import fill as fill_mail
    from tests.connectors.google.test_mail import mail_source

    fill_mail(fake, 120, mean_thread=1.0)
    source = mail_source(fake, state_dir, store)
    fake.before_batch = lambda: fake.revoke("refresh-1")
    result = _sync_source(store, "alice", source, None)
    assert result.failure == "auth", result.error
    assert "peerpulse auth google --account alice" in (result.hint or "")
    assert "unexpected" not in (result.error or "")


def test_a_service_account_without_delegation_is_told_the_admin_console_step(
    fake, state_dir, tmp_path
):
    from peerpulse.connectors.base import SourceUnavailable

    fake.delegated = set()  # the super admin never added the client ID
    key = _service_account_key(tmp_path, fake.token_url)
    context = make_context(
        fake, state_dir, mode="service_account", mail=False,
        service_account_key={"env": None, "file": key},
    )
    with pytest.raises(SourceUnavailable) as refused:
        GoogleConnector(*context)
    assert "Domain-wide delegation" in (refused.value.hint or "")
    assert "auth google" not in str(refused.value) + (refused.value.hint or "")


def test_many_delegated_users_parse_the_service_account_key_once(fake, tmp_path, monkeypatch):
    """An organization's workers act as thousands of managers with one key: loading its
    PEM was 150 ms of CPU per mailbox. Each user still gets a token of its own."""
    from google.oauth2 import service_account
    from peerpulse.connectors.google.auth import SCOPE_CALENDAR, delegated, refresh

    key = _service_account_key(tmp_path, fake.token_url).read_text()
    parsed = []
    real = service_account.Credentials.from_service_account_info

    def counting(info, **kwargs):  # noqa: ANN001, ANN003, ANN202
        parsed.append(info["client_email"])
        return real(info, **kwargs)

    monkeypatch.setattr(service_account.Credentials, "from_service_account_info", counting)
    users = [f"mgr{k}@example.com" for k in range(3)]
    creds = [delegated(key, user, [SCOPE_CALENDAR], fake.token_url) for user in users]
    for user, cred in zip(users, creds, strict=True):
        refresh(cred, user, service=True)
    assert len(parsed) == 1
    assert sorted(user for user, _ in fake.access_tokens.values()) == users
