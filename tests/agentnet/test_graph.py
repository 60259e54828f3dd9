from __future__ import annotations

import pytest

from agentnet.agents import AgentSpec
from agentnet.errors import ConfigError
from agentnet.graph import CommGraph, Decision

AGENTS = tuple(AgentSpec(f"a{i}", "math_solver") for i in range(4))


def test_cycle_within_a_round_is_rejected_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"round 0 form a cycle a1 -> a2 -> a3 -> a1"):
        CommGraph.uniform(AGENTS, [("a0", "a1"), ("a1", "a2"), ("a2", "a3"), ("a3", "a1")])


def test_cycles_across_rounds_are_fine() -> None:
    g = CommGraph.uniform(AGENTS, [("a0", "a1")], [("a1", "a0"), ("a0", "a0")], rounds=3)
    assert g.rounds == 3 and g.temporal_preds("a0", 1) == ["a0", "a1"] and g.temporal_preds("a0", 0) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"spatial": [("a0", "zz")]}, "unknown agent 'zz'"),
        ({"rounds": 0}, "rounds=0"),
    ],
)
def test_bad_graphs_are_config_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CommGraph.uniform(AGENTS, **kwargs)


def test_duplicate_names_and_round_count() -> None:
    with pytest.raises(ConfigError, match="repeated: a0"):
        CommGraph.uniform([AgentSpec("a0", "critic"), AgentSpec("a0", "critic")])
    with pytest.raises(ConfigError, match="2 rounds need 1 temporal edge sets, got 0"):
        CommGraph(AGENTS, ((), ()), ())


def test_layers_follow_spatial_order() -> None:
    g = CommGraph.uniform(AGENTS, [("a0", "a2"), ("a1", "a2"), ("a2", "a3")])
    assert g.layers(0) == [["a0", "a1"], ["a2"], ["a3"]]
    assert g.spatial_preds("a2", 0) == ["a0", "a1"]


def test_edges_are_canonical_so_equal_graphs_are_equal() -> None:
    g1 = CommGraph.uniform(AGENTS, [("a1", "a2"), ("a0", "a1"), ("a0", "a1")])
    g2 = CommGraph.uniform(AGENTS, [("a0", "a1"), ("a1", "a2")])
    assert g1 == g2 and hash(g1) == hash(g2) and g1.edge_count() == 2


def test_json_and_networkx_round_trips() -> None:
    g = CommGraph(
        AGENTS,
        ((("a0", "a1"),), (("a2", "a3"), ("a0", "a3"))),
        ((("a1", "a1"), ("a3", "a0")),),
        Decision("majority_vote"),
    )
    assert CommGraph.from_json(g.to_json()) == g
    nxg = g.to_networkx()
    assert nxg.number_of_edges() == 5 and nxg.nodes["a0"]["spec"]["role"] == "math_solver"
    assert CommGraph.from_networkx(nxg) == g


def test_not_a_graph_document() -> None:
    with pytest.raises(ConfigError, match="not a CommGraph document"):
        CommGraph.from_dict({"nodes": []})


def test_unknown_decision() -> None:
    with pytest.raises(ConfigError, match="unknown decision 'vote'"):
        Decision("vote")  # type: ignore[arg-type]
