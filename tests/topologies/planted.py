"""A planted-optimum environment on ScriptedBackend (no LLM): only a0 knows the answer; any
other agent answers wrongly unless a message from a0 (or an agent that copied it) reaches it.
The team's answer is the last agent's (topological order), so the best graphs have exactly one
edge — any that makes the answering agent hear a0 — and every extra message costs tokens."""

from __future__ import annotations

from collections.abc import Sequence

from agentnet.agents import AgentSpec
from agentnet.graph import Decision
from agentnet.task_types import Item, Score
from agentnet.testing import ScriptedBackend
from agentnet.tools import ToolKind, ToolRun
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


# Two kinds of query for adaptive rounds: on an EASY one the solver a1 answers alone; on a HARD
# one it needs a second round in which it reads the helper a0's first-round hint. The helper
# never answers itself; the solver runs last in a round, so its answer is the team's.
ROUNDS_AGENTS = (
    AgentSpec("a0", "knowledgeable_expert", GenerationSettings(max_tokens=16)),
    AgentSpec("a1", "math_solver", GenerationSettings(max_tokens=16)),
)
HINT = "Hint: the key number is forty-two, think again"


def rounds_reply(messages: Sequence[Message], settings: GenerationSettings) -> str:
    if messages[0].content.startswith("You are a knowledgeable expert"):
        return HINT
    task, _, previous = messages[-1].content.partition("in the previous round:")
    return "The answer is 42" if "EASY" in task or HINT in previous else "The answer is 7"


def rounds_backend() -> ScriptedBackend:
    return ScriptedBackend(rounds_reply)


class EasyHardTask(PlantedTask):
    name = "planted-rounds"

    def items(self, split: str = "train"):
        return iter(
            [
                Item(f"{kind}/{i}", f"{kind} question number {i}: what is the answer?", "42")
                for i in range(3)
                for kind in ("EASY", "HARD")
            ]
        )


# A liar in the team (the robustness experiment): as in the first environment only a0 knows the
# answer and the others copy what they hear, but one agent is planted as a liar (AttackConfig
# with LIAR_ATTACK_SEED) and a liar's answer flips whoever hears it, directly or through a copier.
# A team answers right only if the answering agent hears a0 and nothing from the liar.
LIAR_AGENTS = tuple(AgentSpec(f"a{i}", r, GenerationSettings(max_tokens=16)) for i, r in enumerate(ROLES[:4]))
LIAR_ATTACK_SEED = 1  # draws a1 of a0…a3 (the test checks it)


def liar_reply(messages: Sequence[Message], settings: GenerationSettings) -> str:
    system, heard = messages[0].content, messages[-1].content
    if system.startswith("You are a deceptive agent"):
        return "The answer is 7"
    if "The answer is 7" in heard:
        return "The answer is 7"
    if system.startswith("You are a knowledgeable expert") or "The answer is 42" in heard:
        return "The answer is 42"
    return "The answer is 5"


def liar_backend() -> ScriptedBackend:
    return ScriptedBackend(liar_reply)


class LiarTask(PlantedTask):
    name, roles = "planted-liar", ROLES[:4]


# Escalation (complementary agents): two cheap agents on model "small" and a strong one on "big"
# (eight times the price). On an AGREE query both cheap agents answer right; on a SPLIT query they
# disagree, both wrong (7 and 9), and only the strong agent answers it. Which kind a query is, is
# hidden from its text (its number's residue), so on held-out queries only the round's agreement
# tells them apart: the learner must stop after round 0 on agreement and escalate otherwise.
SMALL, BIG = "small", "big"
ESCALATION_AGENTS = (
    AgentSpec("c0", "cot", GenerationSettings(max_tokens=16), model=SMALL),
    AgentSpec("c1", "math_solver", GenerationSettings(max_tokens=16), model=SMALL),
    AgentSpec("s", "critic", GenerationSettings(max_tokens=16), model=BIG),
)
ESCALATION_PRICES = {SMALL: 1.0, BIG: 8.0}


def split(question: str) -> bool:
    return int(question.split("number ")[1].split(":")[0]) % 3 == 0


def cheap_reply(messages: Sequence[Message], settings: GenerationSettings) -> str:
    question = messages[-1].content.split("\n")[0]
    if split(question):
        return "The answer is 9" if messages[0].content.startswith("You are a math expert") else "The answer is 7"
    return "The answer is 42"


def escalation_backends() -> dict[str, ScriptedBackend]:
    return {SMALL: ScriptedBackend(cheap_reply), BIG: ScriptedBackend(lambda m, s: "The answer is 42")}


class EscalationTask(PlantedTask):
    name = "planted-escalation"

    def __init__(self, numbers: Sequence[int] = range(6)):
        self.numbers = list(numbers)

    def items(self, split: str = "train"):
        return iter([Item(f"q/{i}", f"Question number {i}: what is the answer?", "42") for i in self.numbers])


# Tool status (complementary agents): a program-aided agent p on "small" and a fallback f on
# "big" (eight times the price). p's program fails on FAIL queries (hidden: their number's residue)
# and its answer is then wrong; f is always right. The learner must escalate exactly when p's tool
# failed — on held-out queries only the tool's status tells.
TOOL_AGENTS = (
    AgentSpec("p", "pal", GenerationSettings(max_tokens=16), model=SMALL, tool="python"),
    AgentSpec("f", "critic", GenerationSettings(max_tokens=16), model=BIG),
)


def program_reply(messages: Sequence[Message], settings: GenerationSettings) -> str:
    question = messages[-1].content.split("\n")[0]
    return "```python\nprint(7)\n```" if split(question) else "```python\nprint(42)\n```"


def tool_backends() -> dict[str, ScriptedBackend]:
    return {SMALL: ScriptedBackend(program_reply), BIG: ScriptedBackend(lambda m, s: "The answer is 42")}


class PlantedTools:
    """A tool runner without a sandbox: a program printing 7 crashes, one printing 42 prints it."""

    async def __call__(self, tool: ToolKind, reply: str, query: str) -> ToolRun:
        if "print(7)" in reply:
            return ToolRun(tool, "failed", "print(7)", "Traceback: ValueError: bad input")
        return ToolRun(tool, "passed", "print(42)", "42\n", "42")
