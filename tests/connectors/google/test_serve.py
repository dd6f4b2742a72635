"""The standalone fake Google (python -m tests.connectors.google.serve) that the docker
compose trial runs: a separate process, reached only over HTTP, as the workers reach it."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from peerpulse.connectors.base import SourceContext
from peerpulse.connectors.google.connector import GoogleConnector
from peerpulse.connectors.google.settings import GoogleSettings
from peerpulse.worker.store import open_store

from tests.connectors.google.conftest import drain

REPO = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def served(tmp_path):
    key = tmp_path / "shared" / "sa.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.connectors.google.serve", "--port", "0",
         "--managers", "2", "--reports", "3", "--messages", "40",
         "--now", NOW.isoformat(), "--key-out", str(key)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()  # printed once it listens
        assert line.startswith("fake Google on http://127.0.0.1:"), (line, proc.stderr.read())
        yield line.split()[3], key, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_the_standalone_fake_serves_each_manager_to_a_delegated_service_account(
    served, tmp_path
):
    url, key, proc = served
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    settings = GoogleSettings(
        mode="service_account", service_account_key={"file": str(key), "env": None},
        calendars=["primary"], mail=True, directory=True, window_past_days=60,
        window_future_days=30, api_endpoint=url, token_endpoint=url + "token",
        quota_units_per_minute=3_000_000,
    )
    context = SourceContext(
        account="m2", owner_addresses=frozenset({"manager2@example.com"}),
        timezone="UTC", subjects="kept", state_dir=str(tmp_path), now=NOW,
    )
    with open_store(tmp_path / "state.db") as store:
        for source in GoogleConnector(context, settings).sources():
            drain(store, source, "m2")
        messages = list(store.iter_messages("m2"))
        events = list(store.iter_events("m2"))
        people = {p.email for p in store.people("m2")}
    assert len(messages) == 40
    assert events
    assert all("manager2@example.com" in {a.email for a in e.attendees} for e in events)
    # the directory holds the reporting lines `org enroll` reads
    assert {"manager1@example.com", "report2.3@example.com", "ceo@example.com"} <= people
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert proc.stderr.read() == ""  # no violation of Google's rules was printed


def test_bad_arguments_exit_2_without_a_traceback():
    done = subprocess.run(
        [sys.executable, "-m", "tests.connectors.google.serve", "--managers", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 2
    assert "--managers" in done.stderr and "Traceback" not in done.stderr
