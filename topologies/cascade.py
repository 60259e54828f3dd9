"""Hand-written cascades, the cost baselines a learned team must beat (FrugalGPT-style): the
opening agents answer first; the last agent runs — hearing them — only when a rule, read from
what the opening round said, says their answer is not to be trusted.

    --topology cascade:agree     stop after the cheap round when every opening agent answered alike
    --topology cascade:tool-ok   stop when every opening agent's tool passed and gave an answer

A `Cascade` is a `Topology` with an `inference_stop_gate` (the rule), so `Team` runs it as it
runs a learned stop head; nothing is trained.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from agentnet.agents import AgentSpec
from agentnet.errors import ConfigError, UnknownNameError
from agentnet.graph import CommGraph, Decision, ReceiveGate, StopGate
from agentnet.rounds import Spoken, agreement


@dataclass(frozen=True)
class Rule:
    name: str
    help: str
    settled: Callable[[Mapping[str, Spoken]], bool]  # True: stop after the opening round


def _agree(said: Mapping[str, Spoken]) -> bool:
    return bool(said) and all(s.answer for s in said.values()) and agreement(said) == 1.0


def _tool_ok(said: Mapping[str, Spoken]) -> bool:
    return bool(said) and all(s.tool_status == "passed" and s.answer for s in said.values())


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule("agree", "stop after the opening round when every opening agent answered, all alike", _agree),
        Rule("tool-ok", "stop when every opening agent's tool passed and its answer stands", _tool_ok),
    )
}


class Cascade:
    """Round 0: every agent but the last; round 1: the last, reading round 0's answers (temporal
    edges); the team stops after round 0 when `rule` says so."""

    rounds = 2

    def __init__(self, agents: Sequence[AgentSpec], decision: Decision, rule: str = "agree"):
        if rule not in RULES:
            raise UnknownNameError("cascade rule", rule, list(RULES))
        if len(agents) < 2:
            raise ConfigError(
                f"a cascade needs at least 2 agents (openers, then the one it escalates to); got {len(agents)}"
            )
        self.agents, self.decision, self.rule = tuple(agents), decision, RULES[rule]
        *opening, last = [a.name for a in self.agents]
        self._graph = CommGraph(
            self.agents, ((), ()), (tuple((o, last) for o in opening),), decision, active=(tuple(opening), (last,))
        )

    def graph_for(self, query: str) -> CommGraph:
        return self._graph

    @property
    def inference_gate(self) -> ReceiveGate | None:
        return None  # every agent reads its senders; the rule only decides when to stop

    @property
    def inference_stop_gate(self) -> StopGate:
        settled = self.rule.settled

        def gate(round: int, said: Mapping[str, Spoken], query: str) -> bool:
            return round == 0 and settled(said)

        return gate
