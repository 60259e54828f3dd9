import pytest

from agentnet.errors import ConfigError
from agentnet.training.optima.reward import Reward
from agentnet.training.optima.select import Sample, select_sft, sft_rows
from tests.training.optima.conftest import conversation


def sample(item: str, total: float, text: str = "hi") -> Sample:
    return Sample(item, conversation(("a0", text, 1)), 1.0, reward=Reward(total, 1.0, 1, 0.0, 0.0, 0.0))


def test_isft_keeps_each_items_best_above_the_threshold_then_the_top_fraction():
    samples = [
        sample("x", 0.9),
        sample("x", 1.4),  # best 1.4
        sample("y", 0.5),
        sample("y", 0.55),  # best below 0.6: dropped
        sample("z", 0.7),
        sample("w", 1.1),
    ]
    kept = select_sft(samples, threshold=0.6, top_fraction=0.7)
    # 3 items pass (1.4, 1.1, 0.7); ceil(0.7 * 3) = 3
    assert [s.total for s in kept] == [1.4, 1.1, 0.7]
    assert [s.total for s in select_sft(samples, 0.6, 0.5)] == [1.4, 1.1]
    assert select_sft(samples, threshold=2.0, top_fraction=1.0) == []
    with pytest.raises(ConfigError):
        select_sft(samples, 0.6, 0.0)


def test_rows_have_one_completion_per_turn_and_the_agents_own_system_prompt():
    s = Sample("x", conversation(("a0", "facts: Ann", 2), ("a1", "<A>Lyon</A>", 1)), 1.0, format="json")
    rows = sft_rows([s], {"a0": "You are Alice.", "a1": "You are Bob."})
    assert len(rows) == 2
    assert rows[0]["prompt"][0] == {"role": "system", "content": "You are Alice."}
    assert rows[0]["prompt"][1] == {"role": "user", "content": "turn 0"}
    assert rows[1]["completion"] == [{"role": "assistant", "content": "<A>Lyon</A>"}]


def test_samples_round_trip_through_json():
    s = sample("x", 0.8)
    assert Sample.from_dict(s.to_dict()) == s
