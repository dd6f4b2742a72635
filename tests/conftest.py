"""Shared fixtures: where the public corpora live, a pinned clock, a temp store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPORA = Path(os.environ.get("PEERPULSE_CORPORA", REPO.parent / "shared" / "corpora"))


@pytest.fixture(scope="session")
def corpora() -> Path:
    """The public test corpora (read in place, never copied into the repo)."""
    if not CORPORA.is_dir():
        pytest.skip(f"public corpora not found at {CORPORA}")
    return CORPORA


@pytest.fixture
def store(tmp_path: Path):
    from peerpulse.worker.store import open_store

    with open_store(tmp_path / "state.sqlite3") as opened:
        yield opened


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL server of our own for this test session (tests/pg_cluster.py),
    started once per session (per xdist worker) and thrown away at the end."""
    from tests.pg_cluster import Cluster, unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no PostgreSQL for the tests: {reason}")
    cluster = Cluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_database(pg_cluster) -> str:
    """One database shared by the session's tests; each test takes its own schema."""
    return pg_cluster.new_database()


@pytest.fixture
def pg_url(pg_cluster, pg_database) -> str:
    """A URL whose search_path is a new, empty schema: one test's private store."""
    return pg_cluster.new_schema_url(pg_database)
