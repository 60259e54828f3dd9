from __future__ import annotations

import pytest

from agentnet.configs import ItemsConfig, TeamConfig
from agentnet.errors import AgentNetError, ConfigError


@pytest.mark.parametrize("kwargs, message", [
    ({"agents": 0}, "agents=0 must be at least 1"),
    ({"agents": 65}, "agents=65 is more than the 64"),
    ({"rounds": 0}, "rounds=0 must be at least 1"),
    ({"roles": ("wizard",)}, "unknown role 'wizard'"),
    ({"decision": "vote"}, "unknown decision 'vote'"),
    ({"temporal": "all"}, "temporal='all'"),
    ({"topology": " "}, "topology is empty"),
    ({"max_tokens": 0}, "max_tokens=0 must be at least 1"),
    ({"temperature": 3.0}, "temperature=3.0 is out of range"),
])  # fmt: skip
def test_team_config_refuses_bad_values_naming_them(kwargs, message) -> None:
    with pytest.raises(AgentNetError, match=message):
        TeamConfig(**kwargs)


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ConfigError, match="limit=-1 is negative"):
        ItemsConfig(limit=-1)
    assert ItemsConfig(limit=0).limit == 0
