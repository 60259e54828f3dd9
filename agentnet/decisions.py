"""The decision registry: how a team's answer is made from its final round, as data.

Each entry says what the CLI, the graph, the team assembly, the trainers and the reports need
to know about a decision kind; the runtime's deciders (`agentnet.runtime.decide.DECIDERS`) are
keyed by the same names (a test checks both lists agree). Adding a kind touches two files: one
entry here (and its name in `DecisionKind`), one decider in the runtime. Nothing else branches on
a kind's name: it asks `decision_info(kind)` (tests/test_contracts.py checks the source).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from agentnet.errors import ConfigError

DecisionKind = Literal["final_refer", "majority_vote", "code_writer", "last_agent", "passing_vote"]


@dataclass(frozen=True)
class DecisionInfo:
    kind: DecisionKind
    role: str  # the role of the decision agent, when it is an LLM call
    llm_call: bool  # the decision makes (at least) one LLM call
    needs_code_check: bool  # the decision runs the task's code check (a `CodeTask`)
    help: str
    reads_last_only: bool = False  # it reads only the last agent's final output, not every final-round agent's
    votes: bool = False  # its answer is the most common one the final-round agents extracted


DECISIONS: dict[str, DecisionInfo] = {
    d.kind: d
    for d in (
        DecisionInfo(
            "final_refer",
            "final_refer",
            llm_call=True,
            needs_code_check=False,
            help="an LLM agent reads every final-round output and answers",
        ),
        DecisionInfo(
            "majority_vote",
            "final_refer",
            llm_call=False,
            needs_code_check=False,
            help="the most common extracted answer (ties: the earliest agent's)",
            votes=True,
        ),
        DecisionInfo(
            "code_writer",
            "code_writer",
            llm_call=True,
            needs_code_check=True,
            help="an LLM agent writes code, checked against the task's examples and rewritten with the failures",
        ),
        DecisionInfo(
            "last_agent",
            "final_refer",
            llm_call=False,
            needs_code_check=False,
            help="the output of the last agent of the final round",
            reads_last_only=True,
        ),
        DecisionInfo(
            "passing_vote",
            "final_refer",
            llm_call=False,
            needs_code_check=False,
            help="self-consistency for code: the most common answer among the agents whose tool passed "
            "(ties: the earliest; none passed: the earliest agent's)",
            votes=True,
        ),
    )
}

if set(DECISIONS) != set(get_args(DecisionKind)):  # pragma: no cover - caught by the import in any test
    raise RuntimeError(f"DecisionKind {get_args(DecisionKind)} and DECISIONS {list(DECISIONS)} disagree")


def decision_info(kind: str) -> DecisionInfo:
    """The registry entry for `kind`; an unknown kind lists the known ones."""
    info = DECISIONS.get(kind)
    if info is None:
        raise ConfigError(f"unknown decision {kind!r}; known: {', '.join(DECISIONS)}")
    return info
