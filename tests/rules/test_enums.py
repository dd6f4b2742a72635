"""Trend and reciprocity balance are enums whose stored and serialized words never changed."""

from __future__ import annotations

import json

from peerpulse.rules.coverage import Trend, trend
from peerpulse.rules.loader import load_rules
from peerpulse.rules.reciprocity import Balance, balance

RULES = load_rules([])


def test_trend_words_are_the_stored_ones() -> None:
    assert [t.value for t in Trend] == ["up", "flat", "down", "dark"]
    assert trend(0, 0, 0, RULES) is Trend.DARK
    assert trend(8, 10, 10, RULES) is Trend.UP
    assert trend(0, 5, 20, RULES) is Trend.DOWN
    assert json.dumps({"trend": trend(0, 0, 0, RULES)}) == '{"trend": "dark"}'
    assert Trend.DARK == "dark"  # a value read back from JSON still compares equal


def test_balance_words_are_the_stored_ones() -> None:
    assert balance(0, 6, RULES) is Balance.YOU_OWE
    assert balance(6, 0, RULES) is Balance.OWES_YOU
    assert balance(3, 3, RULES) is None
    assert json.dumps([Balance.YOU_OWE, Balance.OWES_YOU]) == '["you_owe", "owes_you"]'
