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


def _active(active, spatial=((), ()), temporal=((),), decide=True) -> CommGraph:
    return CommGraph(
        AGENTS[:3], tuple(spatial), tuple(temporal), Decision("final_refer"), active=tuple(active), decide=decide
    )


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: _active([(), ("a0",)]), "no agent is active in round 0; a team needs at least one agent that runs"),
        (lambda: _active([("a0",), ()]), "no agent is active in round 1; a round needs at least one"),
        (lambda: _active([("a0",)]), "active lists 1 rounds for a 2-round graph"),
        (lambda: _active([("a0", "zz"), ("a0",)]), "round 0 name unknown zz"),
        (
            lambda: _active([("a0",), ("a0",)], spatial=((("a0", "a1"),), ())),
            "spatial edge a0->a1 .round 0. touches a1, which is inactive in round 0",
        ),
        (
            lambda: _active([("a0", "a1"), ("a0",)], temporal=((("a1", "a1"),),)),
            "temporal edge a1->a1 .round 0. touches a1, which is inactive in round 1",
        ),
        (
            lambda: _active([("a0",), ("a0", "a2")], temporal=((("a2", "a0"),),)),
            "touches a2, which is inactive in round 0",
        ),
    ],
)
def test_activity_is_validated_once_with_a_clear_error(build, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()


def test_who_runs_round_trips_through_json_and_networkx() -> None:
    g = _active([("a2", "a0"), ("a1",)], spatial=((("a0", "a2"),), ()), temporal=((("a0", "a1"),),), decide=False)
    assert g.active == (("a0", "a2"), ("a1",))  # agent order
    assert CommGraph.from_json(g.to_json()) == g == CommGraph.from_networkx(g.to_networkx())
    assert g.layers(0) == [["a0"], ["a2"]] and g.layers(1) == [["a1"]]
    assert g.calls() == 3  # no decision call
    full = CommGraph.uniform(AGENTS, rounds=2)
    assert full.active == (tuple(full.names),) * 2 and full.calls() == 9
    old = full.to_dict()
    del old["active"], old["decide"]  # graphs stored before activity existed
    assert CommGraph.from_dict(old) == full


def test_the_largest_team_has_its_layers_and_no_more_agents_are_allowed() -> None:
    from agentnet.graph import MAX_AGENTS

    agents = tuple(AgentSpec(f"a{i}", "math_solver") for i in range(MAX_AGENTS))
    chain = CommGraph.uniform(agents, [(f"a{i}", f"a{i + 1}") for i in range(MAX_AGENTS - 1)])
    # (layering was cubic once: a 1000-agent chain took 17 s; the team size is capped instead)
    assert [list(layer) for layer in chain.layers(0)] == [[a.name] for a in agents]
    with pytest.raises(ConfigError, match="more than the 64 a team may have"):
        CommGraph.uniform(agents + (AgentSpec("extra", "critic"),))


def test_from_json_errors_are_config_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="invalid JSON"):
        CommGraph.from_json("{nope")
    with pytest.raises(ConfigError, match="cannot read the graph file"):
        CommGraph.load(tmp_path / "missing.json")
