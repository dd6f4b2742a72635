"""explain's due wording: singular for one day, never '1 days' (issue 9, item 11)."""

from __future__ import annotations

import pytest
from peerpulse.rules.explain import _due


@pytest.mark.parametrize(
    ("overdue", "text"),
    [(None, "-"), (0, "due today"), (-1, "in 1 day"), (-5, "in 5 days"),
     (1, "1 day overdue"), (3, "3 days overdue")],
)
def test_due_wording(overdue: int | None, text: str) -> None:
    assert _due(overdue) == text
