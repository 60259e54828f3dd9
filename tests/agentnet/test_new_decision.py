"""A decision kind added the way the registry says (its `DecisionInfo` in agentnet.decisions, its
decider beside the runtime's), here by a fixture: nothing else needs editing for a team to run
with it, the Trace trainer to tune its prompt, the problem to describe it and the drawing to
wire it. (tests/test_contracts.py checks that no other module branches on a kind's name.)"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentnet.agents import AgentSpec, PeerOutput, build_messages
from agentnet.decisions import DECISIONS, DecisionInfo, decision_info
from agentnet.drawing import draw_topology
from agentnet.graph import CommGraph, Decision
from agentnet.prompts import load_role
from agentnet.runtime import Team
from agentnet.runtime.decide import DECIDERS, Decided
from agentnet.runtime.node import RunContext, RunState, call_agent, key
from agentnet.task_types import Item, Score
from agentnet.testing import ScriptedBackend
from agentnet.trajectory import DECISION
from agentnet.training.trace.params import TeamSpec, team_parameters
from agentnet.training.trace.problem import build_problem
from agentnet.episodes import run_episode

FIRST = DecisionInfo(
    "first_refer",
    "final_refer",
    llm_call=True,
    needs_code_check=False,  # type: ignore[arg-type]
    help="an LLM agent reads only the first agent's final output and answers",
)


async def first_refer(graph: CommGraph, ctx: RunContext, state: RunState, last: int, stream: bool) -> Decided:
    """The decider: one LLM call that sees the first agent's final output alone."""
    d, first = graph.decision, graph.agents[0]
    agent = AgentSpec(DECISION, d.role, d.settings, model=d.model or graph.agents[-1].model, system=d.system)
    peers = [PeerOutput(first.name, first.role, state.get("outputs", {}).get(key(first.name, last), ""))]
    text, record = await call_agent(
        ctx,
        agent=DECISION,
        round=last + 1,
        kind="decision",
        model=agent.model,
        messages=build_messages(agent, state["query"], peers),
        settings=agent.settings,
        spatial_from=(first.name,),
        stream=stream,
    )
    return Decided(text, [record])


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(DECISIONS, "first_refer", FIRST)
    monkeypatch.setitem(DECIDERS, "first_refer", first_refer)
    yield


def reply(messages, settings) -> str:
    system, user = messages[0].content, messages[-1].content
    if system == load_role("final_refer").system:  # the decision: it says whose outputs it read
        return f"read {sorted(w for w in ('four', 'five') if w in user)}; the answer is 4"
    return "four" if system == load_role("math_solver").system else "five"


class Fours:
    name, roles, decision = "fours", ("math_solver",), "final_refer"

    def items(self, split: str = "test"):
        return iter([Item("fours/0", "What is 2+2?", "4")])

    def extract(self, output: str) -> str:
        return output.split()[-1] if output.split() else ""

    async def score(self, item: Item, output: str) -> Score:
        return Score(float(self.extract(output) == item.answer), self.extract(output))


AGENTS = (AgentSpec("a0", "math_solver"), AgentSpec("a1", "inspector"))


def test_a_team_runs_with_a_decision_kind_registered_in_two_places(registered: None) -> None:
    graph = CommGraph.uniform(list(AGENTS), decision=Decision("first_refer"))
    assert graph.decision.role == "final_refer" and graph.calls() == 3  # two agents and the decision's call
    episode = asyncio.run(run_episode(Team(graph, ScriptedBackend(reply)), Fours(), next(Fours().items())))
    decided = [m for m in episode.trajectory.messages if m.kind == "decision"]
    assert [m.spatial_from for m in decided] == [("a0",)]
    assert episode.trajectory.answer == "read ['four']; the answer is 4" and episode.score.value == 1.0


def test_trace_tunes_its_prompt_and_describes_it_from_the_registry(registered: None, tmp_path: Path) -> None:
    spec = TeamSpec("chain", AGENTS, 1, Decision("first_refer"))
    params = team_parameters(spec, ["prompts", "decision"])
    assert params.names == ["a0_prompt", "a1_prompt", "decision_prompt"]
    tuned = params.with_values({"decision_prompt": "Answer with the first agent's number."})
    backend = ScriptedBackend(reply)
    Team(tuned.apply(spec).graph(), backend).run("What is 2+2?")
    assert backend.calls[-1].messages[0].content == "Answer with the first agent's number."
    item = next(Fours().items())
    episode = asyncio.run(run_episode(Team(params.apply(spec).graph(), ScriptedBackend(reply)), Fours(), item))
    problem = build_problem("fours", spec, params, [episode])
    assert "answer = first_refer(system=decision_prompt, task=query, finals=[a0_r0, a1_r0])" in problem.code
    assert f"[first_refer] first_refer(system, task, finals): {FIRST.help}." in problem.documentation
    assert draw_topology(params.apply(spec).graph(), tmp_path / "g.png").stat().st_size > 0


def test_without_the_registration_the_kind_is_unknown_and_named() -> None:
    with pytest.raises(Exception, match="unknown decision 'first_refer'; known: final_refer"):
        decision_info("first_refer")
