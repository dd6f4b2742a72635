"""One list of message-noise rules: the direct check and the inference hot path agree.

Inference used to repeat the triggers of ``message_noise`` in its own pre-check, so
a rule added to one silently never fired in the other.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from peerpulse.connectors.records import MessageMeta
from peerpulse.rules import noise
from peerpulse.rules.loader import load_rules
from peerpulse.rules.ruleset import RuleSet

from tests.rules.builders import ME, days_ago, mail, run

FIN = "fin@corp.example"


def _mentions_budget(message: MessageMeta, rules: RuleSet) -> noise.Verdict:
    """A throw-away rule keyed on a header no built-in rule looks at (the thread id)."""
    if message.thread_id == "budget-thread":
        return ("noise.mail.test_budget_thread", "budget thread")
    return None


def test_a_rule_added_to_the_list_is_honoured_by_both_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = replace(mail(days_ago(2), FIN, (ME,), mid="b-1@corp.example"),
                    thread_id="budget-thread")
    assert run([], [plain]).explain(FIN).counted, "counted before the rule exists"

    monkeypatch.setattr(noise, "MESSAGE_RULES", [*noise.MESSAGE_RULES,
                        noise.MessageRule(_mentions_budget, ("thread_id",))])

    assert noise.message_noise(plain, load_rules()) == (
        "noise.mail.test_budget_thread", "budget thread")
    result = run([], [plain])
    assert result.rule_counts.get("noise.mail.test_budget_thread") == 1
    explanation = result.explain(FIN)
    assert explanation.counted == ()
    assert [e.rule for e in explanation.excluded] == ["noise.mail.test_budget_thread"]


@pytest.mark.parametrize(("fields", "rule"), [
    ({"list_id": "x"}, "noise.mail.exclude_list_id"),
    ({"list_unsubscribe": "<mailto:u@x>"}, "noise.mail.exclude_list_unsubscribe"),
    ({"auto_submitted": "auto-replied"}, "noise.mail.exclude_auto_submitted"),
    ({"precedence": "bulk"}, "noise.mail.precedence"),
    ({"is_invitation": True}, "noise.mail.exclude_invitations"),
])
def test_direct_check_and_inference_attribute_the_same_rule(
    fields: dict[str, object], rule: str,
) -> None:
    message = mail(days_ago(2), FIN, (ME,), **fields)
    verdict = noise.message_noise(message, load_rules())
    assert verdict is not None and verdict[0] == rule
    assert run([], [message]).rule_counts.get(rule) == 1
