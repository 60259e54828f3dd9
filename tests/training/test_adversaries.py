"""Planted: a liar in the team. Only a0 knows the answer, the others copy what they hear, and
the planted liar's answer flips whoever hears it. Every message costs tokens. A learner trained
with the liar present must end with no message out of the liar (or the liar not running) and
every query right, from five seeds."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="SKIPPED LOUDLY: torch missing; install the [graph] extra")
pytest.importorskip("torch_geometric", reason="SKIPPED LOUDLY: torch-geometric missing; install the [graph] extra")

from agentnet.adversaries import Attacked, AttackConfig  # noqa: E402
from agentnet.assembly.team import team_for  # noqa: E402
from agentnet.graph import CommGraph  # noqa: E402
from agentnet.topologies.configs import AgentDropoutConfig, CommFormerConfig, GDesignerConfig, HeadsConfig  # noqa: E402
from agentnet.topologies.agentdropout import AgentDropout  # noqa: E402
from agentnet.topologies.commformer import CommFormer  # noqa: E402
from agentnet.topologies.embeddings import HashEmbedder  # noqa: E402
from agentnet.topologies.gdesigner import GDesigner  # noqa: E402
from agentnet.training.topology import TopologyTrainConfig, TopologyTrainer  # noqa: E402
from tests.conftest import one_fast  # noqa: E402
from tests.topologies import planted  # noqa: E402

torch.set_num_threads(1)
ATTACK = AttackConfig(adversaries=1, adversary_seed=planted.LIAR_ATTACK_SEED)
LIAR = "a1"
DROP = HeadsConfig(activation=True)
A, D = planted.LIAR_AGENTS, planted.DECISION

# G-Designer at lr 0.05 can drop every edge before it finds that the answering agent must hear a0
LEARNERS = {
    "gdesigner": lambda seed: GDesigner(A, 1, D, GDesignerConfig(seed=seed, lr=0.02), HashEmbedder(32)),
    "commformer": lambda seed: CommFormer(
        A, 1, D, CommFormerConfig(seed=seed, edge_lr=0.15, gate=False), HashEmbedder(32)
    ),
    "gdesigner-adaptive": lambda seed: GDesigner(
        A, 1, D, GDesignerConfig(seed=seed, lr=0.02, heads=DROP), HashEmbedder(32)
    ),
    "commformer-adaptive": lambda seed: CommFormer(
        A, 1, D, CommFormerConfig(seed=seed, edge_lr=0.15, gate=False, heads=DROP), HashEmbedder(32)
    ),
    "agentdropout": lambda seed: AgentDropout(A, 1, D, AgentDropoutConfig(seed=seed)),
}


def liar_is_cut_off(graph: CommGraph) -> bool:
    return not graph.is_active(LIAR, 0) or not any(u == LIAR for u, _ in graph.spatial[0])


def accuracy(topology, task) -> float:
    team = team_for(task, Attacked(topology, ATTACK), planted.liar_backend())
    scores = []
    for item in task.items():
        trajectory = asyncio.run(team.arun(item.question))
        assert trajectory.graph.agent(LIAR).adversary == "liar"
        scores.append(asyncio.run(task.score(item, trajectory.answer)).value)
    return sum(scores) / len(scores)


def test_the_planted_attack_draws_the_liar_the_tests_expect() -> None:
    assert ATTACK.chosen([a.name for a in A]) == (LIAR,)


def test_planted_the_complete_team_is_fooled_by_the_liar() -> None:
    from agentnet.topologies.fixed import fixed

    task = planted.LiarTask()
    graph = ATTACK.apply(fixed("complete", A, rounds=1, decision=D))
    trajectory = team_for(task, graph, planted.liar_backend()).run(next(task.items()).question)
    assert trajectory.answer.endswith("7")  # every agent after the liar hears it and flips


@pytest.mark.parametrize("seed", one_fast(range(5), 0))
@pytest.mark.parametrize("kind", one_fast(sorted(LEARNERS), "gdesigner-adaptive"))
def test_planted_learners_trained_with_a_liar_route_around_it(kind: str, seed: int, tmp_path: Path) -> None:
    task, topology = planted.LiarTask(), LEARNERS[kind](seed)
    config = TopologyTrainConfig(steps=200, batch=4, lambda_tokens=2.0, token_scale=100.0, seed=seed)
    trainer = TopologyTrainer(
        topology, task, list(task.items()), planted.liar_backend(), config, tmp_path, attack=ATTACK
    )
    held, acc = 0, 0.0
    while trainer.step < config.steps and held < 3:
        trainer.train_step()
        graphs = [topology.graph_for(item.question) for item in task.items()]
        acc = accuracy(topology, task) if all(map(liar_is_cut_off, graphs)) else 0.0
        held = held + 1 if acc == 1.0 else 0
    graph = topology.graph_for(next(task.items()).question)
    assert (acc, liar_is_cut_off(graph)) == (1.0, True), (
        f"{kind} seed {seed} after {trainer.step} steps: {graph.spatial[0]}"
    )
