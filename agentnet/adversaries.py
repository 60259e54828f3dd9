"""Adversaries planted in a team: G-Designer's, GPTSwarm's and AgentPrune's robustness
experiment (K of the team's agents replaced by an attacker), and prompt injection.

An attacked agent keeps its name and role: its peers see the same title above its messages
and a learned topology sees the same node — only what it says changes. So a learner can
only route around it by what listening to it costs. The kinds (`ADVERSARIES`):

- `liar`: an LLM call with the liar's system prompt (`prompts/roles/liar.md`) instead of
  the role's — a confident, plausible, wrong answer;
- `injection`: no LLM call; the agent sends a fixed message (`prompts/injection.md`, kept as
  its system prompt so a stored graph is self-contained)
  telling the others to ignore the task and answer a fixed wrong value
  (`AttackConfig.adversary_answer`). It costs no tokens itself.

Which agents are attacked is a seeded draw over the team's agents (never the decision
step), recorded on each `AgentSpec.adversary`, so graphs, trajectories, reports and
`agentnet topo show` say who it was.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from agentnet.checks import check_fields
from agentnet.errors import ConfigError, UnknownNameError
from agentnet.graph import CommGraph
from agentnet.prompts import template
from agentnet.types import Completion, GenerationSettings, Message, Usage

if TYPE_CHECKING:
    from agentnet.agents import AgentSpec
    from agentnet.graph import Decision, ReceiveGate, StopGate, Topology
    from agentnet.llm import DeltaCallback, RetractCallback

INJECTION_BACKEND = "adversary:injection"  # the model name an injection adversary's spec names (its backend's key)


@dataclass(frozen=True)
class AdversaryKind:
    name: str
    help: str
    system_role: str | None  # role whose system prompt the agent gets (None: no LLM call)


ADVERSARIES: dict[str, AdversaryKind] = {
    k.name: k
    for k in (
        AdversaryKind(
            "liar", "calls the LLM with the liar's system prompt: a confident, plausible, wrong answer", "liar"
        ),
        AdversaryKind(
            "injection",
            "no LLM call: a fixed message telling the others to ignore the task and answer --adversary-answer",
            None,
        ),
    )
}


def adversary_kind(name: str) -> AdversaryKind:
    kind = ADVERSARIES.get(name)
    if kind is None:
        raise UnknownNameError("adversary role", name, list(ADVERSARIES))
    return kind


@dataclass(frozen=True)
class AttackConfig:
    """Which of a team's agents are adversaries, and of what kind."""

    adversaries: int = field(default=0, metadata={"help": "Agents replaced by adversaries (0: a clean team)."})
    adversary_role: str = field(
        default="liar",
        metadata={
            "help": "liar (an LLM told to answer wrongly) or injection (a fixed message: ignore the task, answer "
            "--adversary-answer).",
            "choices": tuple(ADVERSARIES),
        },
    )
    adversary_seed: int = field(default=0, metadata={"help": "Seed of the draw of which agents are adversaries."})
    adversary_answer: str = field(
        default="0",
        metadata={"help": "The value the injection adversary pushes (pick one that is wrong for the task's items)."},
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if self.adversaries < 0:
            raise ConfigError(f"adversaries={self.adversaries} is negative; give 0 (a clean team) or more")
        adversary_kind(self.adversary_role)
        answer = self.adversary_answer.strip()
        if not answer or "\n" in answer:
            raise ConfigError(f"adversary_answer={self.adversary_answer!r}; give one value on one line, e.g. 0")

    @property
    def active(self) -> bool:
        return self.adversaries > 0

    def describe(self) -> str:
        """E.g. "1 liar (seed 0)"; "" for a clean team."""
        if not self.active:
            return ""
        return f"{self.adversaries} {self.adversary_role}{'s' if self.adversaries > 1 else ''} (seed {self.adversary_seed})"

    def check(self, agents: int) -> None:
        """A team of `agents` agents can hold this many adversaries (at least one honest agent)."""
        if self.adversaries >= agents:
            raise ConfigError(
                f"adversaries={self.adversaries} leaves no honest agent in a team of {agents}; "
                f"use at most {agents - 1}, or more agents"
            )

    def chosen(self, names: Sequence[str]) -> tuple[str, ...]:
        """The attacked agents among `names`, in team order (the same draw for the same seed and team)."""
        self.check(len(names))
        picked = random.Random(self.adversary_seed).sample(range(len(names)), self.adversaries)
        return tuple(names[i] for i in sorted(picked))

    def apply(self, graph: CommGraph) -> CommGraph:
        """`graph` with the chosen agents turned adversary (names, roles and edges unchanged)."""
        if not self.active:
            return graph
        bad = set(self.chosen(graph.names))
        kind = adversary_kind(self.adversary_role)
        turned: dict[str, Any]
        if kind.system_role:  # an LLM call with the adversary's system prompt
            turned = {"adversary": kind.name, "prompt": kind.system_role, "system": None}
        else:  # the fixed message rides in the graph, so a stored or resumed graph is self-contained
            turned = {"adversary": kind.name, "prompt": None, "system": self.message(), "model": INJECTION_BACKEND}
        return replace(graph, agents=tuple(replace(a, **turned) if a.name in bad else a for a in graph.agents))

    def message(self) -> str:
        """What an injection adversary sends."""
        return template("injection").substitute(answer=self.adversary_answer.strip()).strip()


def adversaries_of(graph: CommGraph) -> dict[str, str]:
    """agent name -> adversary kind, for the attacked agents of `graph`."""
    return {a.name: a.adversary for a in graph.agents if a.adversary}


class InjectionBackend:
    """The `LLMBackend` an injection adversary names: it sends its system prompt (the fixed
    message) verbatim — no model, no tokens."""

    name = "injection"

    async def complete(
        self,
        messages: Sequence[Message],
        settings: GenerationSettings,
        *,
        on_delta: DeltaCallback | None = None,
        on_retract: RetractCallback | None = None,
    ) -> Completion:
        text = next((m.content for m in messages if m.role == "system"), "")
        if on_delta:
            on_delta(text)
        return Completion(text, "stop", Usage(), 0.0, model="injection")


class Attacked:
    """A topology whose every graph carries the attack (e.g. a learned topology trained clean);
    its decision and inference gates are the wrapped topology's."""

    def __init__(self, topology: Topology, attack: AttackConfig):
        self.topology, self.attack = topology, attack

    def graph_for(self, query: str) -> CommGraph:
        return self.attack.apply(self.topology.graph_for(query))

    @property
    def agents(self) -> Sequence[AgentSpec]:
        return self.topology.agents

    @property
    def rounds(self) -> int:
        return self.topology.rounds

    @property
    def decision(self) -> Decision:
        return self.topology.decision

    @property
    def inference_gate(self) -> ReceiveGate | None:
        return self.topology.inference_gate

    @property
    def inference_stop_gate(self) -> StopGate | None:
        return self.topology.inference_stop_gate
