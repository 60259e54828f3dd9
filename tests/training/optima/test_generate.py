import asyncio

import pytest

from agentnet.agents import AgentSpec
from agentnet.errors import ConfigError, UnknownNameError
from agentnet.testing import ScriptedBackend
from agentnet.training.optima.generate import Dialogue, check_formats, converse, formats, sequential
from agentnet.types import Completion, Usage
from tests.training.optima.tiny_task import TinyTask

DIALOGUE = Dialogue((AgentSpec("a0", "alice"), AgentSpec("a1", "bob")), rounds=2)


def speaker(messages, settings):
    system, user = messages[0].content, messages[-1].content
    who = "alice" if "You are Alice" in system else "bob"
    return f"{who} turn {user.count('alice turn') + user.count('bob turn')}"


def test_a_dialogue_alternates_and_each_agent_reads_the_other():
    backend = ScriptedBackend(speaker)
    traj = asyncio.run(converse(DIALOGUE, TinyTask(), TinyTask().item(0), backend)).trajectory
    said = [(m.agent, m.output) for m in traj.messages if m.kind == "agent"]
    assert [a for a, _ in said] == ["a0", "a1", "a0", "a1"]
    # Alice's second turn read her own and Bob's first-round messages
    assert "bob turn 1" in backend.calls[2].messages[-1].content
    assert sequential(DIALOGUE.graph())


def test_a_prefix_is_replayed_with_its_tokens_then_sampling_continues():
    backend = ScriptedBackend(speaker)
    prefix = [Completion("alice says Ann", "stop", Usage(0, 7), 0.0)]
    traj = asyncio.run(converse(DIALOGUE, TinyTask(), TinyTask().item(0), backend, prefix=prefix)).trajectory
    said = [m for m in traj.messages if m.kind == "agent"]
    assert said[0].output == "alice says Ann" and said[0].usage.completion_tokens == 7
    assert len(backend.calls) == 3  # only the turns after the prefix reached the backend
    assert "alice says Ann" in backend.calls[0].messages[-1].content


def test_format_seeds_extend_the_system_prompt_and_unknown_ones_are_named():
    graph = DIALOGUE.graph("json")
    assert graph.agents[0].system.endswith(formats()["json"])
    assert DIALOGUE.systems()["a0"] == graph.agents[0].system.split("\n\n")[0]
    with pytest.raises(UnknownNameError, match="yaml"):
        check_formats(["yaml"])
    with pytest.raises(ConfigError):
        Dialogue((AgentSpec("a0", "alice"),))


def test_only_the_same_tagged_answer_ends_a_dialogue_early():
    echo = ScriptedBackend(lambda messages, settings: "The task is: where?")
    traj = asyncio.run(converse(DIALOGUE, TinyTask(), TinyTask().item(0), echo)).trajectory
    assert traj.rounds_run == 2 and not traj.stopped_early  # agreeing on an echo is not an answer
    agree = ScriptedBackend(lambda messages, settings: "Q works in Lyon. <A>Lyon</A>")
    traj = asyncio.run(converse(DIALOGUE, TinyTask(), TinyTask().item(0), agree)).trajectory
    assert traj.stopped_early and len([m for m in traj.messages if m.kind == "agent"]) == 2
