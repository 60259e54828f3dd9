"""Compiled graphs: one per CommGraph, shared by every team, kept within a node budget."""

from __future__ import annotations

from agentnet.agents import AgentSpec
from agentnet.graph import CommGraph, Decision
from agentnet.rounds import Spoken
from agentnet.runtime import Team
from agentnet.runtime.compile import COMPILED, CompiledGraphs
from agentnet.testing import ScriptedBackend


def graph(n: int, rounds: int = 2, edges: tuple[tuple[str, str], ...] = ()) -> CommGraph:
    specs = [AgentSpec(f"a{i}", "math_solver") for i in range(n)]
    return CommGraph.uniform(
        specs, edges, [(a.name, a.name) for a in specs], rounds=rounds, decision=Decision("last_agent")
    )


def test_the_newest_graphs_are_kept_while_their_nodes_fit() -> None:
    cache = CompiledGraphs(max_nodes=30)
    g1, g2, g3 = graph(4), graph(4, edges=(("a0", "a1"),)), graph(4, edges=(("a1", "a2"),))
    first = cache.get(g1)
    assert len(first.nodes) == 12  # 8 agent calls, 2 round barriers, the decision, the start
    cache.get(g2)
    assert cache.get(g1) is first and len(cache) == 2 and cache.nodes == 24  # a hit: now the newest
    cache.get(g3)  # 36 nodes > 30: the least recently used (g2) goes
    assert cache.get(g1) is first and len(cache) == 2 and cache.nodes == 24
    assert cache.get(g2) is not None and len(cache) == 2  # g2 compiled again, g3 gone
    big = graph(40, rounds=1)  # 43 nodes: more than the budget, kept alone
    assert cache.get(big) is cache.get(big) and len(cache) == 1 and cache.nodes == 43


def test_teams_share_one_compiled_graph() -> None:
    g = graph(3, edges=(("a0", "a2"),))
    Team(g, ScriptedBackend(["x"], cycle=True)).run("q")
    compiled = COMPILED.get(g)
    t = Team(g, ScriptedBackend(["y"], cycle=True)).run("q")
    assert COMPILED.get(g) is compiled and t.answer == "y"


def test_a_round_closes_after_its_longest_branch_and_each_agent_runs_once() -> None:
    # round: a0 -> a1 -> a2, and a3 alone (done in the first step): the round's barrier must
    # still wait for a2, and run once
    seen: list[dict[str, Spoken]] = []

    def stop(round: int, said: dict[str, Spoken], query: str) -> bool:
        seen.append(said)
        return False

    counter = iter(range(100))
    g = graph(4, edges=(("a0", "a1"), ("a1", "a2")))
    t = Team(g, ScriptedBackend(lambda m, s: f"out{next(counter)}"), stop_gate=stop).run("q")
    assert len(seen) == 1 and {n: s.text for n, s in seen[0].items()} == {
        "a0": "out0",
        "a3": "out1",
        "a1": "out2",
        "a2": "out3",
    }
    assert t.calls == 8 and sorted((m.agent, m.round) for m in t.messages) == [
        (f"a{i}", r) for i in range(4) for r in (0, 1)
    ]
