"""One `agentnet optimize` session: the team from its config, disjoint training and validation
items, the optimiser on the team's server or a separate one, and the loop, resumed if found."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from agentnet.outputs import check_target
from agentnet.assembly.team import agents_for, decision_for
from agentnet.assembly.items import train_val_split
from agentnet.assembly.server import ClientConfig, connect
from agentnet.configs import ItemsConfig, TeamConfig
from agentnet.display import announce
from agentnet.errors import ConfigError
from agentnet.llm import LLMBackend, OpenAIBackend
from agentnet.serving import ServeConfig
from agentnet.tasks import TaskConfig, make_task
from agentnet.topologies.fixed import FIXED
from agentnet.training.trace.loop import TraceConfig, TraceLoop
from agentnet.training.trace import OPTIMIZERS
from agentnet.training.trace.optimizer import OptoPrimeConfig
from agentnet.training.trace.params import TeamSpec, team_parameters


@dataclass(frozen=True)
class TraceSession:
    items: ItemsConfig  # task and split (the limit is train + val)
    team: TeamConfig
    trace: TraceConfig
    optimizer: OptoPrimeConfig
    data: TaskConfig
    params: tuple[str, ...] = ("prompts",)
    train: int = 16
    val: int = 16
    max_rounds: int = 4
    optimizer_base_url: str | None = None  # a separate (stronger) server for the optimiser
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 120.0

    def __post_init__(self) -> None:
        if self.team.topology not in FIXED:
            raise ConfigError(f"--topology {self.team.topology!r}: optimize trains fixed shapes ({', '.join(FIXED)})")


def trace_loop(s: TraceSession, backend: LLMBackend, out_dir: Path) -> TraceLoop:
    """The loop for `s` on `backend` (the optimiser's too unless `optimizer_base_url` is set)."""
    check_target(Path(out_dir))  # a file or /proc as --out: one line, not a traceback from mkdir
    task = make_task(s.items.task, replace(s.data, seed=s.team.seed))
    train_items, val_items = train_val_split(task, s.items.split, s.train, s.val, s.team.seed)
    spec = TeamSpec(s.team.topology, agents_for(s.team, task), s.team.rounds, decision_for(s.team, task))
    trainable = team_parameters(spec, list(s.params), max_rounds=s.max_rounds)
    opt_backend = (
        backend
        if s.optimizer_base_url is None
        else OpenAIBackend(
            s.optimizer_base_url,
            model=s.optimizer.model,
            api_key=os.environ.get(s.api_key_env),
            name="optimizer",
            timeout_s=s.timeout,
        )
    )
    optimizer = OPTIMIZERS["optoprime"](opt_backend, s.optimizer)
    return TraceLoop(spec, trainable, task, train_items, val_items, backend, optimizer, s.trace, out_dir)


def run_trace(
    s: TraceSession, serve: ServeConfig, client: ClientConfig, out_dir: Path, out: Console, err: Console
) -> None:
    """The session on the team's server: the baseline, then each step's verdict on `err`; prints the
    baseline and the best score, the report and the best parameters' file."""
    with connect(serve, client) as (server, backend):
        announce(server, err)
        loop = trace_loop(s, backend, out_dir)
        if loop.resume():
            err.print(f"[yellow]resuming[/] {out_dir} at step {loop.step}/{s.trace.steps}")
        with err.status("scoring the initial parameters on the validation items…"):
            base = loop.ensure_baseline()
        err.print(f"baseline: score {base.score:.3f} at {base.tokens:.0f} tokens/item on {base.items} items")

        def on_step(r: Any) -> None:
            val_text = "–" if r.val_score is None else f"{r.val_score:.3f} ({r.val_tokens:.0f} tok)"
            err.print(
                f"step {r.step}: {r.verdict:<9} val {val_text} · best {loop.best.score if loop.best else 0:.3f} · "
                f"{', '.join(r.changes) or '–'} · {r.reason}",
                highlight=False,
            )

        result = loop.fit(on_step).details
    out.print(
        f"baseline {result.baseline.score:.3f} ({result.baseline.tokens:.0f} tok/item) → "
        f"best {result.best.score:.3f} ({result.best.tokens:.0f} tok/item)",
        highlight=False,
    )
    out.print(f"report: {result.report}\nbest parameters: {loop.best_path}", highlight=False)
