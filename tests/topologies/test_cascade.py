"""Hand-written cascades: the strong agent runs, hearing the cheap round, only when its rule says."""

from __future__ import annotations

import pytest

from agentnet.agents import AgentSpec
from agentnet.errors import AgentNetError
from agentnet.graph import Decision
from agentnet.runtime import Team
from agentnet.testing import ScriptedBackend
from agentnet.tools import ToolKind, ToolRun
from agentnet.topologies.cascade import Cascade
from agentnet.topologies.registry import resolve

AGENTS = (
    AgentSpec("c0", "cot", model="small"),
    AgentSpec("c1", "math_solver", model="small"),
    AgentSpec("s", "cot", model="big"),
)
LAST = Decision("last_agent")


def backends(c0: str, c1: str) -> dict[str, ScriptedBackend]:
    cheap = ScriptedBackend(lambda m, s: c1 if m[0].content.startswith("You are a math expert") else c0)
    return {"small": cheap, "big": ScriptedBackend(["The answer is 42"])}


def test_agreeing_openers_settle_it_alone() -> None:
    t = Team(resolve("cascade:agree", AGENTS, 1, LAST), backends("The answer is 4", "so 4. The answer is 4")).run("q")
    assert t.rounds_run == 1 and t.answer.endswith("4") and [m.agent for m in t.messages] == ["c0", "c1"]
    assert t.skipped() == ["s@0", "round 1"]


def test_disagreeing_openers_escalate_and_the_strong_agent_hears_them() -> None:
    t = Team(Cascade(AGENTS, LAST, "agree"), backends("The answer is 4", "The answer is 5")).run("q")
    assert t.rounds_run == 2 and t.answer == "The answer is 42"
    strong = t.messages[-1]
    assert (
        strong.agent == "s" and strong.temporal_from == ("c0", "c1") and "The answer is 5" in strong.prompt[-1].content
    )


def test_a_failed_tool_escalates_under_tool_ok() -> None:
    class Tools:
        async def __call__(self, tool: ToolKind, reply: str, query: str) -> ToolRun:
            return ToolRun(
                tool, "failed" if "boom" in reply else "passed", reply, "out", "" if "boom" in reply else "3"
            )

    agents = (AgentSpec("p", "pal", model="small", tool="python"), AgentSpec("s", "cot", model="big"))
    ok = Team(
        Cascade(agents, LAST, "tool-ok"),
        {"small": ScriptedBackend(["```python\nx\n```"]), "big": ScriptedBackend([])},
        tools=Tools(),
    ).run("q")
    assert ok.rounds_run == 1 and ok.answer.endswith("The answer is 3")
    failed = Team(
        Cascade(agents, LAST, "tool-ok"),
        {"small": ScriptedBackend(["```python\nboom\n```"]), "big": ScriptedBackend(["The answer is 42"])},
        tools=Tools(),
    ).run("q")
    assert failed.rounds_run == 2 and failed.answer == "The answer is 42"


def test_bad_cascades_are_one_line() -> None:
    with pytest.raises(AgentNetError, match="unknown cascade rule 'vibes'"):
        resolve("cascade:vibes", AGENTS, 1, LAST)
    with pytest.raises(AgentNetError, match="at least 2 agents"):
        Cascade(AGENTS[:1], LAST)
