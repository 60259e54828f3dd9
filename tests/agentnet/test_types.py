import pytest

from agentnet.errors import ConfigError
from agentnet.types import Completion, GenerationSettings, Usage


def test_usage_adds_up() -> None:
    total = Usage(3, 4) + Usage(10, 1)
    assert (total.prompt_tokens, total.completion_tokens, total.total_tokens) == (13, 5, 18)


@pytest.mark.parametrize(
    "kwargs, word",
    [({"temperature": 3.0}, "temperature=3.0"), ({"max_tokens": 0}, "max_tokens=0"), ({"top_p": 0}, "top_p=0")],
)
def test_settings_reject_bad_values_by_name(kwargs: dict, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        GenerationSettings(**kwargs)


def test_completion_serialises() -> None:
    c = Completion("hi", "stop", Usage(1, 2), 0.5, model="m")
    assert c.to_dict()["usage"] == {"prompt_tokens": 1, "completion_tokens": 2}
    assert GenerationSettings().with_(max_tokens=5).max_tokens == 5
