from __future__ import annotations

import dataclasses
import typing

import pytest

from agentnet.checks import kind_of
from agentnet.configs import ItemsConfig, TeamConfig
from agentnet.errors import AgentNetError, ConfigError


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"agents": 0}, "agents=0 is out of range: it must be at least 1 and at most 64"),
        ({"agents": 65}, "agents=65 is out of range: it must be at least 1 and at most 64"),
        ({"rounds": 0}, "rounds=0 is out of range: it must be at least 1 and at most 100"),
        ({"roles": ("wizard",)}, "unknown role 'wizard'"),
        ({"decision": "vote"}, "unknown decision 'vote'"),
        ({"temporal": "all"}, "temporal='all'"),
        ({"topology": " "}, "topology is empty"),
        ({"max_tokens": 0}, "max_tokens=0 is out of range: it must be at least 1 and at most 1,000,000"),
        ({"temperature": 3.0}, "temperature=3.0 is out of range"),
    ],
)
def test_team_config_refuses_bad_values_naming_them(kwargs, message) -> None:
    with pytest.raises(AgentNetError, match=message):
        TeamConfig(**kwargs)


def _config_classes() -> list[type]:
    """Every config dataclass the CLI builds (the modules `agentnet.cli` imports, lazily loaded ones included)."""
    import sys

    import agentnet.cli  # noqa: F401 - loads every command's configs
    import agentnet.training.optima.reward  # noqa: F401
    import agentnet.training.trace.session  # noqa: F401

    found = {
        v
        for name, mod in list(sys.modules.items())
        if name.startswith("agentnet")
        for v in vars(mod).values()
        if isinstance(v, type)
        and dataclasses.is_dataclass(v)
        and v.__name__.endswith("Config")
        and v.__module__ == name
    }
    return sorted(found, key=lambda c: c.__name__)


WRONG = {"int": "3", "float": "0.5", "bool": "yes", "str": 3}  # each the right value in the wrong type


def test_every_config_refuses_a_wrong_type_in_one_line_naming_the_field() -> None:
    """One validator for all configs: `check_fields` reads each field's type and metadata first."""
    classes = _config_classes()
    assert {
        "TeamConfig",
        "RunConfig",
        "ServeConfig",
        "ClientConfig",
        "TaskConfig",
        "GDesignerConfig",
        "OptimaConfig",
        "TraceConfig",
        "EndpointConfig",
        "AttackConfig",
    } <= {c.__name__ for c in classes}
    checked = 0
    for cls in classes:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            kind, _ = kind_of(hints[f.name])
            if not f.init or kind is None:
                continue
            with pytest.raises(ConfigError, match=f"^{f.name}="):
                cls(**{f.name: WRONG[kind]})
            checked += 1
    assert checked >= 100


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ConfigError, match="limit=-1 is negative"):
        ItemsConfig(limit=-1)
    assert ItemsConfig(limit=0).limit == 0
