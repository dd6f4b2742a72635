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
