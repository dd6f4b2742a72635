"""A throwaway PostgreSQL cluster for the organization benchmarks (the tests' own
``tests/pg_cluster.py``: initdb and pg_ctl as an unprivileged user)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def local_cluster() -> Iterator[Any]:
    """A started cluster, stopped on the way out; exits with the reason when this
    machine cannot run one (a benchmark has nothing to measure without it)."""
    sys.path.insert(0, str(REPO))
    from tests.pg_cluster import Cluster, unavailable_reason

    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"no PostgreSQL: {reason}")
    cluster = Cluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()
