"""A first team: agents in a chain, each reading its predecessor's output.

The LangGraph runtime (multi-round graphs, concurrency, streaming) supersedes this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentnet.agents import AgentSpec, PeerOutput, build_messages
from agentnet.llm import LLMBackend
from agentnet.types import Completion, Usage


@dataclass(frozen=True)
class Turn:
    agent: AgentSpec
    completion: Completion


@dataclass(frozen=True)
class ChainResult:
    query: str
    turns: tuple[Turn, ...]

    @property
    def answer(self) -> str:
        return self.turns[-1].completion.text.strip() if self.turns else ""

    @property
    def usage(self) -> Usage:
        return sum((t.completion.usage for t in self.turns), Usage())


async def run_chain(query: str, agents: Sequence[AgentSpec], backend: LLMBackend) -> ChainResult:
    turns: list[Turn] = []
    for agent in agents:
        before = [PeerOutput(t.agent.name, t.agent.role, t.completion.text) for t in turns[-1:]]
        completion = await backend.complete(build_messages(agent, query, spatial=before), agent.settings)
        turns.append(Turn(agent, completion))
    return ChainResult(query, tuple(turns))
