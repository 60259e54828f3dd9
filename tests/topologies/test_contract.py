"""Every topology kind keeps the core `Topology` contract (agents, decision, inference gates,
graph_for), so team assembly and the runtime read it as a type, never with getattr."""

from __future__ import annotations

from collections.abc import Callable

import pytest

torch = pytest.importorskip("torch", reason="SKIPPED LOUDLY: torch missing; install the [graph] extra")
pytest.importorskip("torch_geometric", reason="SKIPPED LOUDLY: torch-geometric missing; install the [graph] extra")

from agentnet.adversaries import AttackConfig, Attacked  # noqa: E402
from agentnet.agents import AgentSpec  # noqa: E402
from agentnet.graph import CommGraph, Decision, Topology  # noqa: E402
from agentnet.runtime import Team  # noqa: E402
from agentnet.testing import ScriptedBackend  # noqa: E402
from agentnet.topologies.cascade import RULES, Cascade  # noqa: E402
from agentnet.topologies.embeddings import HashEmbedder  # noqa: E402
from agentnet.topologies.fixed import FIXED, fixed  # noqa: E402
from agentnet.topologies.registry import LEARNED  # noqa: E402

torch.set_num_threads(1)
AGENTS = tuple(AgentSpec(f"a{i}", "math_solver") for i in range(3))
DECISION = Decision("final_refer")


def kinds() -> dict[str, Callable[[], Topology]]:
    out: dict[str, Callable[[], Topology]] = {
        f"fixed:{n}": (lambda n=n: fixed(n, AGENTS, rounds=2, decision=DECISION)) for n in FIXED
    }
    out |= {f"cascade:{r}": (lambda r=r: Cascade(AGENTS, DECISION, r)) for r in RULES}
    out |= {
        k: (lambda k=k: LEARNED[k].model_class()(AGENTS, 2, DECISION, LEARNED[k].config_class(), HashEmbedder(16)))
        for k in LEARNED
    }
    out["attacked"] = lambda: Attacked(Cascade(AGENTS, DECISION), AttackConfig(adversaries=1))
    return out


@pytest.mark.parametrize("kind", sorted(kinds()))
def test_every_topology_kind_declares_agents_decision_and_gates(kind: str) -> None:
    topology = kinds()[kind]()
    assert isinstance(topology, Topology)
    names = [a.name for a in topology.agents]
    assert names == ["a0", "a1", "a2"][: len(names)] and names and topology.decision.kind == "final_refer"
    for gate in (topology.inference_gate, topology.inference_stop_gate):
        assert gate is None or callable(gate)
    graph = topology.graph_for("what is 2+2?")
    assert isinstance(graph, CommGraph) and set(graph.names) <= set(names)


def test_a_fixed_graph_is_its_own_topology_without_gates() -> None:
    graph = fixed("chain", AGENTS, rounds=1, decision=Decision("last_agent"))
    assert graph.graph_for("anything") is graph and (graph.inference_gate, graph.inference_stop_gate) == (None, None)
    team = Team(graph, ScriptedBackend(["The answer is 4"], cycle=True))
    assert team.topology is graph and team.run("2+2?").answer == "The answer is 4"
