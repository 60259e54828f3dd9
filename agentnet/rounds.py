"""What a round's agents said, as a stop gate reads it after the round (`StopGate`).

Each agent's `Spoken`: its reply with its tool's observation, the answer extracted from that,
how its tool ended (None without a tool), its answer's mean token log-probability (None when
the server sent none) and the model it ran on. These are the signals that tell an easy query
from a hard one after a cheap round: do the answers agree, did the program run, how sure was
each model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Spoken:
    agent: str
    text: str  # the reply, then its tool's observation
    answer: str = ""  # extracted from `text` ("" when none)
    model: str = ""
    tool_status: str | None = None  # agentnet.tools.ToolStatus, or None: the agent has no tool
    logprob: float | None = None


def agreement(said: Mapping[str, Spoken]) -> float:
    """The share of the round's agents that gave its most common (non-empty) answer; 0 when none answered."""
    answers = [s.answer for s in said.values() if s.answer]
    return Counter(answers).most_common(1)[0][1] / len(said) if answers else 0.0


def tool_failure(said: Mapping[str, Spoken]) -> float:
    """The share of the round's tool runs that did not pass (0 when no agent ran a tool)."""
    runs = [s.tool_status for s in said.values() if s.tool_status is not None]
    return sum(status != "passed" for status in runs) / len(runs) if runs else 0.0


def mean_logprob(said: Mapping[str, Spoken]) -> float:
    """The mean of the agents' answer log-probabilities (0 when no server sent any)."""
    found = [s.logprob for s in said.values() if s.logprob is not None]
    return sum(found) / len(found) if found else 0.0
