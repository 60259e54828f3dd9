"""One `agentnet train KIND` session: the learned topology over the task's training items, its
models served, and the REINFORCE trainer, resumed if its run directory holds a run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console

from agentnet.assembly.items import load_items
from agentnet.assembly.models import serve_team
from agentnet.assembly.server import ClientConfig
from agentnet.assembly.team import agents_for, decision_for
from agentnet.configs import ItemsConfig, TeamConfig
from agentnet.display import announce_all
from agentnet.outputs import check_target
from agentnet.serving import ServeConfig
from agentnet.tasks import TaskConfig
from agentnet.topologies.registry import LEARNED
from agentnet.training.topology import TopologyTrainConfig


def train_learned(
    kind: str,
    items: ItemsConfig,
    crew: TeamConfig,
    train: TopologyTrainConfig,
    topo: object,  # an instance of the kind's config_class
    serve: ServeConfig,
    client: ClientConfig,
    data: TaskConfig,
    out_dir: Path,
    out: Console,
    err: Console,
) -> None:
    """Train the learned topology `kind` (configured by `topo`), with a progress bar on `err`; prints
    where the model and metrics are and how to use the model."""
    check_target(out_dir)  # before any model loads or server starts
    from rich.progress import Progress

    from agentnet.topologies.embeddings import MiniLMEmbedder
    from agentnet.training.topology import StepMetrics, TopologyTrainer, check_screen

    learned = LEARNED[kind]
    the_task, the_items = load_items(items, replace(data, seed=crew.seed))
    topology = learned.model_class()(
        agents_for(crew, the_task), crew.rounds, decision_for(crew, the_task), topo, MiniLMEmbedder()
    )
    check_screen(topology, len(the_items), train)
    with serve_team(topology, crew, serve, client, concurrency=train.concurrency) as served:
        announce_all(served, err)
        trainer = TopologyTrainer(topology, the_task, the_items, served.backends, train, out_dir, attack=crew.attack)
        if trainer.resume():
            err.print(f"[yellow]resuming[/] {out_dir} at step {trainer.step}/{train.steps}")
        with Progress(console=err) as progress:
            bar = progress.add_task(f"train {kind}", total=train.steps, completed=trainer.step)

            def on_step(m: StepMetrics) -> None:
                progress.update(
                    bar,
                    advance=1,
                    description=f"train {kind} · reward {m.reward:+.3f} · "
                    f"acc {m.accuracy:.2f} · tok {m.tokens:.0f} · density {m.edge_density:.2f}",
                )

            artefact = trainer.fit(on_step)
    out.print(f"model: {artefact.path}\nmetrics: {trainer.metrics_path}\nuse it: {artefact.use}", highlight=False)
