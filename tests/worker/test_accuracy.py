"""Inference against the demo generator's ground truth: the product's core promise.

A real demo organization goes through the real files connector, the real store
and the default rules; precision and recall on the focal manager's peer
interactions must be at least 0.99 and no trap record may leak.
"""

from __future__ import annotations

from datetime import date

import pytest
from peerpulse.worker.demo import generate

from benchmarks.accuracy import measure


@pytest.fixture(scope="module", params=[(7, date(2026, 11, 20)), (23, date(2026, 3, 31))],
                ids=["seed7-november", "seed23-across-dst"])
def report(request, tmp_path_factory):
    seed, end = request.param
    tmp = tmp_path_factory.mktemp(f"accuracy-{seed}")
    generate(tmp / "demo", seed=seed, managers=40, months=6, end=end)
    return measure(tmp / "demo", tmp)


def test_precision_is_at_least_99_percent(report):
    assert report.precision >= 0.99, report.summary()


def test_recall_is_at_least_99_percent(report):
    assert report.recall >= 0.99, report.summary()


def test_no_trap_record_leaks_into_an_interaction(report):
    assert report.leaked_traps == [], report.summary()


def test_aliases_never_appear_as_separate_people(report):
    assert report.unknown_people == [], report.summary()


def test_the_demo_is_big_enough_for_the_figures_to_mean_something(report):
    assert report.truth > 500
