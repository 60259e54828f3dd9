"""A toy environment on ScriptedBackend: the team answers 42 (right) when its system prompt says
"answer 42", 7 (wrong) when it says "BAD", and otherwise right only on even-numbered questions,
so the role prompt scores 0.5, a worse prompt 0 and a better one 1."""

from __future__ import annotations

from collections.abc import Sequence

from agentnet.agents import AgentSpec
from agentnet.graph import Decision
from agentnet.task_types import Item, Score
from agentnet.testing import ScriptedBackend
from agentnet.training.trace.params import TeamSpec
from agentnet.types import GenerationSettings, Message

SETTINGS = GenerationSettings(max_tokens=32)


def team_reply(messages: Sequence[Message], settings: GenerationSettings) -> str:
    system, user = messages[0].content, messages[-1].content
    if "BAD" in system:
        return "The answer is 7"
    if "answer 42" in system.lower():
        return "The answer is 42"
    number = int(user.split("number ")[1].split(":")[0])
    return "Some thinking first. The answer is 42" if number % 2 == 0 else "Hmm. The answer is 7"


def team_backend() -> ScriptedBackend:
    return ScriptedBackend(team_reply)


def spec(topology: str = "single", n: int = 1, decision: Decision | None = None, rounds: int = 1) -> TeamSpec:
    agents = tuple(AgentSpec(f"a{i}", r, SETTINGS) for i, r in enumerate(["math_solver", "inspector"][:n]))
    return TeamSpec(topology, agents, rounds, decision or Decision("last_agent", settings=SETTINGS))


class ToyTask:
    name, roles, decision = "toy", ("math_solver",), "last_agent"

    def items(self, split: str = "train"):
        return iter([Item(f"toy/{i}", f"Question number {i}: what is the answer?", "42") for i in range(8)])

    def extract(self, output: str) -> str:
        return output.split()[-1] if output.split() else ""

    async def score(self, item: Item, output: str) -> Score:
        got = self.extract(output)
        return Score(float(got == item.answer), got)
