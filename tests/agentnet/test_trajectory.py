from __future__ import annotations

import json
from pathlib import Path

from agentnet.agents import AgentSpec
from agentnet.graph import CommGraph
from agentnet.trajectory import MessageRecord, Trajectory
from agentnet.types import Message, Usage

GRAPH = CommGraph.uniform((AgentSpec("a0", "math_solver"), AgentSpec("a1", "math_solver")), [("a0", "a1")])


def _record(agent: str, usage: Usage, finish: str = "stop", cached: bool = False, **kw: object) -> MessageRecord:
    return MessageRecord(
        agent, 0, "agent", (Message("user", "q"),), "out", usage, 0.1, finish_reason=finish, cached=cached, **kw
    )  # type: ignore[arg-type]


def _trajectory() -> Trajectory:
    messages = [
        _record("a0", Usage(10, 5), "stop", cached=True),
        _record("a1", Usage(20, 8), "length"),
        _record("decision", Usage(30, 2), "length", cached=True),
        _record("a0", Usage(1, 1), "unknown"),
    ]
    return Trajectory("q", GRAPH, messages, "8", rounds_run=1)


def test_spent_versus_served_tokens_and_cut_off_calls() -> None:
    t = _trajectory()
    assert t.spent_usage == t.usage == Usage(61, 16)  # every call, cached or not
    assert t.served_usage == Usage(21, 9)  # only the calls a server answered
    assert (t.calls, t.cached_calls, t.cut_off_calls, t.unknown_finish_calls) == (4, 2, 2, 1)
    assert t.finish_reasons() == {"stop": 1, "length": 2, "unknown": 1}


def test_round_trip_keeps_finish_reasons_and_cache_flags(tmp_path: Path) -> None:
    t = _trajectory()
    loaded = Trajectory.load(t.save(tmp_path / "t.json"))
    assert loaded.messages == t.messages
    stored = json.loads((tmp_path / "t.json").read_text())
    assert stored["served_usage"] == {"prompt_tokens": 21, "completion_tokens": 9}
    assert [m["finish_reason"] for m in stored["messages"]] == ["stop", "length", "length", "unknown"]


def test_old_trajectories_without_the_new_fields_still_load() -> None:
    d = _trajectory().to_dict()
    d.pop("served_usage")
    for m in d["messages"]:
        del m["finish_reason"], m["cached"]
    old = Trajectory.from_dict(d)
    assert all(m.finish_reason == "unknown" and not m.cached for m in old.messages)
    assert (old.cut_off_calls, old.unknown_finish_calls, old.served_usage) == (0, 4, old.usage)
