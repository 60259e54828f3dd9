"""A run store for the viewer's tests: real teams on ScriptedBackend, stored by `evaluate`.

- "attacked": the complete team of 4 agents × 2 rounds with a planted liar (a1) and a receive
  gate that shuts a2 out of what it would hear in round 1; final_refer decides;
- "adaptive": a graph file's team with a0 alone in round 1 and no decision call; one item's
  output carries markup that must stay text."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from agentnet.adversaries import AttackConfig
from agentnet.assembly.team import team_for, topology_for
from agentnet.configs import TeamConfig
from agentnet.evaluation import evaluate
from agentnet.graph import CommGraph
from agentnet.store import RunConfig, RunStore
from agentnet.testing import ScriptedBackend
from tests.topologies import planted

MARKUP = "</script><script>window.pwned = 1</script><b>bold</b>"


def _reply(messages, settings) -> str:
    if "number 3" in messages[-1].content and messages[0].content.startswith("You are a knowledgeable"):
        return f"The answer is 42 {MARKUP}"
    return planted.liar_reply(messages, settings)


def make_store(path: Path) -> dict[str, str]:
    task = planted.LiarTask()
    items = list(task.items())
    complete = TeamConfig(
        topology="complete",
        agents=4,
        rounds=2,
        roles=planted.ROLES[:4],
        temporal="complete",
        decision="final_refer",
        attack=AttackConfig(adversaries=1, adversary_seed=planted.LIAR_ATTACK_SEED),
    )
    graph = topology_for(replace(complete, attack=AttackConfig(), decision="last_agent"), task)
    assert isinstance(graph, CommGraph)
    adaptive = replace(
        graph,
        active=(("a0", "a1", "a2", "a3"), ("a0",)),
        decide=False,
        spatial=(graph.spatial[0], ()),
        temporal=((("a1", "a0"), ("a2", "a0")),),
    )
    ids = {}
    with RunStore(path) as store:
        for name, team, topology, gate in (
            (
                "attacked",
                complete,
                topology_for(complete, task),
                lambda agent, round, own, query: (agent, round) != ("a2", 1),
            ),
            ("adaptive", replace(complete, attack=AttackConfig(), topology="graph.json"), adaptive, None),
        ):
            run_id = store.create_run(RunConfig("planted-liar", limit=len(items), team=team), len(items))
            the_team = team_for(task, topology, ScriptedBackend(_reply), team, receive_gate=gate)  # type: ignore[arg-type]
            asyncio.run(evaluate(the_team, task, items, store, run_id))  # type: ignore[arg-type]
            store.set_status(run_id, "finished")
            ids[name] = run_id
    return ids
