"""The Google connector under the fake's fault mode (issue 10): nothing lost, nothing doubled.

The short version of ``make chaos-google`` (benchmarks/google_chaos.py): a small
mailbox and calendar synced fault-free and at a 20% fault rate, the stores
compared row by row.
"""

from __future__ import annotations

import http.client
from collections import Counter

from peerpulse.connectors.google.pacing import is_retryable

from benchmarks.google_chaos import Scenario, chaos, compare
from tests.connectors.google.fake_google import REQUEST_FAULTS, Faults, fault_kinds


def test_a_truncated_body_is_retried_like_a_dropped_connection():
    # Seen in the chaos run: a response cut short (Content-Length not reached) raised
    # http.client.IncompleteRead out of httplib2, which ended the whole run.
    assert is_retryable(http.client.IncompleteRead(b'{"messa', 40))
    assert is_retryable(http.client.RemoteDisconnected("Remote end closed connection"))


def test_faults_are_seeded_and_deterministic():
    first, second = Faults(0.2, seed=4), Faults(0.2, seed=4)
    keys = [f"GET /gmail/v1/users/me/messages?pageToken={n}" for n in range(400)] * 2
    drawn = [first.draw(key, fault_kinds(key)) for key in keys]
    assert drawn == [second.draw(key, fault_kinds(key)) for key in keys]
    share = sum(kind is not None for kind in drawn) / len(drawn)
    assert 0.15 < share < 0.25
    assert drawn[:400] != drawn[400:]  # a retry of the same request meets a fresh draw
    assert "expired_sync" not in drawn  # only where a sync token is sent


def test_a_short_chaos_run_loses_and_duplicates_nothing():
    clean, faulty, compared = chaos(
        400, 40, 0.2, seed=3, client_timeout=1.0, hold=1.2, retry_after=0.1, delay=0.02
    )
    # Seed 3 meets every kind of fault at least once (read timeouts, resets, a truncated
    # body, expired access and sync tokens among them), about 55 in all.
    assert set(faulty.faults) == set(REQUEST_FAULTS), faulty.faults
    assert sum(faulty.faults.values()) >= 20, faulty.faults
    assert faulty.runs == [1, 1], faulty.failures  # every fault retried within the run
    assert sum(sum(rows.values()) for rows in faulty.rows.values()) > 400  # mail and events
    assert (compared.lost, compared.extra, compared.duplicated) == (0, 0, 0)
    assert compared.cursors_equal, (clean.cursors, faulty.cursors)
    assert compared.follow_up_ok, faulty.follow_up_calls
    assert compared.http_ratio > 1  # the faults cost requests, and the figure shows it


def test_the_comparison_counts_lost_extra_and_duplicated_rows():
    clean = Scenario(rows={"messages": Counter({("a",): 1, ("b",): 1}), "events": Counter()})
    faulty = Scenario(rows={"messages": Counter({("a",): 2, ("c",): 1}), "events": Counter()})
    faulty.cursors = {"gmail": {"history": "9"}}
    compared = compare(clean, faulty)
    assert (compared.lost, compared.extra, compared.duplicated) == (1, 2, 1)
    assert not compared.cursors_equal
