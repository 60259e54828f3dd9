"""What a trace run records: an evaluation of a parameter set, and one proposal's outcome.
Shared by the loop and its report (so neither imports the other)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from agentnet.training.trace.params import Value


@dataclass(frozen=True)
class Evaluation:
    """A parameter set on some items: mean score and mean tokens per item (all team calls)."""

    score: float
    tokens: float
    items: int
    failed_runs: int = 0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evaluation:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


@dataclass
class ProposalRecord:
    step: int
    verdict: str  # accepted | rejected | no change | error
    reason: str
    changes: dict[str, Value]  # the cast values that differ from the best so far
    reasoning: str = ""
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    train_score: float = 0.0
    train_tokens: float = 0.0
    val_score: float | None = None
    val_tokens: float | None = None
    best_score: float = 0.0  # the best validation score before this step
    best_tokens: float = 0.0
    optimizer_tokens: int = 0
    raw: str = ""  # the optimiser's reply (clipped)

    @property
    def accepted(self) -> bool:
        return self.verdict == "accepted"

    def metrics(self) -> dict[str, Any]:
        keys = (
            "step",
            "verdict",
            "train_score",
            "train_tokens",
            "val_score",
            "val_tokens",
            "best_score",
            "best_tokens",
            "optimizer_tokens",
        )
        return {**{k: getattr(self, k) for k in keys}, "changed": sorted(self.changes), "error": self.error}
