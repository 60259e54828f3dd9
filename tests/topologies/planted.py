"""A planted-optimum environment on ScriptedBackend (no LLM): only a0 knows the answer; any
other agent answers wrongly unless a message from a0 (or an agent that copied it) reaches it.
The team's answer is the last agent's (topological order), so the best graphs have exactly one
edge — any that makes the answering agent hear a0 — and every extra message costs tokens."""

from __future__ import annotations

from collections.abc import Sequence

from agentnet.agents import AgentSpec
from agentnet.graph import Decision
from agentnet.task import Item, Score
from agentnet.testing import ScriptedBackend
from agentnet.types import GenerationSettings, Message

ROLES = ("knowledgeable_expert", "critic", "historian", "lawyer", "economist")
AGENTS = tuple(AgentSpec(f"a{i}", r, GenerationSettings(max_tokens=16)) for i, r in enumerate(ROLES[:3]))
DECISION = Decision("last_agent")


def reply(messages: Sequence[Message], settings: GenerationSettings) -> str:
    if messages[0].content.startswith("You are a knowledgeable expert"):
        return "The answer is 42"
    return "The answer is 42" if "The answer is 42" in messages[-1].content else "The answer is 7"


def backend() -> ScriptedBackend:
    return ScriptedBackend(reply)


class PlantedTask:
    name, roles, decision = "planted", ROLES[:3], "last_agent"

    def items(self, split: str = "train"):
        return iter([Item(f"planted/{i}", f"Question number {i}: what is the answer?", "42") for i in range(4)])

    def extract(self, output: str) -> str:
        return output.split()[-1] if output.split() else ""

    async def score(self, item: Item, output: str) -> Score:
        got = self.extract(output)
        return Score(float(got == item.answer), got)
