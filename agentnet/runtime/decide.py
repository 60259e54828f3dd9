"""Decision nodes: how the final round's outputs become the team's answer. Registry: `DECIDERS`,
keyed like `agentnet.decisions.DECISIONS` (which carries each kind's metadata)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agentnet.agents import AgentSpec, PeerOutput, build_messages
from agentnet.answers import code_from
from agentnet.errors import ConfigError
from agentnet.graph import CommGraph
from agentnet.runtime.node import RunContext, RunState, call_agent, key, spoken
from agentnet.trajectory import DECISION


@dataclass(frozen=True)
class Decided:
    answer: str
    records: list[dict[str, Any]]


Decider = Callable[[CommGraph, RunContext, RunState, int, bool], Awaitable[Decided]]


def _final_outputs(graph: CommGraph, state: RunState, last: int) -> list[PeerOutput]:
    outputs = state.get("outputs", {})
    said = ((a, outputs.get(key(a.name, last), "")) for a in graph.agents)
    return [PeerOutput(a.name, a.role, text) for a, text in said if text.strip()]


def _decision_agent(graph: CommGraph) -> AgentSpec:
    d = graph.decision
    return AgentSpec(DECISION, d.role, d.settings, model=d.model or graph.agents[-1].model, system=d.system)


def _most_common(answers: list[str]) -> str:
    """The most common answer, ties to the earliest; "" when there is none."""
    if not answers:
        return ""
    counts = Counter(answers)
    top = max(counts.values())
    return next(a for a in answers if counts[a] == top)


async def last_agent(graph: CommGraph, ctx: RunContext, state: RunState, last: int, stream: bool) -> Decided:
    name = graph.last_agent(last)
    return Decided(state.get("outputs", {}).get(key(name, last), ""), [])


async def majority_vote(graph: CommGraph, ctx: RunContext, state: RunState, last: int, stream: bool) -> Decided:
    answers = [ctx.extract(p.output) for p in _final_outputs(graph, state, last)]
    return Decided(_most_common([a for a in answers if a]), [])


async def passing_vote(graph: CommGraph, ctx: RunContext, state: RunState, last: int, stream: bool) -> Decided:
    """Self-consistency for code: the most common answer among the final-round agents whose tool
    passed (ties: the earliest); none passed: the earliest agent's answer."""
    said = [s for s in spoken(graph, ctx, state, last).values() if s.answer]
    passed = [s.answer for s in said if s.tool_status == "passed"]
    if not passed:
        return Decided(said[0].answer if said else "", [])
    return Decided(_most_common(passed), [])


async def final_refer(graph: CommGraph, ctx: RunContext, state: RunState, last: int, stream: bool) -> Decided:
    agent = _decision_agent(graph)
    peers = _final_outputs(graph, state, last)
    text, record = await call_agent(
        ctx,
        agent=DECISION,
        round=last + 1,
        kind="decision",
        model=agent.model,
        messages=build_messages(agent, state["query"], peers),
        settings=agent.settings,
        spatial_from=tuple(p.name for p in peers),
        stream=stream,
    )
    return Decided(text, [record])


async def code_writer(graph: CommGraph, ctx: RunContext, state: RunState, last: int, stream: bool) -> Decided:
    """Write code, run the task's check on it, rewrite with the failures up to `max_fixes` times."""
    agent = _decision_agent(graph)
    peers = _final_outputs(graph, state, last)
    records, feedback, code = [], "", ""
    for _ in range(graph.decision.max_fixes + 1):
        messages = build_messages(agent, state["query"], peers, feedback=feedback)
        text, record = await call_agent(
            ctx,
            agent=DECISION,
            round=last + 1,
            kind="decision",
            model=agent.model,
            messages=messages,
            settings=agent.settings,
            spatial_from=tuple(p.name for p in peers),
            stream=stream,
        )
        records.append(record)
        code = code_from(text)
        if ctx.code_check is None:  # Team refuses code_writer without a check; this is a second line
            raise ConfigError("decision 'code_writer' needs code_check= (the task's example tests)")
        ok, report = await ctx.code_check(code, state["query"])
        if ok:
            break
        feedback = f"```python\n{code}\n```\n{report}"
    return Decided(code, records)


DECIDERS: dict[str, Decider] = {
    "final_refer": final_refer,
    "majority_vote": majority_vote,
    "code_writer": code_writer,
    "last_agent": last_agent,
    "passing_vote": passing_vote,
}


def decider_for(graph: CommGraph) -> Decider:
    """The graph's decider; a graph without a decision step answers with its last agent."""
    return DECIDERS[graph.decision.kind] if graph.decide else last_agent
