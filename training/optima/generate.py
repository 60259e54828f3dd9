"""Sampling conversations from the current team: fresh ones, and continuations of a prefix.

A conversation is the team run as a dialogue: a chain whose agents also read every agent's
previous-round message (so Alice's second turn answers Bob's first), ending early once the
agents agree. Continuing a prefix (iDPO's expansion) replays the prefix's recorded turns
through `Replay` and samples the rest, so the runtime, prompts and token accounting are the
ordinary ones; that needs turns that happen one at a time, which `sequential` checks.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from agentnet.agents import AgentSpec
from agentnet.episodes import Episode, run_episode
from agentnet.errors import ConfigError, UnknownNameError
from agentnet.graph import CommGraph, Decision
from agentnet.llm import DeltaCallback, LLMBackend, RetractCallback
from agentnet.prompts import load_role
from agentnet.task_types import Item, Task
from agentnet.types import Completion, GenerationSettings, Message

if TYPE_CHECKING:
    from agentnet.runtime import Team


@cache
def formats() -> dict[str, str]:
    """Iteration 0's pool of communication formats (agentnet/prompts/optima/*.md)."""
    folder = resources.files("agentnet.prompts") / "optima"
    return {p.name[:-3]: p.read_text(encoding="utf-8").strip() for p in folder.iterdir() if p.name.endswith(".md")}


def check_formats(names: Sequence[str]) -> tuple[str, ...]:
    for name in names:
        if name not in formats():
            raise UnknownNameError("format", name, sorted(formats()))
    return tuple(names)


class Replay:
    """An LLM backend that answers its first calls from a recorded prefix, then asks `inner`."""

    def __init__(self, inner: LLMBackend, prefix: Sequence[Completion]):
        self.inner = inner
        self.name = inner.name
        self.prefix = list(prefix)
        self.calls = 0

    async def complete(
        self,
        messages: Sequence[Message],
        settings: GenerationSettings,
        *,
        on_delta: DeltaCallback | None = None,
        on_retract: RetractCallback | None = None,
    ) -> Completion:
        index, self.calls = self.calls, self.calls + 1
        if index < len(self.prefix):
            return self.prefix[index]
        return await self.inner.complete(messages, settings, on_delta=on_delta, on_retract=on_retract)


def sequential(graph: CommGraph) -> bool:
    """Does exactly one agent speak at a time (so turn order is fixed)?"""
    return all(len(layer) == 1 for r in range(graph.rounds) for layer in graph.layers(r))


def tagged_answer(output: str) -> str:
    """The last `<A>…</A>` answer, else "": only a tagged answer ends a dialogue early (a task's
    lenient reader would take any first line, and two agents echoing the question would "agree")."""
    found = re.findall(r"<A>(.*?)</A>", output, re.DOTALL | re.IGNORECASE)
    return found[-1].strip() if found else ""


@dataclass(frozen=True)
class Dialogue:
    """The team that talks: its agents, how many rounds (each agent speaks once a round), sampling.

    It stops early when every agent of a round gives the same tagged answer."""

    agents: tuple[AgentSpec, ...]
    rounds: int = 3
    decision: Decision = Decision("last_agent")

    def __post_init__(self) -> None:
        if len(self.agents) < 2:
            raise ConfigError(f"a dialogue needs at least 2 agents; got {len(self.agents)}")
        if self.rounds < 1:
            raise ConfigError(f"rounds={self.rounds}: use 1 or more")

    def systems(self) -> dict[str, str]:
        """Each agent's own system prompt (what training rows are rewritten to)."""
        return {a.name: a.system if a.system is not None else load_role(a.prompt or a.role).system for a in self.agents}

    def speakers(self) -> dict[str, str]:
        """The tag each agent speaks under (its role title: "Alice", "Bob")."""
        return {a.name: a.title for a in self.agents}

    def graph(self, fmt: str = "") -> CommGraph:
        from agentnet.topologies.fixed import chain

        systems = self.systems()
        agents = [
            replace(a, system=f"{systems[a.name]}\n\n{formats()[fmt]}" if fmt else systems[a.name]) for a in self.agents
        ]
        return chain(agents, self.rounds, self.decision, temporal="complete")

    def team(self, backend: LLMBackend, fmt: str = "") -> Team:
        from agentnet.runtime import Team  # LangGraph loads when a team is built, not with OptimaConfig

        return Team(self.graph(fmt), backend, extract=tagged_answer, early_stop=True)

    def with_temperature(self, temperature: float) -> Dialogue:
        return replace(
            self, agents=tuple(replace(a, settings=a.settings.with_(temperature=temperature)) for a in self.agents)
        )


async def converse(
    dialogue: Dialogue,
    task: Task,
    item: Item,
    backend: LLMBackend,
    *,
    fmt: str = "",
    prefix: Sequence[Completion] = (),
    gate: asyncio.Semaphore | None = None,
) -> Episode:
    """One conversation on `item`, scored (`run_episode`: a failed one comes back with its
    trajectory's `error` set, not raised); at most as many at once as `gate` allows."""
    team = dialogue.team(Replay(backend, prefix) if prefix else backend, fmt)
    if prefix and not sequential(team.topology.graph_for(item.question)):
        raise ConfigError("continuing a conversation needs agents that speak one at a time")
    return await run_episode(team, task, item, gate=gate)
