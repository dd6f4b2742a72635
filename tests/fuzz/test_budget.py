"""The explore profile is never capped by a property's CI budget (issue 10, item 10)."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import settings

from tests.fuzz.budget import budget

FUZZ = Path(__file__).resolve().parent


def test_no_property_caps_its_examples_with_a_plain_settings_decorator():
    capped = [
        f"{path.name}:{n}"
        for path in sorted(FUZZ.glob("test_*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"@(hypothesis\.)?settings\([^)]*max_examples", line)
    ]
    assert capped == [], "use @budget(n) so the explore profile wins: " + ", ".join(capped)


def test_the_ci_profile_keeps_the_budget_and_explore_overrides_it(monkeypatch):
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "ci")
    assert budget(300).max_examples == 300
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "explore")
    loaded = settings._current_profile  # restored below: profiles are process-global
    settings.load_profile("explore")
    try:
        assert budget(300).max_examples == settings.get_profile("explore").max_examples
        assert budget(300).max_examples >= 10_000
    finally:
        settings.load_profile(loaded or "ci")
