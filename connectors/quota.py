"""A provider's per-project quota, shared by every account (and every process) of it.

Why here and not in a provider: the worker decides *where* the shared count
lives (a row in the organization's database, worker/store/project_quota.py)
and must not name a provider; a provider decides *what* it spends (units per
request). This module is the meeting point: the worker installs a factory, a
connector asks for the limiter of its project.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol


class ProjectLimiter(Protocol):
    """``acquire`` blocks until ``units`` may be spent; returns the seconds it waited."""

    def acquire(self, units: float) -> float: ...


ProjectLimiterFactory = Callable[[str, float], ProjectLimiter]
_LOCK = threading.Lock()
_FACTORY: ProjectLimiterFactory | None = None


def set_project_limiter_factory(factory: ProjectLimiterFactory | None) -> None:
    """Where project limiters come from: ``factory(project, units_per_minute)``; None
    means each provider paces its projects in the process (right for one process)."""
    global _FACTORY
    with _LOCK:
        _FACTORY = factory


def project_limiter_factory() -> ProjectLimiterFactory | None:
    with _LOCK:
        return _FACTORY
