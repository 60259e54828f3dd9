from __future__ import annotations

from typing import get_args

from agentnet.decisions import DECISIONS, DecisionKind, decision_info
from agentnet.prompts import load_role
from agentnet.runtime.decide import DECIDERS


def test_every_registered_decision_has_a_decider_and_a_role() -> None:
    assert set(DECISIONS) == set(DECIDERS) == set(get_args(DecisionKind))
    for info in DECISIONS.values():
        assert load_role(info.role).system and info.help


def test_the_registry_says_which_decisions_call_an_llm_or_check_code() -> None:
    assert [k for k, d in DECISIONS.items() if d.llm_call] == ["final_refer", "code_writer"]
    assert [k for k, d in DECISIONS.items() if d.needs_code_check] == ["code_writer"]
    assert decision_info("code_writer").role == "code_writer"
