"""Deciders that read what the final round said: passing_vote, self-consistency for code."""

from __future__ import annotations

from agentnet.agents import AgentSpec
from agentnet.graph import CommGraph, Decision
from agentnet.runtime import Team
from agentnet.testing import ScriptedBackend
from agentnet.tools import ToolKind, ToolRun


class Tools:
    """A tool that passes unless the reply says FAIL (what run tests report, scripted)."""

    async def __call__(self, tool: ToolKind, reply: str, query: str) -> ToolRun:
        return ToolRun(tool, "failed" if "FAIL" in reply else "passed", reply, "report", "")


def vote(*replies: str) -> str:
    agents = [AgentSpec(f"s{i}", "cot", tool="tests") for i in range(len(replies))]
    backend = ScriptedBackend(lambda messages, settings: replies[int(settings.seed or 0)])
    agents = [AgentSpec(a.name, a.role, a.settings.with_(seed=i), tool="tests") for i, a in enumerate(agents)]
    graph = CommGraph.uniform(agents, decision=Decision("passing_vote"))
    return Team(graph, backend, tools=Tools()).run("q").answer


def test_the_most_common_answer_among_the_passing_samples_wins() -> None:
    # the failing samples' answer (7) is the most common overall; among those that passed, 5
    assert (
        vote("FAIL The answer is 7", "FAIL The answer is 7", "The answer is 5", "The answer is 6", "The answer is 5")
        == "5"
    )


def test_ties_among_the_passing_go_to_the_earliest_and_none_passing_to_the_first_sample() -> None:
    assert vote("FAIL The answer is 7", "The answer is 6", "The answer is 5") == "6"
    assert vote("FAIL The answer is 7", "FAIL The answer is 8") == "7"
