"""The shipped systemd units and cron line: valid, hardened, hourly, lock-aware."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICES = [DEPLOY / "systemd" / "peerpulse.service", DEPLOY / "systemd/user/peerpulse.service"]
TIMERS = [DEPLOY / "systemd" / "peerpulse.timer", DEPLOY / "systemd/user/peerpulse.timer"]
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze not installed")


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def test_the_system_service_is_a_hardened_oneshot_that_treats_lock_contention_as_success():
    service = _unit(SERVICES[0])["Service"]
    assert service["Type"] == "oneshot"
    assert service["ExecStart"] == "/usr/local/bin/peerpulse run"
    assert service["SuccessExitStatus"] == "75"
    for key, value in {
        "StateDirectory": "peerpulse", "ConfigurationDirectory": "peerpulse",
        "ProtectSystem": "strict", "ProtectHome": "true", "PrivateTmp": "true",
        "NoNewPrivileges": "true", "DynamicUser": "yes",
    }.items():
        assert service[key] == value, key
    assert service["LoadCredential"].startswith("smtp-password:")


def test_the_user_service_runs_the_same_command_and_accepts_75():
    service = _unit(SERVICES[1])["Service"]
    assert (service["Type"], service["SuccessExitStatus"]) == ("oneshot", "75")
    assert service["ExecStart"].endswith("/peerpulse run")


@pytest.mark.parametrize("timer", TIMERS, ids=["system", "user"])
def test_the_timers_fire_hourly_and_catch_up_after_downtime(timer):
    section = _unit(timer)["Timer"]
    assert section["OnCalendar"] == "hourly"
    assert section["Persistent"] == "true"
    assert section["RandomizedDelaySec"]
    assert _unit(timer)["Install"]["WantedBy"] == "timers.target"


@needs_analyze
@pytest.mark.parametrize("folder", ["systemd", "systemd/user"])
def test_systemd_analyze_verify_accepts_the_units(tmp_path, folder):
    # verify checks that ExecStart's binary and credential files exist; point them at
    # files this machine has, keep everything else exactly as shipped.
    for name in ("peerpulse.service", "peerpulse.timer"):
        text = (DEPLOY / folder / name).read_text()
        text = re.sub(r"(?m)^ExecStart=\S+", f"ExecStart={shutil.which('true')}", text)
        text = re.sub(r"(?m)^(LoadCredential=[^:]+):.*$", rf"\1:{tmp_path / 'secret'}", text)
        (tmp_path / name).write_text(text)
    (tmp_path / "secret").write_text("x")
    done = subprocess.run(
        [ANALYZE, "verify", "--man=no", "peerpulse.service", "peerpulse.timer"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    problems = [line for line in (done.stdout + done.stderr).splitlines()
                if "peerpulse" in line or "Unknown" in line or "Failed to parse" in line]
    assert done.returncode == 0, done.stderr
    assert problems == []


@needs_analyze
def test_systemd_analyze_normalizes_the_calendar_expressions():
    expressions = {_unit(t)["Timer"]["OnCalendar"] for t in TIMERS}
    for expression in expressions:
        done = subprocess.run([ANALYZE, "calendar", expression], capture_output=True, text=True,
                              timeout=30)
        assert done.returncode == 0, done.stderr
        assert "Normalized form: *-*-* *:00:00" in done.stdout


def test_the_cron_line_runs_hourly_quietly_and_without_flock():
    lines = [line for line in (DEPLOY / "cron" / "peerpulse.cron").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) == 1
    minute, hour, dom, month, dow, command = lines[0].split(None, 5)
    assert minute.isdigit() and 0 <= int(minute) < 60
    assert (hour, dom, month, dow) == ("*", "*", "*", "*")
    assert command.endswith("peerpulse -q run")
    assert "flock" not in command
