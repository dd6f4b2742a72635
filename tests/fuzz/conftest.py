"""Hypothesis profiles for the fuzz properties: deterministic by default.

``ci`` (the default) derandomizes every property and keeps no example database,
so a run tests the same inputs on every machine and leaves no files behind.
``HYPOTHESIS_PROFILE=explore`` searches with fresh randomness and
``PEERPULSE_FUZZ_EXAMPLES`` examples per property (default 10,000; ``make
fuzz-explore``), for a bug hunt; copy what it finds into an ``@example``.
Properties set their CI budget with ``@budget(n)`` (``budget.py``), never
``@settings(max_examples=n)``, which would cap the explore profile too.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "explore",
    derandomize=False,
    database=None,
    deadline=None,
    max_examples=int(os.environ.get("PEERPULSE_FUZZ_EXAMPLES", "10000")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
