"""Screening (every agent alone before REINFORCE) on the planted environment: only the
knowledgeable expert answers right alone, wherever it sits in the team."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="SKIPPED LOUDLY: torch missing; install the [graph] extra")
pytest.importorskip("torch_geometric", reason="SKIPPED LOUDLY: torch-geometric missing; install the [graph] extra")

from agentnet.errors import ConfigError  # noqa: E402
from agentnet.graph import Decision  # noqa: E402
from agentnet.topologies.configs import GDesignerConfig, HeadsConfig  # noqa: E402
from agentnet.topologies.embeddings import HashEmbedder  # noqa: E402
from agentnet.topologies.gdesigner import GDesigner  # noqa: E402
from agentnet.training.screening import screen, warm_start  # noqa: E402
from agentnet.training.topology import TopologyTrainConfig, TopologyTrainer  # noqa: E402
from tests.topologies import planted  # noqa: E402

torch.set_num_threads(1)
# every choice starts at 1/2, as in the experiment's adaptive rows
HEADS = HeadsConfig(activation=True, skip_decision=True, activation_init=0.0, decide_init=0.0)


def learner(agents=planted.AGENTS, heads: HeadsConfig = HEADS, rounds: int = 1) -> GDesigner:
    return GDesigner(agents, rounds, Decision("final_refer"), GDesignerConfig(seed=0, heads=heads), HashEmbedder(32))


def query() -> str:
    return next(planted.PlantedTask().items()).question


@pytest.mark.parametrize("order", ["knower first", "knower last"])
def test_screening_measures_each_agent_alone_and_starts_the_knower_alone(order: str) -> None:
    agents = planted.AGENTS if order == "knower first" else tuple(reversed(planted.AGENTS))
    topology = learner(agents, rounds=2)
    backend = planted.backend()
    items = list(planted.PlantedTask().items())
    screening = asyncio.run(
        screen(planted.PlantedTask(), topology, items, backend, lambda_tokens=0.1, token_scale=1000.0, concurrency=2)
    )
    assert screening.agents == [a.name for a in agents] and screening.items == 4
    assert len(backend.calls) == 3 * 4  # one call per agent and query: no decision, one round
    assert screening.accuracy == [1.0 if a.name == "a0" else 0.0 for a in agents]
    assert all(t > 0 for t in screening.tokens)
    assert screening.utility[[a.name for a in agents].index("a0")] == max(screening.utility)
    warm_start(topology, screening, scale=10.0)
    graph = topology.graph_for(query())
    assert graph.active == (("a0",), ("a0",))  # every round's prior: the knower alone


def test_the_trainer_screens_once_and_a_resumed_run_reads_the_kept_screening(tmp_path: Path) -> None:
    task, backend = planted.PlantedTask(), planted.backend()
    config = TopologyTrainConfig(steps=1, batch=2, screen=4, lambda_tokens=0.1)
    trainer = TopologyTrainer(learner(), task, list(task.items()), backend, config, tmp_path)
    seen = []
    trainer.train(on_screen=seen.append)
    kept = json.loads((tmp_path / "screen.json").read_text())
    assert kept["accuracy"] == [1.0, 0.0, 0.0] and seen[0].accuracy == kept["accuracy"]
    assert seen[0].total_tokens == pytest.approx(sum(kept["tokens"]) * 4)
    screening_calls = 3 * 4
    assert len(backend.calls) > screening_calls  # then the training step's episodes

    again = planted.backend()
    fresh = TopologyTrainer(learner(), task, list(task.items()), again, config, tmp_path)
    fresh.screen()
    assert again.calls == []  # the kept screening is read, not re-run
    assert fresh.topology.graph_for(query()).active == (("a0",),)


def test_screening_needs_an_activation_head_and_enough_queries(tmp_path: Path) -> None:
    task = planted.PlantedTask()
    items = list(task.items())
    with pytest.raises(ConfigError, match="--activation"):
        TopologyTrainer(
            learner(heads=HeadsConfig()), task, items, planted.backend(), TopologyTrainConfig(screen=2), tmp_path
        )
    with pytest.raises(ConfigError, match="--screen 4 or fewer"):
        TopologyTrainer(learner(), task, items, planted.backend(), TopologyTrainConfig(screen=5), tmp_path)
    with pytest.raises(ConfigError, match="screen=-1"):
        TopologyTrainConfig(screen=-1)
    assert not (tmp_path / "screen.json").exists()
