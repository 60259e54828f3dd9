"""One `agentnet optimize` session: the team from its config, disjoint training and validation
items, the optimiser on the team's server or a separate one, and the loop, resumed if found."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from agentnet.outputs import check_target
from agentnet.assembly import agents_for, decision_for
from agentnet.assembly.items import train_val_split
from agentnet.configs import ItemsConfig, TeamConfig
from agentnet.errors import ConfigError
from agentnet.llm import LLMBackend, OpenAIBackend
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
    opt_backend = backend if s.optimizer_base_url is None else OpenAIBackend(
        s.optimizer_base_url, model=s.optimizer.model, api_key=os.environ.get(s.api_key_env), name="optimizer",
        timeout_s=s.timeout)  # fmt: skip
    optimizer = OPTIMIZERS["optoprime"](opt_backend, s.optimizer)
    return TraceLoop(spec, trainable, task, train_items, val_items, backend, optimizer, s.trace, out_dir)
