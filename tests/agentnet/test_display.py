from __future__ import annotations

import io

from rich.console import Console

from agentnet.agents import AgentSpec
from agentnet.display import print_stream
from agentnet.graph import CommGraph, Decision
from agentnet.runtime.team import TeamEvent
from agentnet.trajectory import Trajectory

GRAPH = CommGraph.uniform([AgentSpec("a0", "math_solver"), AgentSpec("a1", "math_solver")], decision=Decision("last_agent"))


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
        TeamEvent("start", "a0", 0), TeamEvent("start", "a1", 0),
        *call("a1", "HALF", " GONE", "fresh", " one", retract_after=2),  # a1 is held while a0 prints
        *call("a0", "live"),
        TeamEvent("finish", "a1", 0, usage=(1, 2)), TeamEvent("finish", "a0", 0, usage=(3, 4)),
    ]  # fmt: skip
    text = shown(events)
    assert "HALF" not in text and "GONE" not in text and "fresh one" in text
    assert text.index("live") < text.index("── a1") < text.index("fresh one")
    assert "discarded" not in text


def test_a_live_calls_retracted_text_is_marked_discarded() -> None:
    events = [TeamEvent("start", "a0", 0), *call("a0", "half", " way", "whole", retract_after=2), TeamEvent("finish", "a0", 0)]
    text = shown(events)
    assert text.index("half way") < text.index("discarded") < text.index("whole")
