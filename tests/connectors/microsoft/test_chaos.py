"""The Microsoft connectors under the fakes' fault modes (issue 10): nothing lost or doubled.

The short version of ``make chaos-microsoft`` (benchmarks/microsoft_chaos.py): a small
mailbox and calendar synced through Graph (and through EWS) fault-free and at a 20%
fault rate, the stores compared row by row and the connector state's positions too.
"""

from __future__ import annotations

import pytest

from benchmarks.microsoft_chaos import graph_chaos
from benchmarks.microsoft_chaos_ews import ews_chaos
from tests.connectors.microsoft.fake_graph import GRAPH_FAULTS, Faults, fault_kinds


@pytest.fixture(autouse=True)
def _fresh_exchangelib():
    yield
    import exchangelib

    exchangelib.close_connections()


def test_faults_are_seeded_and_deterministic():
    first, second = Faults(0.2, seed=4), Faults(0.2, seed=4)
    keys = [f"GET /graph/v1.0/me/mailFolders/inbox/messages/delta?$skiptoken=s{n}"
            for n in range(400)] * 2
    drawn = [first.draw(key, fault_kinds(key.split(" ", 1)[1])) for key in keys]
    assert drawn == [second.draw(key, fault_kinds(key.split(" ", 1)[1])) for key in keys]
    assert 0.15 < sum(kind is not None for kind in drawn) / len(drawn) < 0.25
    assert drawn[:400] != drawn[400:]  # a retry of the same request meets a fresh draw
    assert "expired_sync" not in drawn  # only where a delta token is sent
    assert "expired_sync" in fault_kinds("/graph/v1.0/me/calendarView/delta?$deltatoken=d1")
    assert fault_kinds("/login/organizations/v2.0/.well-known/openid-configuration") == ()


def test_a_short_graph_chaos_run_loses_and_duplicates_nothing():
    clean, faulty, compared = graph_chaos(
        400, 40, 0.2, seed=8, client_timeout=1.0, hold=1.2, retry_after=0.1, delay=0.05
    )
    # The seed meets most kinds of fault (throttling, 5xx, timeouts, resets, truncated
    # bodies, access tokens expiring mid-run, an expired delta token, a sign-in fault).
    met = set(faulty.faults)
    assert len(met) >= 5 and met <= set(GRAPH_FAULTS) | {f"sign-in {k}" for k in GRAPH_FAULTS}
    assert sum(faulty.faults.values()) >= 8, faulty.faults
    assert faulty.runs == [1, 1, 1], faulty.failures  # every fault retried within the run
    assert sum(sum(rows.values()) for rows in faulty.rows.values()) > 400
    assert (compared.lost, compared.extra, compared.duplicated) == (0, 0, 0)
    assert compared.cursors_equal, (clean.cursors, faulty.cursors)
    assert compared.follow_up_ok, faulty.follow_up_calls
    assert compared.http_ratio > 1


def test_a_short_ews_chaos_run_loses_and_duplicates_nothing():
    clean, faulty, compared = ews_chaos(120, 30, 0.2, seed=1, back_off_ms=10)
    assert sum(faulty.faults.values()) >= 5, faulty.faults
    assert faulty.runs == [1, 1, 1], faulty.failures
    assert (compared.lost, compared.extra, compared.duplicated) == (0, 0, 0)
    assert compared.cursors_equal and compared.follow_up_ok
