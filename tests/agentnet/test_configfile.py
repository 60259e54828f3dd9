"""config_from_data: configs built from parsed files the one way (nested configs, lists as tuples,
unknown keys refused or dropped), then checked by their own __post_init__."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from agentnet.configfile import config_from_data, convert, settings_of, Setting
from agentnet.configs import TeamConfig
from agentnet.errors import ConfigError
from agentnet.store import RunConfig


def test_nested_configs_and_lists_are_built() -> None:
    data = {
        "task": "gsm8k",
        "limit": 3,
        "team": {"roles": ["math_solver", "inspector"], "agents": 2, "attack": {"adversaries": 1}},
    }
    config = config_from_data(RunConfig, data, "run.yaml")
    assert config.limit == 3 and config.team.roles == ("math_solver", "inspector")
    assert config.team.attack.adversaries == 1 and config.team.rounds == 1  # the rest keep their defaults
    assert config_from_data(RunConfig, json.loads(json.dumps(asdict(config))), "x") == config  # asdict round trip


@pytest.mark.parametrize(
    "data, message",
    [
        ({"agnets": 2}, "run.yaml: unknown setting 'agnets'; known: agents, attack"),
        ({"agents": "2"}, "agents='2' is not a whole number"),
        ({"attack": {"adversaries": 1.5}}, "adversaries=1.5 is not a whole number"),
        ({"attack": {"spies": 1}}, "run.yaml: attack: unknown setting 'spies'"),
    ],
)
def test_a_bad_document_is_one_config_error(data, message) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_data(TeamConfig, data, "run.yaml")


def test_a_stored_run_from_another_version_loads() -> None:
    """Runs stored before the team had its own config kept its fields at the top level, before
    adversaries had no attack, and a setting a newer version added is dropped."""
    old = {
        "task": "gsm8k",
        "split": "test",
        "topology": "star",
        "agents": 4,
        "roles": ["math_solver"],
        "engine": "llama-server",
        "model": "m",
        "added_later": True,
    }
    config = RunConfig.from_json(json.dumps(old))
    assert (config.topology, config.team.agents, config.team.roles, config.model) == ("star", 4, ("math_solver",), "m")
    assert config.team.attack.adversaries == 0
    assert RunConfig.from_json(config.to_json()) == config


def test_settings_flatten_like_the_cli_and_convert_checks_like_it() -> None:
    settings = settings_of(RunConfig(task="gsm8k", team=TeamConfig(roles=("cot",), logprobs=False)))
    assert settings["roles"] == ["cot"] and settings["logprobs"] is False and "team" in settings  # --team's spec
    assert "attack" not in settings and settings["adversaries"] == 0  # nested configs flattened
    with pytest.raises(ConfigError, match=r"^f.yaml: rounds=0 is out of range: it must be at least 1 and at most 100$"):
        convert("f.yaml: rounds", 0, Setting("int", limits=(("ge", 1), ("le", 100))))
    assert convert("f.yaml: temperature", 1, Setting("float")) == 1.0 and convert("f: x", 7, Setting("str")) == "7"
