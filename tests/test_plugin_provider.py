"""A provider from another distribution plugs in through entry points alone.

The throw-away ``echo`` provider below is written to a temporary folder as a
real installed distribution (a package plus a ``.dist-info`` with
``entry_points.txt``) and put on ``PYTHONPATH`` of a fresh interpreter: exactly
what ``pip install peerpulse-echo`` would leave behind. Nothing under worker/
knows it, yet its config is validated (bad keys named like any other), it
syncs, it shows in ``status`` and ``explain``, its ``auth`` command appears,
and its delivery backend sends the digest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN = '''
"""peerpulse-echo: mail between the owner and a few peers, made up from settings."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from peerpulse.connectors.base import SourceContext
from peerpulse.connectors.delivery import DeliveryOutcome, DeliveryState
from peerpulse.connectors.records import Direction, MessageMeta, SyncBatch
from peerpulse.connectors.registry import AuthCommand, Delivery, Provider
from peerpulse.connectors.settings import ProviderSettings, StrictSettings
from pydantic import Field


class EchoSettings(ProviderSettings):
    peers: list[str] = []
    weeks: int = Field(default=8, ge=1)

    def has_calendar(self) -> bool:
        return False


class EchoSource:
    name = "echo"

    def __init__(self, context, settings):
        self.context, self.settings = context, settings

    def sync(self, cursor):
        now = self.context.current_time()
        owner = sorted(self.context.owner_addresses)[0]
        records = []
        for peer in self.settings.peers:
            for week in range(self.settings.weeks):
                when = now - timedelta(days=7 * week + 1)
                records.append(MessageMeta(
                    f"{peer}-{week}-in", f"<{peer}-{week}@echo>", f"t-{peer}-{week}", when,
                    peer, to=(owner,), direction=Direction.RECEIVED))
                records.append(MessageMeta(
                    f"{peer}-{week}-out", f"<re-{peer}-{week}@echo>", f"t-{peer}-{week}",
                    when + timedelta(hours=2), owner, to=(peer,),
                    direction=Direction.SENT, in_reply_to=f"<{peer}-{week}@echo>"))
        yield SyncBatch(upserts=records, cursor="done", scope="echo", run_id="r1",
                        prune_scope=True)


class EchoConnector:
    def __init__(self, context: SourceContext, settings: EchoSettings) -> None:
        assert isinstance(settings, EchoSettings)  # typed, never a dict
        self._sources = [EchoSource(context, settings)]

    def sources(self):
        return self._sources


def authorize(request):
    path = Path(request.state_dir) / f"{request.account}-echo.token"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"peers": request.settings.peers, "send": request.send}))
    return path


class EchoOutSettings(StrictSettings):
    path: str = "echo-out.eml"


class EchoOut:
    def __init__(self, path):
        self.path = path

    def send(self, message):
        self.path.write_bytes(message.as_bytes())
        return DeliveryOutcome(DeliveryState.SENT, "echoed", location=str(self.path))


PROVIDER = Provider(
    name="echo",
    settings=EchoSettings,
    connector=EchoConnector,
    auth=AuthCommand(provider="echo", title="Echo", help="store an echo token", run=authorize),
    delivery=Delivery(
        name="echo-out",
        settings=EchoOutSettings,
        backend=lambda config, request: EchoOut(request.resolve_path(config.path)),
    ),
)
'''

DRIVER = '''
import contextlib, io, json, sys
from peerpulse.worker.cli import Env, main

def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out):  # argparse prints --help itself
        try:
            code = main(list(argv), Env(stdout=out, stderr=err))
        except SystemExit as exc:
            code = exc.code
    return {"code": code, "out": out.getvalue(), "err": err.getvalue()}

config, bad, now = sys.argv[1:4]
print(json.dumps({
    "bad": cli("--config", bad, "sync", "--now", now),
    "help": cli("auth", "--help"),
    "auth": cli("--config", config, "auth", "echo", "--account", "me"),
    "run": cli("--config", config, "run", "--now", now),
    "status": cli("--config", config, "status", "--json", "--now", now),
    "explain": cli("--config", config, "explain", "pat@example.com", "--now", now),
}))
'''

CONFIG = """\
state_dir = "state"

[[accounts]]
name = "me"
owner = "me@example.com"
timezone = "Europe/Berlin"

[accounts.source]
type = "echo"
{source_key} = ["pat@example.com", "lee@example.com"]

[accounts.digest]
send_empty = true
attach_hold = false
min_peers = 0  # echo has no directory: send the first digest without one (issue 13)

[accounts.delivery]
type = "echo-out"
path = "sent.eml"
"""

NOW = "2026-11-23T09:30:00+00:00"  # a Monday, after the default 07:00 due time


def install_plugin(site: Path) -> None:
    """What pip leaves behind: the package and its .dist-info with entry points."""
    (site / "peerpulse_echo").mkdir(parents=True)
    (site / "peerpulse_echo" / "__init__.py").write_text(PLUGIN)
    info = site / "peerpulse_echo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: peerpulse-echo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [peerpulse.connectors]
            echo = peerpulse_echo:PROVIDER
            """
        )
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict[str, object]]:
    root = tmp_path_factory.mktemp("plugin")
    install_plugin(root / "site")
    config = root / "config.toml"
    config.write_text(CONFIG.format(source_key="peers"))
    bad = root / "bad.toml"
    bad.write_text(CONFIG.format(source_key="peer"))
    env = {**os.environ, "PYTHONPATH": str(root / "site")}
    env.pop("PEERPULSE_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(config), str(bad), NOW],
        capture_output=True, text=True, env=env, cwd=root, timeout=120, check=True,
    )
    out: dict[str, dict[str, object]] = json.loads(done.stdout)
    out["root"] = {"path": str(root)}
    return out


def test_its_config_is_validated_with_the_usual_error_naming_file_line_and_key(results):
    bad = results["bad"]
    assert bad["code"] == 2
    err = str(bad["err"])
    assert "bad.toml" in err and "accounts[0].source.peer" in err
    assert "did you mean 'peers'?" in err


def test_it_syncs_and_its_delivery_backend_sends_the_digest(results):
    run = results["run"]
    assert run["code"] == 0, run["err"]
    sent = Path(str(results["root"]["path"])) / "sent.eml"
    assert b"Subject:" in sent.read_bytes()


def test_it_appears_in_status_and_explain(results):
    status = results["status"]
    assert status["code"] == 0, status["err"]
    (account,) = json.loads(str(status["out"]))
    assert [s["source"] for s in account["sources"]] == ["echo"]
    assert account["counts"]["messages"] == 2 * 2 * 8
    explain = results["explain"]
    assert explain["code"] == 0, explain["err"]
    assert "pat@example.com" in str(explain["out"])
    assert "counted" in str(explain["out"]).lower()


def test_its_auth_command_is_offered_and_gets_the_typed_settings(results):
    assert "echo" in str(results["help"]["out"])
    auth = results["auth"]
    assert auth["code"] == 0, auth["err"]
    assert "me: Echo authorization stored in" in str(auth["out"])
    token = Path(str(results["root"]["path"])) / "state" / "me-echo.token"
    assert json.loads(token.read_text()) == {
        "peers": ["pat@example.com", "lee@example.com"],
        "send": True,  # the account delivers through the provider's own backend
    }


def test_nothing_under_worker_names_it():
    worker = Path(__file__).resolve().parent.parent / "worker"
    assert not [p for p in worker.rglob("*.py") if "echo" in p.read_text().lower()]


def test_a_plugin_that_fails_to_load_is_named_in_the_config_error(tmp_path):
    site = tmp_path / "site"
    (site / "peerpulse_broken").mkdir(parents=True)
    (site / "peerpulse_broken" / "__init__.py").write_text("import no_such_library\n")
    info = site / "peerpulse_broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: peerpulse-broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[peerpulse.connectors]\nbroken = peerpulse_broken:PROVIDER\n"
    )
    config = tmp_path / "config.toml"
    config.write_text(
        '[[accounts]]\nname = "me"\nowner = "me@example.com"\n'
        '[accounts.source]\ntype = "broken"\n'
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-m", "peerpulse.worker.cli", "--config", str(config), "sync"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "config.toml:4: accounts[0].source:" in done.stderr
    assert "'broken' plugin is installed but did not load" in done.stderr
    assert "No module named 'no_such_library'" in done.stderr
    assert "Traceback" not in done.stderr
