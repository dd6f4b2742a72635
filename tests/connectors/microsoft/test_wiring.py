"""The microsoft connector wired into config, registry, CLI and delivery."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from peerpulse.connectors.microsoft.connector import MicrosoftConnector
from peerpulse.connectors.registry import load_connector
from peerpulse.worker.cli import Env, main
from peerpulse.worker.config import load_settings
from peerpulse.worker.delivery import make_backend
from peerpulse.worker.delivery.graph import GraphDeliveryBackend
from peerpulse.worker.errors import ConfigError

from tests.connectors.microsoft.conftest import CLIENT_ID
from tests.connectors.microsoft.fake_data import USER, event

CONFIG = """\
state_dir = "{state}"
[[accounts]]
name = "alice"
owner = "{owner}"
[accounts.source]
type = "microsoft"
client_id = "{client}"
tenant = "contoso.onmicrosoft.com"
graph_endpoint = "{graph}"
login_endpoint = "{login}"
window_past_days = 30
{extra}
[accounts.delivery]
type = "{delivery}"
"""


def write_config(tmp_path: Path, fake=None, *, delivery: str = "graph", extra: str = "") -> Path:
    url = fake.url if fake else "http://127.0.0.1:9"
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state", owner=USER, client=CLIENT_ID,
                                  graph=url + "/graph", login=url + "/login", extra=extra,
                                  delivery=delivery))
    return path


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def test_the_registry_and_config_know_microsoft(tmp_path):
    assert load_connector("microsoft") is MicrosoftConnector
    settings = load_settings(write_config(tmp_path))
    account = settings.accounts[0]
    assert account.source.type == "microsoft" and account.source.mail_folders == [
        "sentitems", "inbox"]
    backend = make_backend(account.delivery, owner=account.owner,
                           resolve_path=settings.resolve_path, account=account, settings=settings)
    assert isinstance(backend, GraphDeliveryBackend)


def test_an_inline_client_secret_is_refused_naming_the_key(tmp_path):
    path = write_config(tmp_path, extra='mode = "application"\nclient_secret = "hunter2"')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "client_secret" in str(caught.value) and "hunter2" not in str(caught.value)


def test_graph_delivery_needs_a_microsoft_source(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[[accounts]]\nname = "a"\nowner = "a@b.example"\n[accounts.source]\n'
                    'type = "files"\n[accounts.delivery]\ntype = "graph"\n')
    settings = load_settings(path)
    account = settings.accounts[0]
    with pytest.raises(ConfigError, match="needs a microsoft source"):
        make_backend(account.delivery, owner=account.owner, resolve_path=settings.resolve_path,
                     account=account, settings=settings)


def test_auth_then_run_then_a_revoked_grant_exits_1_naming_the_command(fake, tmp_path):
    config = str(write_config(tmp_path, fake, delivery="file"))
    fake.calendars[USER].put(event(1))
    code, out, err = run_cli("--config", config, "auth", "microsoft", "--account", "alice")
    assert code == 0, err
    assert "FAKE-CODE" in out and "0600" in out
    assert not any(s.endswith("Mail.Send") for s in fake.device_scopes)  # file delivery
    code, out, err = run_cli("--config", config, "sync")
    assert code == 0, err
    fake.revoke_all()
    code, out, err = run_cli("--config", config, "sync")
    assert code == 1
    assert "peerpulse auth microsoft --account alice" in out + err
    assert "Traceback" not in out + err


def test_an_on_premises_exchange_source_loads_and_exchange_online_is_refused(tmp_path):
    from peerpulse.connectors.microsoft.ews import ExchangeConnector

    assert load_connector("exchange") is ExchangeConnector
    path = tmp_path / "config.toml"
    template = ('[[accounts]]\nname = "a"\nowner = "a@contoso.com"\n[accounts.source]\n'
                'type = "exchange"\nserver = "{server}"\nusername = "CONTOSO\\\\a"\n'
                'password = {{ env = "EWS_PASSWORD" }}\n')
    path.write_text(template.format(server="mail.contoso.local"))
    assert load_settings(path).accounts[0].source.type == "exchange"
    path.write_text(template.format(server="outlook.office365.com"))
    with pytest.raises(ConfigError, match="Graph"):
        load_settings(path)
