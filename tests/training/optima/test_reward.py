import pytest

from agentnet.errors import ConfigError
from agentnet.training.optima.reward import (
    RewardConfig,
    conversation_reward,
    conversation_tokens,
    readability,
    reward,
    speaks_for_others,
)
from tests.training.optima.conftest import conversation

CONFIG = RewardConfig(lambda_tokens=-0.5, lambda_read=0.6, token_cap=500, tag_penalty=-10.0)


def test_reward_adds_score_token_cost_and_readability():
    # 1 + (-0.5 * 100 / 200) + 0.6 * (1 / 2.0) = 1 - 0.25 + 0.3
    r = reward(1.0, 100, 200, [1.0, 2.0, 1.5], False, CONFIG)
    assert r.total == pytest.approx(1.05)
    assert r.token_term == pytest.approx(-0.25)
    assert r.readability == pytest.approx(0.5)
    assert r.penalty == 0.0


def test_over_the_token_cap_readability_is_minus_one():
    r = reward(0.0, 600, 600, [1.0], False, CONFIG)
    assert r.readability == -1.0
    assert r.total == pytest.approx(-0.5 - 0.6)
    assert readability([], 10, 500) == 0.0


def test_speaking_for_another_agent_costs_the_tag_penalty():
    assert speaks_for_others("Alice", "I know Ann.\nBob: Great, then it is Lyon.", ["Alice", "Bob"])
    assert speaks_for_others("Alice", "**Bob:** sure", ["Alice", "Bob"])
    assert not speaks_for_others("Alice", "Bob, where does Dan work?", ["Alice", "Bob"])
    assert not speaks_for_others("Alice", "Alice: I know Ann.", ["Alice", "Bob"])
    r = reward(1.0, 0, 10, [1.0], True, CONFIG)
    assert r.total == pytest.approx(1.0 + 0.6 - 10.0)


def test_conversation_reward_reads_turns_and_asks_the_nll_of_each_message():
    conv = conversation(("a0", "Ann lives where Dan works.", 30), ("a1", "Dan works in Oslo. <A>Oslo</A>", 50))
    asked = []

    def nll(prompt, text):
        asked.append(text)
        return {"Ann lives where Dan works.": 2.0, "Dan works in Oslo. <A>Oslo</A>": 4.0}[text]

    r = conversation_reward(conv, 1.0, 160, nll, CONFIG, {"a0": "Alice", "a1": "Bob"})
    assert conversation_tokens(conv) == 80
    # 1 - 0.5 * 80/160 + 0.6 * 1/4
    assert r.total == pytest.approx(0.9)
    assert len(asked) == 2


def test_a_negative_token_reward_is_refused():
    with pytest.raises(ConfigError, match="lambda_tokens=0.5"):
        RewardConfig(lambda_tokens=0.5)
