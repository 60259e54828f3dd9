"""Which models a command serves: every model the topology's agents name — a `--team`'s, or the
agents a learned model file or graph file brings (a run of a learned mixed team once served only
the command's one model, and its 1.5B agent ran on the 0.5B, priced as the 1.5B)."""

from __future__ import annotations

import pytest

from agentnet.agents import AgentSpec
from agentnet.assembly.models import team_demands
from agentnet.assembly.server import ClientConfig
from agentnet.assembly.team import team_for
from agentnet.configs import TeamConfig
from agentnet.errors import ConfigError
from agentnet.graph import CommGraph, Decision
from agentnet.serving import ServeConfig
from agentnet.testing import ScriptedBackend

MIXED = CommGraph.uniform(
    [AgentSpec("cheap", "cot", model="small"), AgentSpec("strong", "cot", model="big")],
    [("cheap", "strong")],
    decision=Decision("last_agent"),
)


def test_a_topology_that_names_its_models_gets_each_served_without_a_team_option() -> None:
    demands = team_demands(MIXED, TeamConfig(), ServeConfig(model="small"), ClientConfig())
    assert demands is not None and [d.name for d in demands] == ["small", "big"]
    plain = CommGraph.uniform([AgentSpec("a", "cot"), AgentSpec("b", "cot")], decision=Decision("last_agent"))
    assert team_demands(plain, TeamConfig(), ServeConfig(model="small"), ClientConfig()) is None  # one server


def test_backends_by_model_that_miss_one_the_agents_name_are_refused() -> None:
    with pytest.raises(ConfigError, match="agents name model\\(s\\) big, which nothing serves \\(served: small\\)"):
        team_for(None, MIXED, {"small": ScriptedBackend(["x"]), "default": ScriptedBackend(["y"])})
    one = ScriptedBackend(["x", "y"])  # one backend given as such still answers for every model
    assert team_for(None, MIXED, one).run("q").answer == "y"
