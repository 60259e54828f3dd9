"""A checkpointed run whose process is SIGKILLed mid-round resumes without re-running finished agents."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agentnet.agents import AgentSpec
from agentnet.graph import CommGraph, Decision
from agentnet.runtime import Team
from agentnet.testing import ScriptedBackend

GRAPHS = {
    # a0 -> a1 -> a2 over two rounds: killed at the 5th call (a1 of round 1)
    "chain": CommGraph.uniform(
        [AgentSpec(f"a{i}", "math_solver") for i in range(3)],
        [("a0", "a1"), ("a1", "a2")],
        [("a2", "a0")],
        rounds=2,
        decision=Decision("last_agent"),
    ),
    # three agents at once: killed at the 2nd call, after the 1st finished in the same superstep
    "layer": CommGraph.uniform([AgentSpec(f"a{i}", "math_solver") for i in range(3)], decision=Decision("last_agent")),
}
# the call during which the process dies, and the calls that had finished by then
KILL_AT = {"chain": 5, "layer": 2}
FINISHED = {"chain": [1, 2, 3, 4], "layer": [1, 3]}

VICTIM = """
import asyncio, os, signal, sys
from agentnet.graph import CommGraph
from agentnet.runtime import Team
from agentnet.types import Completion, Usage

graph = CommGraph.from_json(open(sys.argv[1]).read())
kill_at = int(sys.argv[3])


class Victim:
    # answers at once, except the kill_at-th call: the process dies while it is in flight
    name = "victim"
    calls = 0

    async def complete(self, messages, settings, *, on_delta=None):
        Victim.calls += 1
        n = Victim.calls
        if n == kill_at:
            await asyncio.sleep(0.5)
            os.kill(os.getpid(), signal.SIGKILL)
        return Completion(f"first-run-{n}", "stop", Usage(1, 1), 0.0)


Team(graph, Victim(), checkpoint=sys.argv[2]).run("q", thread_id="victim")
"""


@pytest.mark.parametrize("shape", ["chain", "layer"])
def test_resume_after_sigkill(tmp_path: Path, shape: str) -> None:
    graph, db = GRAPHS[shape], tmp_path / "ckpt.sqlite"
    (tmp_path / "graph.json").write_text(graph.to_json())
    (tmp_path / "victim.py").write_text(textwrap.dedent(VICTIM))
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "victim.py"), str(tmp_path / "graph.json"), str(db), str(KILL_AT[shape])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr  # really killed

    resumed = ScriptedBackend(lambda m, s: "second-run")
    t = Team(graph, resumed, checkpoint=db).run("q", thread_id="victim")
    total, finished = len(graph.agents) * graph.rounds, FINISHED[shape]
    assert len(resumed.calls) == total - len(finished)  # no finished agent re-ran
    outputs = [m.output for m in t.messages]
    assert sorted(o for o in outputs if o.startswith("first-run")) == [f"first-run-{i}" for i in finished]
    assert outputs.count("second-run") == total - len(finished) and t.calls == total
