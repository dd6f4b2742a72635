"""The reciprocity ledger: who reaches out, who answers.

Initiating is organizing a meeting or writing the first message of a thread
(``[reciprocity]`` says which count). "You owe Lee one" when Lee initiated at
least ``min_difference`` more times than you and at least ``min_ratio`` times
as often; "Lee owes you" the other way round.
"""

from __future__ import annotations

from enum import StrEnum

from peerpulse.rules.ruleset import RuleSet


class Balance(StrEnum):
    """Which way a one-sided relationship tilts (the direction of a reciprocity entry).

    String-valued, so stored digests and their JSON keep ``"you_owe"``/``"owes_you"``.
    """

    YOU_OWE = "you_owe"  # they reached out more: your turn
    OWES_YOU = "owes_you"  # you reached out more


def balance(initiated_by_me: int, initiated_by_them: int, rules: RuleSet) -> Balance | None:
    """Which way the initiations tilt, or None (balanced, or too little to say)."""
    model = rules.model.reciprocity
    if _tilted(initiated_by_them, initiated_by_me, model.min_difference, model.min_ratio):
        return Balance.YOU_OWE
    if _tilted(initiated_by_me, initiated_by_them, model.min_difference, model.min_ratio):
        return Balance.OWES_YOU
    return None


def _tilted(more: int, less: int, min_difference: int, min_ratio: float) -> bool:
    if more - less < min_difference:
        return False
    return less == 0 or more / less >= min_ratio
