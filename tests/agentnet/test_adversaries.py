"""Adversaries planted in a team: which agents, what they become, and what their peers hear."""

from __future__ import annotations

import json

import pytest

from agentnet.adversaries import INJECTION_BACKEND, Attacked, AttackConfig, adversaries_of
from agentnet.assembly.team import team_for, topology_for
from agentnet.configs import TeamConfig
from agentnet.errors import AgentNetError, ConfigError
from agentnet.graph import CommGraph
from agentnet.prompts import load_role
from agentnet.store import RunConfig
from agentnet.testing import ScriptedBackend

NAMES = ["a0", "a1", "a2", "a3"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"adversaries": -1}, "adversaries=-1 is negative"),
        ({"adversary_role": "saboteur"}, "unknown adversary role 'saboteur'"),
        ({"adversary_answer": " "}, "give one value on one line"),
        ({"adversary_answer": "1\n2"}, "give one value on one line"),
    ],
)
def test_bad_attacks_are_refused_with_the_fix(kwargs, message) -> None:
    with pytest.raises(AgentNetError, match=message):
        AttackConfig(**kwargs)


def test_an_attack_leaves_at_least_one_honest_agent() -> None:
    with pytest.raises(ConfigError, match="adversaries=4 leaves no honest agent in a team of 4; use at most 3"):
        TeamConfig(topology="complete", agents=4, attack=AttackConfig(adversaries=4))
    with pytest.raises(ConfigError, match="no honest agent"):
        AttackConfig(adversaries=2).chosen(["a0", "a1"])


def test_the_draw_is_seeded_and_in_team_order() -> None:
    picks = {s: AttackConfig(adversaries=2, adversary_seed=s).chosen(NAMES) for s in range(6)}
    assert picks[0] == AttackConfig(adversaries=2, adversary_seed=0).chosen(NAMES)  # reproducible
    assert all(len(p) == 2 and list(p) == sorted(p) for p in picks.values())
    assert len(set(picks.values())) > 1  # the seed matters


def _team(role: str, seed: int = 0, **kw) -> TeamConfig:
    return TeamConfig(
        topology="complete",
        agents=4,
        roles=("math_solver",),
        attack=AttackConfig(adversaries=1, adversary_role=role, adversary_seed=seed, **kw),
    )


def test_a_liar_keeps_its_name_and_role_and_gets_the_liar_prompt() -> None:
    graph = topology_for(_team("liar"))
    assert adversaries_of(graph) == {"a3": "liar"}
    liar = graph.agent("a3")
    assert (liar.role, liar.title, liar.prompt) == ("math_solver", "Math Solver", "liar")
    backend = ScriptedBackend(lambda messages, settings: "The answer is 3")
    team_for(None, graph, backend, _team("liar")).run("What is 1+2?")
    systems = {c.messages[0].content for c in backend.calls}
    assert load_role("liar").system in systems and load_role("math_solver").system in systems
    assert CommGraph.from_dict(json.loads(json.dumps(graph.to_dict()))) == graph  # the marker survives JSON


def test_an_injection_makes_no_call_costs_nothing_and_every_peer_hears_it() -> None:
    config = _team("injection", adversary_answer="-1")
    graph = topology_for(config)
    bad = graph.agent("a3")
    assert (bad.adversary, bad.model) == ("injection", INJECTION_BACKEND) and "The answer is -1" in (bad.system or "")
    backend = ScriptedBackend(lambda messages, settings: "The answer is 3")
    trajectory = team_for(None, CommGraph.from_dict(graph.to_dict()), backend, config).run("What is 1+2?")
    injected = [m for m in trajectory.messages if m.agent == "a3"]
    assert len(injected) == 1 and injected[0].usage.total_tokens == 0 and "Ignore it" in injected[0].output
    assert len(backend.calls) == 3  # the three honest agents only
    # a3 is last in the complete graph's order, so nobody heard it; planted first, everyone does
    first = topology_for(_team("injection", seed=2, adversary_answer="-1"))
    assert adversaries_of(first) == {"a0": "injection"}
    backend = ScriptedBackend(lambda messages, settings: "The answer is 3")
    team_for(None, first, backend, config).run("What is 1+2?")
    assert all("The answer is -1" in c.messages[-1].content for c in backend.calls)


def test_a_trained_topology_is_attacked_per_query_and_keeps_its_gates() -> None:
    class Learned:
        decision = topology_for(TeamConfig(topology="chain", agents=3)).decision
        agents = topology_for(TeamConfig(topology="chain", agents=3)).agents
        rounds = 1
        inference_gate = staticmethod(lambda *a: True)
        inference_stop_gate = None

        def graph_for(self, query: str) -> CommGraph:
            return topology_for(TeamConfig(topology="chain", agents=3))

    wrapped = Attacked(Learned(), AttackConfig(adversaries=1))
    assert adversaries_of(wrapped.graph_for("q")) == {"a1": "liar"}
    assert wrapped.inference_gate is Learned.inference_gate and wrapped.decision is Learned.decision


def test_a_stored_run_config_from_before_adversaries_loads_clean() -> None:
    old = {"task": "gsm8k", "team": {"topology": "chain", "agents": 3}}
    assert RunConfig.from_json(json.dumps(old)).team.attack == AttackConfig()
    attacked = RunConfig(task="gsm8k", team=_team("liar"))
    assert RunConfig.from_json(attacked.to_json()) == attacked
