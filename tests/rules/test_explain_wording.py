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


def test_last_lunch_is_said_only_of_what_may_be_a_lunch() -> None:
    from peerpulse.rules.views import recency_reason

    from tests.rules.builders import days_ago, meeting, run

    coffee = run([meeting(days_ago(40), "fin@corp.example", title="Coffee")])
    reason = recency_reason(coffee.views["fin@corp.example"])
    assert reason.startswith("Last meal or coffee was 40 days ago") and "lunch" not in reason
    one_on_one = run([meeting(days_ago(40), "fin@corp.example", title="Budget")])
    assert recency_reason(one_on_one.views["fin@corp.example"]).startswith("Last 1:1 was")
