"""Per-property example budgets that never cap the explore profile (issue 10, item 10).

A plain ``@settings(max_examples=300)`` on a test overrides the loaded profile,
so ``HYPOTHESIS_PROFILE=explore`` searched no deeper than CI. ``@budget(300)``
sets 300 under the default ``ci`` profile only; under any other profile the
profile's ``max_examples`` wins (``make fuzz-explore``: 10,000 per property).
"""

from __future__ import annotations

import os

from hypothesis import settings


def profile_name() -> str:
    return os.environ.get("HYPOTHESIS_PROFILE", "ci")


def budget(ci_examples: int) -> settings:
    """``settings`` for one property: ``ci_examples`` in CI, else the profile's budget."""
    if profile_name() == "ci":
        return settings(max_examples=ci_examples)
    return settings(max_examples=max(ci_examples, settings.default.max_examples))
