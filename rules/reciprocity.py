"""The reciprocity ledger: who reaches out, who answers.

Initiating is organizing a meeting or writing the first message of a thread
(``[reciprocity]`` says which count). "You owe Lee one" when Lee initiated at
least ``min_difference`` more times than you and at least ``min_ratio`` times
as often; "Lee owes you" the other way round.
"""

from __future__ import annotations

from peerpulse.rules.ruleset import RuleSet


def balance(initiated_by_me: int, initiated_by_them: int, rules: RuleSet) -> str | None:
    """"you_owe", "owes_you" or None (balanced, or too little to say)."""
    model = rules.model.reciprocity
    if _tilted(initiated_by_them, initiated_by_me, model.min_difference, model.min_ratio):
        return "you_owe"
    if _tilted(initiated_by_me, initiated_by_them, model.min_difference, model.min_ratio):
        return "owes_you"
    return None


def _tilted(more: int, less: int, min_difference: int, min_ratio: float) -> bool:
    if more - less < min_difference:
        return False
    return less == 0 or more / less >= min_ratio
