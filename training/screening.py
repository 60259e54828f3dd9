"""Screening before REINFORCE: every agent alone on a few training queries, and the activation
head starts from what that showed.

A policy that samples each agent independently with probability 1/2 draws a given solo team
1/2^n of the time (6% with 4 agents), so the comparison that decides a task where one agent does
the work — which agent, alone, pays best — is almost never made in a few dozen episodes, and
the token term alone then decides who survives. Screening makes that comparison once, on
purpose: agent i alone (1 round, no decision call) on each screening query, utility = score −
λ_tok · tokens / token_scale as in training, and every round's activation logit of agent i
starts at `activation_init + scale · (u_i − mean u)`. REINFORCE then goes on from that prior;
the screening calls are part of the learner's training cost.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from agentnet.adversaries import AttackConfig
from agentnet.episodes import Pay, run_episode
from agentnet.errors import ConfigError
from agentnet.graph import Topology
from agentnet.llm import LLMBackend
from agentnet.task_types import Item, Task
from agentnet.tools import ToolRunner
from agentnet.topologies.learned import build_graph


@dataclass(frozen=True)
class Screening:
    """Per agent (in the topology's order): solo accuracy, tokens per query and utility."""

    agents: list[str]
    accuracy: list[float]
    tokens: list[float]
    utility: list[float]
    items: int

    @property
    def total_tokens(self) -> float:
        return sum(self.tokens) * self.items

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> Screening:
        return cls(**json.loads(path.read_text()))


def heads_of(topology: object):  # -> TeamHeads (imported lazily: torch)
    heads = getattr(topology, "heads", None)
    if heads is None or not heads.config.activation:
        raise ConfigError(
            f"screening starts the activation head from solo runs: {getattr(topology, 'kind', topology)} "
            "has none; use --activation (G-Designer or CommFormer) or --screen 0"
        )
    return heads


async def screen(
    task: Task,
    topology: Topology,
    items: Sequence[Item],
    backend: LLMBackend | Mapping[str, LLMBackend],
    *,
    lambda_tokens: float,
    token_scale: float,
    concurrency: int,
    pay: Pay = "tokens",
    attack: AttackConfig = AttackConfig(),
    tools: ToolRunner | None = None,
) -> Screening:
    """Run every agent of `topology` alone on every item (with the training's adversaries
    planted, so a liar screens as what it is); nothing is learned here. An agent pays in
    tokens, or at its model's price (`pay`), as in training."""
    from agentnet.assembly.team import team_for  # the runtime (LangGraph) loads when screening runs, not with the CLI

    heads_of(topology)
    agents, decision = topology.agents, topology.decision
    gate = asyncio.Semaphore(concurrency)

    async def solo(i: int, item: Item) -> tuple[float, float]:
        graph = attack.apply(build_graph(agents, set(), set(), 1, decision, active=[{i}], decide=False))
        episode = await run_episode(team_for(task, graph, backend, tools=tools), task, item, gate=gate)
        return episode.score.value, episode.paid(pay)

    runs = await asyncio.gather(*(solo(i, item) for i in range(len(agents)) for item in items))
    k = len(items)
    accuracy = [sum(s for s, _ in runs[i * k : (i + 1) * k]) / k for i in range(len(agents))]
    tokens = [sum(t for _, t in runs[i * k : (i + 1) * k]) / k for i in range(len(agents))]
    utility = [a - lambda_tokens * t / token_scale for a, t in zip(accuracy, tokens)]
    return Screening([a.name for a in agents], accuracy, tokens, utility, k)


def warm_start(topology: object, screening: Screening, scale: float) -> None:
    """Every round's activation bias of agent i := activation_init + scale · (u_i − mean u)."""
    import torch

    heads = heads_of(topology)
    u = torch.tensor(screening.utility)
    logits = heads.config.activation_init + scale * (u - u.mean())
    with torch.no_grad():
        heads.act.bias.copy_(logits.repeat(heads.rounds))
