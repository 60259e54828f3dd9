"""The runtime against the real embedded SmolLM2 server."""

from __future__ import annotations

import pytest

from agentnet.agents import AgentSpec
from agentnet.graph import Decision
from agentnet.runtime import Team
from agentnet.serving import Server
from agentnet.topologies.fixed import fixed
from agentnet.types import GenerationSettings

pytestmark = pytest.mark.integration
SETTINGS = GenerationSettings(max_tokens=24)


def _team(server: Server, topology: str, n: int, rounds: int) -> Team:
    specs = [AgentSpec(f"a{i}", r, SETTINGS) for i, r in enumerate(["math_solver", "inspector", "critic"][:n])]
    return Team(
        fixed(topology, specs, rounds=rounds, decision=Decision("final_refer", settings=SETTINGS)), server.backend()
    )


def test_debate_on_the_real_server_accounts_every_token(smollm2_server: Server) -> None:
    t = _team(smollm2_server, "debate", 2, 2).run("What is 12+7?")
    assert t.calls == 5 and not t.errors  # 2 agents × 2 rounds + the decision
    assert all(m.usage.prompt_tokens > 0 and m.usage.completion_tokens > 0 for m in t.messages)
    # round 1 prompts carry both round-0 answers, so they are longer than round 0's
    p = {(m.agent, m.round): m.usage.prompt_tokens for m in t.messages}
    assert p[("a0", 1)] > p[("a0", 0)] and p[("a1", 1)] > p[("a1", 0)]
    assert t.answer.strip()


def test_stream_on_the_real_server(smollm2_server: Server) -> None:
    events = list(_team(smollm2_server, "chain", 2, 1).stream("What is 3+4?"))
    deltas = [e for e in events if e.event == "delta"]
    trajectory = events[-1].trajectory
    assert len(deltas) > 2 and trajectory is not None and trajectory.calls == 3
    first = "".join(e.text for e in deltas if e.agent == "a0")
    assert first == trajectory.output("a0", 0)
