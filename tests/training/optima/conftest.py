"""Hand-made conversations for the Optima tests."""

from __future__ import annotations

from agentnet.agents import AgentSpec
from agentnet.graph import CommGraph
from agentnet.topologies.fixed import chain
from agentnet.trajectory import MessageRecord, Trajectory
from agentnet.types import Message, Usage

AGENTS = (AgentSpec("a0", "alice"), AgentSpec("a1", "bob"))


def graph(rounds: int = 2) -> CommGraph:
    return chain(AGENTS, rounds, temporal="complete")


def conversation(*said: tuple[str, str, int], answer: str = "") -> Trajectory:
    """Turns as (agent, text, completion tokens); prompts name the turn so they differ."""
    records = [
        MessageRecord(
            agent,
            i // 2,
            "agent",
            (Message("system", agent), Message("user", f"turn {i}")),
            text,
            Usage(10, tokens),
            0.0,
        )
        for i, (agent, text, tokens) in enumerate(said)
    ]
    return Trajectory("q", graph(), records, answer or (said[-1][1] if said else ""), 2)
