"""The microsoft and exchange providers wired in through the plugin contract.

Everything here goes through what a user has: entry points discovered by the
registry, a config file, and the ``peerpulse`` command line.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from peerpulse.connectors.microsoft.delivery import GraphDeliveryBackend
from peerpulse.connectors.microsoft.settings import ExchangeSettings, MicrosoftSettings
from peerpulse.connectors.registry import registry
from peerpulse.worker.cli import Env, main
from peerpulse.worker.config import load_settings
from peerpulse.worker.delivery import make_backend

from tests.connectors.microsoft.conftest import CLIENT_ID
from tests.connectors.microsoft.fake_data import USER, event

CONFIG = """\
state_dir = "{state}"
[[accounts]]
name = "alice"
owner = "{owner}"
[accounts.digest]
send_empty = true
[accounts.source]
type = "{source}"
client_id = "{client}"
tenant = "contoso.onmicrosoft.com"
graph_endpoint = "{graph}"
login_endpoint = "{login}"
window_past_days = 30
{extra}
[accounts.delivery]
type = "{delivery}"
"""

EXCHANGE = """\
[[accounts]]
name = "a"
owner = "a@contoso.com"
[accounts.source]
type = "exchange"
server = "{server}"
username = "CONTOSO\\\\a"
password = {{ env = "EWS_PASSWORD" }}
"""


def write_config(tmp_path: Path, fake=None, *, source: str = "microsoft",
                 delivery: str = "graph", extra: str = "") -> Path:
    url = fake.url if fake else "http://127.0.0.1:9"
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state", owner=USER, client=CLIENT_ID,
                                  graph=url + "/graph", login=url + "/login", extra=extra,
                                  delivery=delivery, source=source))
    return path


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def test_the_entry_points_register_both_providers_the_auth_command_and_graph_delivery(tmp_path):
    found = registry()
    assert found.providers["microsoft"].settings is MicrosoftSettings
    assert found.providers["exchange"].settings is ExchangeSettings
    assert "microsoft" in found.auth and "exchange" not in found.auth
    assert found.deliveries["graph"] is found.providers["microsoft"].delivery
    settings = load_settings(write_config(tmp_path))
    account = settings.accounts[0]
    assert isinstance(account.source, MicrosoftSettings)
    assert account.source.mail_folders == ["sentitems", "inbox"]
    backend = make_backend(account.delivery, owner=account.owner,
                           resolve_path=settings.resolve_path, account=account, settings=settings)
    assert isinstance(backend, GraphDeliveryBackend) and backend.settings is account.source


def test_importing_the_providers_loads_no_client_library():
    code = ("import sys, peerpulse.connectors.microsoft as m; m.PROVIDER, m.EXCHANGE; "
            "print(sorted(n for n in ('msal', 'exchangelib', 'requests') if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_an_inline_client_secret_is_refused_naming_the_key(tmp_path):
    config = write_config(tmp_path, extra='mode = "application"\nclient_secret = "hunter2"')
    code, out, err = run_cli("--config", str(config), "status")
    assert code == 2
    assert "client_secret" in err and "hunter2" not in out + err


def test_graph_delivery_on_an_account_without_a_microsoft_source_is_a_config_error(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n[[accounts]]\nname = "a"\n'
                    'owner = "a@b.example"\n[accounts.digest]\nsend_empty = true\n'
                    '[accounts.source]\ntype = "files"\n[accounts.delivery]\ntype = "graph"\n')
    code, out, err = run_cli("--config", str(path), "digest", "--now",
                             "2026-11-23T09:30:00+00:00")
    assert code == 2, out + err
    assert "needs a microsoft source" in err and "Traceback" not in out + err


def test_auth_then_sync_then_a_revoked_grant_exits_1_naming_the_command(fake, tmp_path):
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


def test_a_digest_goes_out_through_graph_after_signing_in_with_mail_send(fake, tmp_path):
    config = str(write_config(tmp_path, fake))
    code, out, err = run_cli("--config", config, "auth", "microsoft", "--account", "alice")
    assert code == 0, err
    assert any(s.endswith("Mail.Send") for s in fake.device_scopes)  # graph delivery
    code, out, err = run_cli("--config", config, "digest", "--now", "2026-11-23T09:30:00+00:00")
    assert code == 0, out + err
    assert len(fake.sent) == 1
    box, raw = fake.sent[0]
    assert box == USER and b"To: " + USER.encode() in raw


def test_an_on_premises_exchange_source_loads_and_exchange_online_is_refused(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(EXCHANGE.format(server="mail.contoso.local"))
    assert isinstance(load_settings(path).accounts[0].source, ExchangeSettings)
    path.write_text(EXCHANGE.format(server="outlook.office365.com"))
    code, out, err = run_cli("--config", str(path), "status")
    assert code == 2
    assert "Graph" in err and "Traceback" not in out + err


def test_init_writes_each_providers_template_and_names_the_next_step(tmp_path):
    for source, step in (("microsoft", "peerpulse auth microsoft --account work"),
                         ("exchange", "PEERPULSE_EWS_PASSWORD")):
        config = tmp_path / f"{source}.toml"
        code, out, err = run_cli("--config", str(config), "init", "--source", source, "--owner",
                                 "a@contoso.com", "--timezone", "UTC", "--account", "work",
                                 "--no-sync")
        assert code == 0, out + err
        assert step in out
        source_settings = load_settings(config).accounts[0].source
        assert isinstance(source_settings,
                          MicrosoftSettings if source == "microsoft" else ExchangeSettings)
