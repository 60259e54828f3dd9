"""Complementary agents in the runtime: each agent's model, price, tool and log-probability."""

from __future__ import annotations

import pytest

from agentnet.agents import AgentSpec
from agentnet.errors import ConfigError
from agentnet.graph import CommGraph, Decision
from agentnet.runtime import Team
from agentnet.testing import ScriptedBackend
from agentnet.tools import ToolKind, ToolRun
from agentnet.types import GenerationSettings

ASK_LOGPROBS = GenerationSettings(logprobs=True)


class FakeTools:
    """A tool runner that 'executes' by a rule: it reports the reply's length as the result."""

    def __init__(self, status: str = "passed"):
        self.status, self.calls = status, []

    async def __call__(self, tool: ToolKind, reply: str, query: str) -> ToolRun:
        self.calls.append((tool, reply, query))
        return ToolRun(tool, self.status, reply, f"{len(reply)}\n", str(len(reply)) if self.status == "passed" else "")  # type: ignore[arg-type]


def test_costs_follow_each_models_price() -> None:
    specs = [AgentSpec("cheap", "cot", model="m05"), AgentSpec("strong", "cot", model="m15")]
    g = CommGraph.uniform(specs, decision=Decision("majority_vote"))
    # 5 + 2 and 5 + 3 tokens (the fake counts words)
    backends = {"m05": ScriptedBackend(["The answer is 4"]), "m15": ScriptedBackend(["so the answer is 4"])}
    t = Team(g, backends, prices={"m05": 0.5, "m15": 1.5}).run("what is 2 + 2 ?")
    by_agent = t.cost_by_agent()
    prompt = t.messages[0].usage.prompt_tokens
    assert by_agent["cheap"] == pytest.approx((prompt + 4) * 0.5 / 1000)
    assert by_agent["strong"] == pytest.approx((prompt + 5) * 1.5 / 1000)
    assert t.cost == pytest.approx(sum(by_agent.values())) and t.to_dict()["cost"] == pytest.approx(t.cost)


def test_a_model_without_a_price_costs_one_per_thousand_tokens() -> None:
    g = CommGraph.uniform([AgentSpec("a0", "cot")], decision=Decision("last_agent"))
    t = Team(g, ScriptedBackend(["The answer is 1"])).run("q")
    assert t.cost == pytest.approx(t.usage.total_tokens / 1000)


@pytest.mark.parametrize("price", [-1.0, float("nan"), float("inf")])
def test_a_bad_price_is_refused(price: float) -> None:
    g = CommGraph.uniform([AgentSpec("a0", "cot")])
    with pytest.raises(ConfigError, match="must be a finite number"):
        Team(g, ScriptedBackend([]), prices={"default": price})


def test_a_tool_observation_is_what_peers_and_the_vote_read() -> None:
    specs = [AgentSpec("pal", "pal", tool="python"), AgentSpec("cot", "cot")]
    g = CommGraph.uniform(specs, [("pal", "cot")], decision=Decision("majority_vote"))
    tools = FakeTools()
    t = Team(g, ScriptedBackend(["```python\nx\n```", "I read it. The answer is 12"]), tools=tools).run("q")
    run = t.messages[0].tool_run
    assert run is not None and run.ok and run.result == str(len("```python\nx\n```"))
    assert tools.calls == [("python", "```python\nx\n```", "q")]
    peer_prompt = t.messages[1].prompt[-1].content
    assert "[python] The program ran and printed:" in peer_prompt and f"The answer is {run.result}" in peer_prompt
    assert t.messages[0].output == "```python\nx\n```" and t.messages[0].said.endswith(f"The answer is {run.result}")
    assert t.tool_runs == [run]


def test_a_failed_tool_states_no_answer() -> None:
    g = CommGraph.uniform([AgentSpec("pal", "pal", tool="python")], decision=Decision("last_agent"))
    t = Team(g, ScriptedBackend(["```python\nboom\n```"]), tools=FakeTools("failed")).run("q")
    assert "[python] The program failed" in t.answer and "The answer is" not in t.answer


def test_a_tool_runner_that_raises_is_recorded_as_the_tools_error() -> None:
    class Broken:
        async def __call__(self, tool: ToolKind, reply: str, query: str) -> ToolRun:
            raise RuntimeError("sandbox gone")

    g = CommGraph.uniform([AgentSpec("pal", "pal", tool="python")], decision=Decision("last_agent"))
    t = Team(g, ScriptedBackend(["```python\nx\n```"]), tools=Broken()).run("q")
    run = t.messages[0].tool_run
    assert run is not None and run.status == "error" and "sandbox gone" in run.output and t.error is None


def test_a_team_whose_agents_use_tools_needs_a_runner() -> None:
    g = CommGraph.uniform([AgentSpec("pal", "pal", tool="python")])
    with pytest.raises(ConfigError, match="use the tool\\(s\\) python and the team has no tool runner"):
        Team(g, ScriptedBackend(["x"])).run("q")


def test_stream_shows_the_tool_event_before_the_calls_finish() -> None:
    g = CommGraph.uniform([AgentSpec("pal", "pal", tool="python")], decision=Decision("last_agent"))
    events = list(Team(g, ScriptedBackend(["```python\nx\n```"]), tools=FakeTools()).stream("q"))
    kinds = [e.event for e in events]
    assert kinds.index("tool") < kinds.index("finish") and events[kinds.index("tool")].status == "passed"


def test_the_answer_logprob_is_the_mean_over_the_answer_tokens() -> None:
    def logprob(reply: str) -> float:
        return -0.25 if "7" in reply else -2.0

    g = CommGraph.uniform(
        [AgentSpec("a0", "cot", ASK_LOGPROBS), AgentSpec("a1", "cot")], decision=Decision("last_agent")
    )
    t = Team(g, ScriptedBackend(["so The answer is 7", "The answer is 9"], logprob=logprob)).run("q")
    assert t.messages[0].logprob == pytest.approx(-0.25)  # asked for
    assert t.messages[1].logprob is None  # a1 did not ask


def test_decision_runs_on_its_own_model() -> None:
    g = CommGraph.uniform([AgentSpec("a0", "cot", model="small")], decision=Decision("final_refer", model="big"))
    small, big = ScriptedBackend(["The answer is 1"]), ScriptedBackend(["The answer is 2"])
    t = Team(g, {"small": small, "big": big}).run("q")
    assert [m.model for m in t.messages] == ["small", "big"] and t.answer == "The answer is 2"
