"""msal over the fake sign-in service: device code, 0600 cache saved on every acquisition,
silent runs, revoked grants, app-only credentials."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from peerpulse.connectors.base import AuthRequired, SourceUnavailable
from peerpulse.connectors.microsoft.connector import MicrosoftConnector

from tests.connectors.microsoft.conftest import (
    CLIENT_ID,
    connect,
    drain,
    make_context,
    sign_in,
    source_named,
)
from tests.connectors.microsoft.fake_data import USER, event


def _refresh_tokens(path: Path) -> set[str]:
    cache = json.loads(path.read_text())
    return {entry["secret"] for entry in cache.get("RefreshToken", {}).values()}


def test_device_code_sign_in_writes_a_private_cache(fake, state_dir):
    path = sign_in(fake, state_dir)
    assert path == state_dir / "tokens" / "alice-microsoft.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert _refresh_tokens(path)
    scopes = fake.device_scopes
    assert "https://graph.microsoft.com/Mail.ReadBasic" in scopes
    assert not any(s.endswith(("Mail.Read", "Mail.Send", "User.Read.All")) for s in scopes)


def test_a_run_refreshes_silently_and_saves_the_rotated_refresh_token(fake, state_dir, store):
    path = sign_in(fake, state_dir)
    before = _refresh_tokens(path)
    fake.expire_access_tokens()
    fake.calendars[USER].put(event(1))
    connector = connect(fake, state_dir, store, mail=False)
    list(source_named(connector, "calendar").sync(None))
    after = _refresh_tokens(path)
    assert after and after != before  # the fake invalidated the old one on use
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # the next run (a new process) still works with what was saved
    fake.expire_access_tokens()
    connector = connect(fake, state_dir, store, mail=False)
    list(source_named(connector, "calendar").sync(None))


def test_no_sign_in_yet_names_the_command(fake, state_dir):
    with pytest.raises(AuthRequired) as caught:
        connect(fake, state_dir)
    assert caught.value.command == "peerpulse auth microsoft --account alice"


def test_a_revoked_grant_needs_re_authorization_and_never_prompts(fake, state_dir, store):
    sign_in(fake, state_dir)
    fake.revoke_all()  # refresh and access tokens gone: AADSTS70008 on refresh
    connector = connect(fake, state_dir, store, mail=False)
    with pytest.raises(AuthRequired) as caught:
        list(source_named(connector, "calendar").sync(None))
    assert "AADSTS70008" in str(caught.value)
    assert caught.value.command == "peerpulse auth microsoft --account alice"
    grants = {r.get("grant_type") for r in fake.token_requests}
    assert "urn:ietf:params:oauth:grant-type:device_code" in grants  # only from sign_in
    assert fake.token_requests[-1]["grant_type"] == "refresh_token"


def test_a_scope_added_after_sign_in_asks_for_a_new_sign_in(fake, state_dir):
    sign_in(fake, state_dir)
    connector = connect(fake, state_dir, directory=True)
    with pytest.raises(AuthRequired, match="User.Read.All|consent"):
        list(source_named(connector, "directory").sync(None))


def test_a_cache_readable_by_others_is_refused(fake, state_dir):
    path = sign_in(fake, state_dir)
    path.chmod(0o644)
    with pytest.raises(SourceUnavailable, match="permissions|readable|mode"):
        connect(fake, state_dir)


def _app_settings(secret_file: Path) -> dict:
    return {
        "mode": "application",
        "tenant": "contoso.onmicrosoft.com",
        "client_secret": {"file": str(secret_file)},
        "mailbox": USER,
    }


def test_app_only_reads_an_allowed_mailbox_with_a_secret_by_reference(fake, state_dir, store,
                                                                        tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    fake.client_secrets[CLIENT_ID] = "s3cret"
    fake.app_mailboxes.add(USER)
    fake.calendars[USER].put(event(1))
    context = make_context(fake, state_dir, store, mail=False, **_app_settings(secret))
    batches = list(source_named(MicrosoftConnector(*context), "calendar").sync(None))
    assert sum(len(b.upserts) for b in batches) == 1
    assert fake.token_requests[-1]["grant_type"] == "client_credentials"
    assert fake.token_requests[-1]["scope"] == "https://graph.microsoft.com/.default"
    assert any("/users/alice@contoso.com/calendarView/delta" in p for _, p, _ in fake.log)


def test_app_only_blocked_by_the_access_policy_says_what_to_check(fake, state_dir, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret")
    secret.chmod(0o600)
    fake.client_secrets[CLIENT_ID] = "s3cret"  # but the mailbox is outside the policy
    context = make_context(fake, state_dir, mail=False, **_app_settings(secret))
    with pytest.raises(SourceUnavailable) as caught:
        list(source_named(MicrosoftConnector(*context), "calendar").sync(None))
    assert "ErrorAccessDenied" in str(caught.value) and "access policy" in caught.value.hint


def test_app_only_with_a_wrong_secret_is_reported_without_the_secret(fake, state_dir, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("wrong-value")
    secret.chmod(0o600)
    fake.client_secrets[CLIENT_ID] = "s3cret"
    context = make_context(fake, state_dir, mail=False, **_app_settings(secret))
    with pytest.raises(SourceUnavailable) as caught:
        list(source_named(MicrosoftConnector(*context), "calendar").sync(None))
    assert "AADSTS7000215" in str(caught.value) and "wrong-value" not in str(caught.value)


def test_app_only_with_a_certificate_signs_a_client_assertion(fake, state_dir, store, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "app.key"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    pem.chmod(0o600)
    fake.client_secrets[CLIENT_ID] = "unused"
    fake.app_mailboxes.add(USER)
    fake.calendars[USER].put(event(1))
    settings = {"mode": "application", "tenant": "contoso.onmicrosoft.com",
                "certificate_key": {"file": str(pem)},
                "certificate_thumbprint": "A1" * 20, "mailbox": USER}
    context = make_context(fake, state_dir, store, mail=False, **settings)
    batches = list(source_named(MicrosoftConnector(*context), "calendar").sync(None))
    assert sum(len(b.upserts) for b in batches) == 1
    request = fake.token_requests[-1]
    assert request["client_assertion_type"].endswith("jwt-bearer")
    assert "client_secret" not in request


def test_signed_in_accounts_each_get_their_own_concurrency_budget():
    import requests
    from peerpulse.connectors.microsoft.graph import GraphClient

    def client(account: str, mailbox: str) -> GraphClient:
        return GraphClient(requests.Session(), None, account=account, mailbox=mailbox)

    # "me" is a different mailbox for each signed-in account ...
    assert client("alice", "me").slots is not client("bob", "me").slots
    # ... while two app-only accounts reading one mailbox share its 4 slots
    assert client("a", "dana@contoso.com").slots is client("b", "dana@contoso.com").slots


@pytest.mark.parametrize("faults", [["429"], ["503", "500"], ["reset", "truncated", "500"]])
def test_a_passing_sign_in_service_fault_is_retried_within_the_run(fake, state_dir, store, faults):
    # Found by `make chaos-microsoft`: a 429, a 5xx, a reset or a body cut short from the
    # token endpoint ended the whole run (SourceUnavailable), while Graph's own faults were
    # retried. A 429/503 waits the Retry-After the fake sends (1 s; recorded, not slept),
    # and msal's throttle cache must not answer the repeat with the cached error.
    from peerpulse.connectors.microsoft.connector import MicrosoftConnector

    sign_in(fake, state_dir)
    fake.calendars[USER].put(event(1))
    fake.expire_access_tokens()  # the run must refresh first
    fake.signin_faults = list(faults)
    connector = MicrosoftConnector(*make_context(fake, state_dir, store, mail=False))
    waits: list[float] = []
    connector.client.credentials.sleep = waits.append
    drain(store, source_named(connector, "calendar"))
    assert len(list(store.iter_events("alice"))) == 1
    assert len(waits) == len(faults) and fake.signin_faults == []
    for attempt, (wait, kind) in enumerate(zip(waits, faults, strict=True)):
        assert wait == 1.0 if kind in ("429", "503") else 0 < wait <= 2**attempt, waits
