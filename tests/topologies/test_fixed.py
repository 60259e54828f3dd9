import pytest

from agentnet.agents import AgentSpec
from agentnet.errors import UnknownNameError
from agentnet.topologies.fixed import FIXED, fixed

AGENTS = [AgentSpec(f"a{i}", "math_solver") for i in range(5)]


def test_shapes() -> None:
    assert fixed("chain", AGENTS).spatial[0] == (("a0", "a1"), ("a1", "a2"), ("a2", "a3"), ("a3", "a4"))
    assert set(fixed("star", AGENTS).spatial[0]) == {("a1", "a0"), ("a2", "a0"), ("a3", "a0"), ("a4", "a0")}
    assert set(fixed("tree", AGENTS).spatial[0]) == {("a1", "a0"), ("a2", "a0"), ("a3", "a1"), ("a4", "a1")}
    assert len(fixed("complete", AGENTS).spatial[0]) == 10
    assert set(fixed("layered", AGENTS, layers=[2, 3]).spatial[0]) == {
        (u, v) for u in ("a0", "a1") for v in ("a2", "a3", "a4")
    }
    single = fixed("single", AGENTS, rounds=2)
    assert single.names == ["a0"] and single.decision.kind == "last_agent"


def test_temporal_modes() -> None:
    assert fixed("chain", AGENTS, rounds=2).temporal[0] == tuple((n, n) for n in ["a0", "a1", "a2", "a3", "a4"])
    debate = fixed("debate", AGENTS, rounds=3)
    assert debate.spatial == ((), (), ()) and len(debate.temporal[1]) == 25
    assert debate.decision.kind == "majority_vote"
    assert fixed("chain", AGENTS, rounds=2, temporal="none").temporal == ((),)


def test_random_is_reproducible_and_acyclic() -> None:
    g1, g2 = fixed("random", AGENTS, p=0.5, seed=7), fixed("random", AGENTS, p=0.5, seed=7)
    assert g1 == g2
    assert fixed("random", AGENTS, p=0.0).edge_count() == 0
    assert len(fixed("random", AGENTS, p=1.0).spatial[0]) == 10


def test_unknown_topology_lists_known() -> None:
    with pytest.raises(UnknownNameError, match="unknown topology 'ring'; known: single, chain"):
        fixed("ring", AGENTS)
    assert "debate" in FIXED
