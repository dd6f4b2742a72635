"""Inference against the demo generator's ground truth: the product's core promise.

A real demo organization goes through the real files connector, the real store
and the default rules; precision and recall on the focal manager's peer
interactions, and on who initiated each, must be at least 0.99 and no trap
record may leak. Each variant of the demo (worker.demo.variants) adds one trap
of issue 9, with checks of what the digest must and must not say about it.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from peerpulse.worker.demo import generate
from peerpulse.worker.demo.variants import VARIANTS

from benchmarks.accuracy import measure

CASES = [(7, date(2026, 11, 20), "standard"), (23, date(2026, 3, 31), "standard")] + [
    (7, date(2026, 11, 20), name) for name in VARIANTS if name != "standard"
]


@pytest.fixture(scope="module", params=CASES,
                ids=[f"seed{s}-{e:%b}-{v}" for s, e, v in CASES])
def report(request, tmp_path_factory):
    seed, end, variant = request.param
    tmp = tmp_path_factory.mktemp(f"accuracy-{seed}-{variant}")
    generate(tmp / "demo", seed=seed, managers=40, months=6, end=end, variant=variant)
    return measure(tmp / "demo", tmp)


def test_precision_is_at_least_99_percent(report):
    assert report.precision >= 0.99, report.summary()


def test_recall_is_at_least_99_percent(report):
    assert report.recall >= 0.99, report.summary()


def test_initiatives_are_attributed_as_the_ground_truth_says(report):
    """Series initiated once, replies (by header or by Re: subject) never initiatives."""
    assert report.initiatives.precision >= 0.99, report.summary()
    assert report.initiatives.recall >= 0.99, report.summary()


def test_the_digest_says_what_it_must_and_nothing_it_must_not(report):
    assert report.checks and report.failed_checks == [], report.summary()


def test_no_trap_record_leaks_into_an_interaction(report):
    assert report.leaked_traps == [], report.summary()


def test_aliases_never_appear_as_separate_people(report):
    assert report.unknown_people == [], report.summary()


def test_the_demo_is_big_enough_for_the_figures_to_mean_something(report):
    assert report.truth > 500
    assert report.initiatives.truth > 300


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The standard demo and the no-reply-headers one, for the files themselves."""
    tmp = tmp_path_factory.mktemp("variant-files")
    end = date(2026, 11, 20)
    return (generate(tmp / "standard", seed=7, end=end),
            generate(tmp / "bare", seed=7, end=end, variant="no_reply_headers"))


def test_variants_keep_the_standard_content_and_only_strip_headers(pair):
    standard, bare = pair
    kept = [line for line in standard.mail_path.read_text(encoding="utf-8").splitlines()
            if not line.startswith(("In-Reply-To:", "References:", "X-GM-THRID:", " <"))]
    lines = bare.mail_path.read_text(encoding="utf-8").splitlines()
    assert lines[:len(kept)] == kept  # then the variant's own threads, appended
    assert "Subject: Capacity question 1" in lines[len(kept):]
    text = bare.mail_path.read_text(encoding="utf-8")
    assert "In-Reply-To:" not in text and "X-GM-THRID:" not in text and "\nSubject: Re: " in text
    assert standard.people_path.read_bytes() == bare.people_path.read_bytes()


def test_the_no_manager_variant_writes_no_manager_column(tmp_path):
    summary = generate(tmp_path / "demo", seed=7, end=date(2026, 11, 20), variant="no_manager")
    header = summary.people_path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert "manager" not in header and "title" in header and "team_size" in header
    checks = json.loads(summary.expectations_path.read_text(encoding="utf-8"))["checks"]
    assert any(c["check"] == "chain_unknown" for c in checks)


def test_an_unknown_variant_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown demo variant 'nope'"):
        generate(tmp_path / "demo", seed=7, end=date(2026, 11, 20), variant="nope")
