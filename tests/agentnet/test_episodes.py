"""`run_episode`: the one loop from an item to a scored episode, and what a failure scores."""

from __future__ import annotations

import asyncio

import pytest

from agentnet.agents import AgentSpec
from agentnet.episodes import run_episode, run_team, score_episode
from agentnet.errors import BackendError, ConfigError
from agentnet.graph import CommGraph, Decision
from agentnet.runtime import Team
from agentnet.task_types import Item, Score
from agentnet.testing import ScriptedBackend


class Lenient:
    """Exact match scores 1; an empty answer scores 0.25 (so a failed run's score shows whether the
    task scored it or a loop decided it by itself)."""

    name, roles, decision = "lenient", ("math_solver",), "last_agent"

    def items(self, split: str = "test"):
        return iter([])

    def extract(self, output: str) -> str:
        return output.split()[-1] if output.split() else ""

    async def score(self, item: Item, output: str) -> Score:
        got = self.extract(output)
        return Score(0.25 if not got else float(got == item.answer), got)


def pair(backend: ScriptedBackend | None = None) -> Team:
    agents = [AgentSpec("a0", "math_solver"), AgentSpec("a1", "math_solver")]
    return Team(CommGraph.uniform(agents, decision=Decision("last_agent")), backend or ScriptedBackend(reply))


def reply(messages, settings) -> str:
    if "down" in messages[-1].content:
        return BackendError("connection refused", url="http://x")  # type: ignore[return-value]
    return "the answer is 7" if "x = 7" in messages[-1].content else "no idea"


ITEM = Item("q/0", "What is x?", "7", private=(("y = 1",), ("x = 7",)))


def test_each_agent_sees_only_its_own_private_facts_and_the_episode_carries_the_run() -> None:
    backend = ScriptedBackend(reply)
    episode = asyncio.run(run_episode(pair(backend), Lenient(), ITEM))
    prompts = ["\n".join(m.content for m in c.messages) for c in backend.calls]
    assert [("y = 1" in p, "x = 7" in p) for p in prompts] == [(True, False), (False, True)]
    assert (episode.score.value, episode.score.extracted, episode.failed, episode.error) == (1.0, "7", False, None)
    assert episode.tokens == episode.trajectory.usage.total_tokens > 0 and episode.calls == 2


def test_a_failed_run_is_scored_by_the_task_on_what_it_answered_and_says_it_failed() -> None:
    item = Item("q/1", "down: what is x?", "7")
    episode = asyncio.run(run_episode(pair(), Lenient(), item))
    assert episode.failed and "connection refused" in (episode.error or "")
    assert (episode.score.value, episode.trajectory.answer) == (0.25, "")


def test_an_answer_read_elsewhere_is_scored_and_its_reading_error_kept() -> None:
    async def go():
        trajectory = await run_team(pair(), ITEM)
        return await score_episode(Lenient(), ITEM, trajectory, answer="", read_error="extract() raised")

    episode = asyncio.run(go())
    assert not episode.failed and episode.error == "extract() raised" and episode.score.value == 0.25


def test_private_facts_are_typed_per_agent_and_meta_private_is_refused() -> None:
    item = Item("q/2", "q", "a", private=[["f1", "f2"], ["g"]])  # type: ignore[arg-type]
    assert item.private == (("f1", "f2"), ("g",))
    assert Item("q/3", "q", "a").private == ()
    with pytest.raises(ConfigError, match=r"Item.private"):
        Item("q/4", "q", "a", {"private": [["f"]]})
    with pytest.raises(ConfigError, match=r"one list of facts per agent"):
        Item("q/5", "q", "a", private=("f1", "f2"))  # type: ignore[arg-type]


def test_more_private_lists_than_agents_stops_the_episode_naming_the_fix() -> None:
    item = Item("q/6", "q", "a", private=(("1",), ("2",), ("3",)))
    with pytest.raises(ConfigError, match="3 private contexts for 2 agents; use more agents"):
        asyncio.run(run_episode(pair(), Lenient(), item))
