"""Exactly once per period: kill the process at each step of a delivery, then run again.

The crash runs in a subprocess (tests/worker/exactly_once_driver.py) that
``PEERPULSE_FAULT`` ends with ``os._exit(137)`` at the named step; the rerun
goes through the same driver. A real SMTP server on 127.0.0.1 counts what
arrived. Whatever the step, the sink never holds two different digests for one
period, and a digest that may be lost is reported, never silently dropped.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from peerpulse.worker import ledger
from peerpulse.worker.faults import FAULT_ENV, STEPS
from peerpulse.worker.store import open_store

from tests.worker.smtp_sink import Sink, smtp_server

REPO = Path(__file__).resolve().parents[2]
MONDAY_0800 = "2026-11-23T08:00:00+01:00"


def _run(state: Path, port: int, *, fault: str | None = None, resend_unknown: bool = False,
         now: str = MONDAY_0800) -> tuple[int, dict | None]:
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    if fault:
        env[FAULT_ENV] = fault
    argv = [sys.executable, "-m", "tests.worker.exactly_once_driver", str(state), str(port), now]
    if resend_unknown:
        argv.append("--resend-unknown")
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 137), done.stderr
    return done.returncode, json.loads(done.stdout) if done.returncode == 0 else None


def _ledger(state: Path) -> list[ledger.LedgerEntry]:
    with open_store(state / "state.sqlite3") as store:
        return ledger.entries(store, "work")


def _message_ids(sink: Sink) -> list[str]:
    return [str(email.message_from_bytes(m, policy=email.policy.default)["Message-ID"]).strip()
            for m in sink.messages]


# step, resend_unknown, arrived after the crash, rerun's report, arrived in the end
CASES = [
    ("after_render", False, 0, "sent", 1),
    ("after_claim", False, 0, "unknown", 0),
    ("after_claim", True, 0, "sent", 1),
    ("after_data", False, 1, "unknown", 1),
    ("after_data", True, 1, "sent", 2),
    ("before_mark_sent", False, 1, "unknown", 1),
    ("before_mark_sent", True, 1, "sent", 2),
]


@pytest.mark.parametrize(("step", "resend_unknown", "after_crash", "rerun_state", "in_the_end"),
                         CASES, ids=[f"{c[0]}{'-resend' if c[1] else ''}" for c in CASES])
def test_a_crash_at_any_step_never_yields_two_different_digests_nor_a_silent_loss(
    tmp_path, step, resend_unknown, after_crash, rerun_state, in_the_end
):
    with smtp_server(Sink()) as (sink, port):
        code, _ = _run(tmp_path, port, fault=step, resend_unknown=resend_unknown)
        assert code == 137
        assert len(sink.messages) == after_crash
        stored = _ledger(tmp_path)
        assert len(stored) == 1  # the digest was fixed once, before anything was sent

        _, report = _run(tmp_path, port, resend_unknown=resend_unknown)
        assert report["state"] == rerun_state
        assert report["period"] == "2026-W48"
        if rerun_state == "unknown":  # reported, with what to do about it
            assert "may or may not have arrived" in report["reason"]
            assert "--force" in report["reason"]

        _, third = _run(tmp_path, port, resend_unknown=resend_unknown)
        assert third["state"] in {"already_sent", "held"}

        assert len(sink.messages) == in_the_end
        # Every copy is the stored digest itself: same bytes, same Message-ID.
        assert set(sink.messages) <= {stored[0].message}
        assert set(_message_ids(sink)) <= {stored[0].message_id}
        final = _ledger(tmp_path)
        assert [e.state.value for e in final] == ["sent" if rerun_state == "sent" else "unknown"]


def test_every_fault_step_is_exercised():
    assert {c[0] for c in CASES} == set(STEPS)


def test_an_interrupted_earlier_period_is_reported_in_the_next_weeks_run(tmp_path):
    with smtp_server(Sink()) as (sink, port):
        _run(tmp_path, port, fault="after_claim")
        _, report = _run(tmp_path, port, now="2026-11-30T08:00:00+01:00")
    assert report["state"] == "sent"
    assert report["period"] == "2026-W49"
    assert len(report["notices"]) == 1
    assert "2026-W48" in report["notices"][0] and "unknown" in report["notices"][0]
    assert len(sink.messages) == 1
