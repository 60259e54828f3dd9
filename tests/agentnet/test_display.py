from __future__ import annotations

import io

from rich.console import Console

from agentnet.agents import AgentSpec
from agentnet.display import print_stream
from agentnet.graph import CommGraph, Decision
from agentnet.runtime.team import TeamEvent
from agentnet.trajectory import Trajectory

GRAPH = CommGraph.uniform(
    [AgentSpec("a0", "math_solver"), AgentSpec("a1", "math_solver")], decision=Decision("last_agent")
)


def shown(events: list[TeamEvent]) -> str:
    out = io.StringIO()
    done = TeamEvent("done", trajectory=Trajectory("q", GRAPH, [], "", 1))
    trajectory = print_stream(iter([*events, done]), Console(file=out, width=200, color_system=None))
    assert trajectory is done.trajectory
    return out.getvalue()


def call(agent: str, *pieces: str, retract_after: int | None = None) -> list[TeamEvent]:
    events = [TeamEvent("delta", agent, 0, p) for p in pieces]
    if retract_after is not None:
        events.insert(retract_after, TeamEvent("retract", agent, 0))
    return events


def test_a_held_calls_retracted_text_is_never_shown() -> None:
    events = [
        TeamEvent("start", "a0", 0),
        TeamEvent("start", "a1", 0),
        *call("a1", "HALF", " GONE", "fresh", " one", retract_after=2),  # a1 is held while a0 prints
        *call("a0", "live"),
        TeamEvent("finish", "a1", 0, usage=(1, 2)),
        TeamEvent("finish", "a0", 0, usage=(3, 4)),
    ]
    text = shown(events)
    assert "HALF" not in text and "GONE" not in text and "fresh one" in text
    assert text.index("live") < text.index("── a1") < text.index("fresh one")
    assert "discarded" not in text


def test_a_live_calls_retracted_text_is_marked_discarded() -> None:
    events = [
        TeamEvent("start", "a0", 0),
        *call("a0", "half", " way", "whole", retract_after=2),
        TeamEvent("finish", "a0", 0),
    ]
    text = shown(events)
    assert text.index("half way") < text.index("discarded") < text.index("whole")


def printed(topology: str, decision: str, replies: list[str], agents: int = 3) -> list[str]:
    """What `agentnet run` prints for a team of `agents` on `topology` answering with `replies`."""
    from agentnet.assembly.team import team_for, topology_for
    from agentnet.configs import TeamConfig
    from agentnet.display import print_result
    from agentnet.testing import ScriptedBackend

    config = TeamConfig(topology=topology, agents=agents, rounds=1, decision=decision)
    trajectory = team_for(None, topology_for(config), ScriptedBackend(replies), config).run("What is 3 x 4?")
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    print_result(trajectory, console, console)
    return out.getvalue().splitlines()


def test_a_vote_prints_the_answer_then_every_vote_then_the_reply_it_came_from() -> None:
    lines = printed("debate", "majority_vote", ["3 x 4 = 12. The answer is 12", "The answer is 144", "It is 12."])
    assert lines[:4] == [
        "Answer: 12",
        "votes: a0 12 · a1 144 · a2 12",
        "── a0 (Math Solver)",
        "3 x 4 = 12. The answer is 12",
    ]


def test_the_answer_line_is_the_extracted_answer_not_the_last_agents_whole_text() -> None:
    lines = printed(
        "chain", "last_agent", ["The answer is 12", "Checked: \\[ 3 \\times 4 = 12 \\]\nThe answer is 12"], agents=2
    )
    assert lines[:4] == [
        "Answer: 12",
        "── a1 (Mathematical Analyst)",
        "Checked: \\[ 3 \\times 4 = 12 \\]",
        "The answer is 12",
    ]
    assert any("total" in line for line in lines[4:])  # then the token table


def test_a_decision_agents_reply_is_the_reasoning_shown() -> None:
    lines = printed("debate", "final_refer", ["The answer is 12", "The answer is 13", "Having read both: 12"], agents=2)
    assert lines[:3] == ["Answer: 12", "── decision (Final Decision Maker)", "Having read both: 12"]
