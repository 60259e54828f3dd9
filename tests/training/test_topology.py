from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="SKIPPED LOUDLY: torch missing; install the [graph] extra")
pytest.importorskip("torch_geometric", reason="SKIPPED LOUDLY: torch-geometric missing; install the [graph] extra")

from agentnet.runtime import Team  # noqa: E402
from agentnet.topologies.embeddings import HashEmbedder  # noqa: E402
from agentnet.topologies.configs import CommFormerConfig, GDesignerConfig  # noqa: E402
from agentnet.topologies.commformer import CommFormer  # noqa: E402
from agentnet.topologies.gdesigner import GDesigner  # noqa: E402
from agentnet.training.topology import TopologyTrainConfig, TopologyTrainer, leave_one_out  # noqa: E402
from tests.conftest import one_fast  # noqa: E402
from tests.topologies import planted  # noqa: E402

torch.set_num_threads(1)


def evaluate(topology, task) -> tuple[float, int]:
    graphs = [topology.graph_for(item.question) for item in task.items()]
    scores = []
    for graph, item in zip(graphs, task.items()):
        t = Team(graph, planted.backend(), receive_gate=getattr(topology, "inference_gate", None)).run(item.question)
        scores.append(asyncio.run(task.score(item, t.answer)).value)
    return sum(scores) / len(scores), max(len(g.spatial[0]) for g in graphs)


@pytest.mark.parametrize("seed", one_fast(range(5), 0))
def test_gdesigner_finds_the_planted_optimum(tmp_path: Path, seed: int) -> None:
    task = planted.PlantedTask()
    topology = GDesigner(
        planted.AGENTS,
        1,
        planted.DECISION,
        GDesignerConfig(seed=seed, lr=0.02, lambda_sparse=0.1, lambda_kl=1e-4),
        HashEmbedder(32),
    )
    config = TopologyTrainConfig(steps=80, batch=4, lambda_tokens=2.0, token_scale=100.0, seed=seed)
    trainer = TopologyTrainer(topology, task, list(task.items()), planted.backend(), config, tmp_path)
    for _ in range(config.steps):
        trainer.train_step()
        accuracy, edges = evaluate(topology, task)
        if accuracy == 1.0 and edges == 1:
            break
    assert (accuracy, edges) == (1.0, 1), f"seed {seed}: accuracy {accuracy}, {edges} edges after {trainer.step} steps"


@pytest.mark.parametrize("seed", one_fast(range(5), 1))
def test_commformer_finds_the_planted_optimum(tmp_path: Path, seed: int) -> None:
    task = planted.PlantedTask()
    topology = CommFormer(
        planted.AGENTS,
        1,
        planted.DECISION,
        CommFormerConfig(seed=seed, edge_lr=0.15, gate_lr=0.05, sparsity=0.1),
        HashEmbedder(32),
    )
    config = TopologyTrainConfig(steps=80, batch=4, lambda_tokens=2.0, token_scale=100.0, seed=seed)
    trainer = TopologyTrainer(topology, task, list(task.items()), planted.backend(), config, tmp_path)
    for _ in range(config.steps):
        trainer.train_step()
        accuracy, edges = evaluate(topology, task)
        if accuracy == 1.0 and edges == 1 and trainer.step > topology.config.warmup_steps:
            break
    assert (accuracy, edges) == (1.0, 1), f"seed {seed}: accuracy {accuracy}, {edges} edges after {trainer.step} steps"


def test_training_is_checkpointed_logged_and_resumable(tmp_path: Path) -> None:
    task = planted.PlantedTask()

    def trainer() -> TopologyTrainer:
        topology = GDesigner(planted.AGENTS, 1, planted.DECISION, GDesignerConfig(), HashEmbedder(16))
        config = TopologyTrainConfig(steps=3, batch=2)
        return TopologyTrainer(topology, task, list(task.items()), planted.backend(), config, tmp_path)

    first = trainer()
    before = {k: v.clone() for k, v in first.topology.state_dict().items()}
    first.train_step()
    changed = [k for k, v in first.topology.state_dict().items() if not torch.equal(v, before[k])]
    assert changed  # a step moves the parameters
    second = trainer()
    assert second.resume() and second.step == 1
    assert all(torch.equal(v, first.topology.state_dict()[k]) for k, v in second.topology.state_dict().items())
    model = second.train()
    assert model.exists() and second.step == 3
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [0, 1, 2]
    assert {"reward", "accuracy", "tokens", "edge_density"} <= set(lines[0])
    # what each step spent, so a training's cost sums across the sessions that ran it
    assert all(m["episodes"] == 2 and m["failed"] == 0 and m["wall_s"] > 0 for m in lines)
    assert all(m["spent_tokens"] == pytest.approx(2 * m["tokens"]) for m in lines)  # paid in tokens here
    loaded = GDesigner.load(model, HashEmbedder(16))
    query = next(task.items()).question
    assert loaded.graph_for(query) == second.topology.graph_for(query)


def test_training_on_humaneval_runs_the_code_writer_with_the_tasks_check(tmp_path: Path) -> None:
    """Episodes are built by team_for, so a code task's decision gets its code check (before,
    every HumanEval episode failed with a swallowed ConfigError and every reward was 0)."""
    from agentnet.assembly.team import agents_for, decision_for
    from agentnet.configs import TeamConfig
    from agentnet.tasks.humaneval import HumanEval
    from agentnet.testing import ScriptedBackend

    task = HumanEval()
    item = next(task.items())
    solution = f"```python\n{item.meta['prompt']}{item.answer}```"
    team = TeamConfig(agents=2, max_tokens=512)  # the scripted solution fits: no cut-off
    topology = GDesigner(agents_for(team, task), 1, decision_for(team, task), GDesignerConfig(), HashEmbedder(16))
    assert topology.decision.kind == "code_writer"
    config = TopologyTrainConfig(steps=1, batch=1, lambda_tokens=0.0)
    trainer = TopologyTrainer(topology, task, [item], ScriptedBackend([solution], cycle=True), config, tmp_path)
    metrics = trainer.train_step()
    assert metrics.accuracy == 1.0 and metrics.reward == 1.0


def test_a_per_item_baseline_that_would_never_see_an_item_twice_is_refused(tmp_path: Path) -> None:
    from agentnet.errors import ConfigError

    task = planted.PlantedTask()  # 4 items
    topology = GDesigner(planted.AGENTS, 1, planted.DECISION, GDesignerConfig(), HashEmbedder(8))
    config = TopologyTrainConfig(steps=2, batch=2, baseline="per_item")
    with pytest.raises(ConfigError, match="4 episodes over 4 items visit no item twice"):
        TopologyTrainer(topology, task, list(task.items()), planted.backend(), config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    TopologyTrainer(
        topology,
        task,
        list(task.items()),
        planted.backend(),
        TopologyTrainConfig(steps=3, batch=2, baseline="per_item"),
        tmp_path / "ok",
    )


def test_the_group_baseline_is_the_mean_of_the_other_samples_of_the_same_query() -> None:
    assert leave_one_out([1.0, 0.0, 0.5, 2.0, 2.0, 5.0], 3) == [0.25, 0.75, 0.5, 3.5, 3.5, 2.0]
    assert leave_one_out([1.0, 3.0], 2) == [3.0, 1.0]
    with pytest.raises(ValueError):
        leave_one_out([1.0, 2.0, 3.0], 2)


def test_a_group_baseline_with_one_sample_per_query_is_refused() -> None:
    from agentnet.errors import ConfigError

    with pytest.raises(ConfigError, match="samples=1 leaves none to compare with; use --samples 2"):
        TopologyTrainConfig(baseline="group")
    assert TopologyTrainConfig(baseline="group", samples=2).samples == 2


def _gdesigner_trainer(tmp_path: Path, steps: int = 3) -> TopologyTrainer:
    task = planted.PlantedTask()
    topology = GDesigner(planted.AGENTS, 1, planted.DECISION, GDesignerConfig(), HashEmbedder(16))
    return TopologyTrainer(
        topology, task, list(task.items()), planted.backend(), TopologyTrainConfig(steps=steps, batch=2), tmp_path
    )


def test_a_step_whose_loss_turns_nan_stops_the_run_naming_it_and_saves_no_nan_model(tmp_path: Path) -> None:
    from agentnet.errors import TrainingError

    trainer = _gdesigner_trainer(tmp_path)
    trainer.train_step()  # step 1 is fine and checkpointed
    sample = trainer.topology.sample

    def poisoned(query: str):
        s = sample(query)
        s.penalty = s.penalty * float("nan")  # a regulariser gone wrong
        return s

    trainer.topology.sample = poisoned  # type: ignore[method-assign]
    with pytest.raises(
        TrainingError,
        match=r"^step 2: the loss became nan; training stopped and the checkpoint of "
        r"step 1 is kept \(never a NaN model\)",
    ):
        trainer.train()
    assert not (tmp_path / "model.pt").exists()
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 1 and all(torch.isfinite(v).all() for v in saved["model"].values())
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1


def test_a_step_whose_gradient_turns_nan_stops_before_the_weights_move(tmp_path: Path) -> None:
    from agentnet.errors import TrainingError

    trainer = _gdesigner_trainer(tmp_path)
    name, weight = next(iter(trainer.topology.named_parameters()))
    before = weight.detach().clone()
    weight.register_hook(lambda g: g * float("nan"))
    with pytest.raises(
        TrainingError, match=f"^step 1: the gradient {name} became nan; training stopped and nothing was saved"
    ):
        trainer.train_step()
    assert torch.equal(weight.detach(), before) and not (tmp_path / "checkpoint.pt").exists()


def test_a_step_whose_weights_turn_infinite_stops_the_run_before_they_are_saved(tmp_path: Path) -> None:
    from agentnet.errors import TrainingError

    trainer = _gdesigner_trainer(tmp_path)
    name, weight = next(iter(trainer.topology.named_parameters()))
    for opt in trainer.optimisers.values():
        opt.step = lambda *a, **k: weight.data.fill_(float("inf"))  # type: ignore[method-assign]
    with pytest.raises(TrainingError, match=f"^step 1: the weight {name} became inf"):
        trainer.train_step()
    assert not (tmp_path / "checkpoint.pt").exists()


def test_a_nan_model_is_never_saved_nor_loaded(tmp_path: Path) -> None:
    from agentnet.errors import ConfigError

    topology = GDesigner(planted.AGENTS, 1, planted.DECISION, GDesignerConfig(), HashEmbedder(16))
    good = topology.save(tmp_path / "good.pt")
    with torch.no_grad():
        next(topology.parameters()).fill_(float("inf"))
    with pytest.raises(ConfigError, match="is not finite .* never saved"):
        topology.save(tmp_path / "bad.pt")
    assert not (tmp_path / "bad.pt").exists()
    data = torch.load(good, weights_only=True)
    first = next(iter(data["state"]))
    data["state"][first] = torch.full_like(data["state"][first], float("nan"))
    torch.save(data, tmp_path / "nan.pt")
    with pytest.raises(ConfigError, match=f"nan.pt: weight {first} is not finite"):
        GDesigner.load(tmp_path / "nan.pt", HashEmbedder(16))


def test_every_float_hyper_parameter_of_every_trainer_refuses_nan_and_infinity() -> None:
    import dataclasses
    import typing

    from agentnet.errors import ConfigError
    from agentnet.topologies.registry import LEARNED
    from agentnet.training.optima.finetune import FinetuneConfig
    from agentnet.training.optima.loop import OptimaConfig
    from agentnet.training.trace.loop import TraceConfig
    from agentnet.training.trace.optimizer import OptoPrimeConfig

    def floats(cls: type, path: tuple[str, ...] = ()) -> list[tuple[type, tuple[str, ...]]]:
        out = []
        for f in dataclasses.fields(cls):
            tp = typing.get_type_hints(cls)[f.name]
            base = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
            if dataclasses.is_dataclass(base[0]):
                out += floats(base[0], (*path, f.name))
            elif base[0] is float:
                out.append((cls, (*path, f.name)))
        return out

    roots = [
        TopologyTrainConfig,
        OptimaConfig,
        FinetuneConfig,
        TraceConfig,
        OptoPrimeConfig,
        *(k.config_class for k in LEARNED.values()),
    ]
    checked = 0
    for root in roots:
        for owner, path in floats(root):
            for bad in (float("nan"), float("inf")):
                with pytest.raises(ConfigError, match=f"{path[-1]}={bad} is not a finite number"):
                    owner(**{path[-1]: bad})
                checked += 1
    assert checked >= 2 * 40  # every trainer's floats, nested heads and schedules included


def test_a_step_counts_the_episodes_whose_backend_failed(tmp_path: Path) -> None:
    # a failed episode is scored as answered (0 here); the step says how many, for the training's report
    from agentnet.errors import BackendError
    from agentnet.testing import ScriptedBackend

    def reply(messages, settings) -> str:  # noqa: ANN001
        if "number 1:" in messages[-1].content:
            raise BackendError("server gone", url="http://gone")
        return planted.reply(messages, settings)

    task = planted.PlantedTask()
    topology = GDesigner(planted.AGENTS, 1, planted.DECISION, GDesignerConfig(), HashEmbedder(16))
    trainer = TopologyTrainer(
        topology, task, list(task.items()), ScriptedBackend(reply), TopologyTrainConfig(steps=1, batch=4), tmp_path
    )
    metrics = trainer.train_step()
    assert metrics.episodes == 4 and metrics.failed == 1
