"""AgentPrune (Zhang et al., ICLR 2025): GPTSwarm's spatial and temporal edge logits, trained the
same way, with pruning on a schedule: every `prune_every` steps the lowest-logit `prune_ratio` of
the edges still unmasked (at least one) are masked for good, spatial and temporal separately —
`max_prunes` times (their default schedule, 10 iterations pruned every 5, prunes twice).

Where ours differs: utility is score − λ_tok · tokens with a moving-average baseline (their code
rewards accuracy with no baseline), and the inference graph is deterministic (probability > 0.5
among the unmasked edges) where their code keeps sampling it. The low-rank regulariser that an
earlier version of their code had (and later removed) is not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from agentnet.errors import ConfigError
from agentnet.topologies.gptswarm import GPTSwarm


@dataclass(frozen=True)
class PruneSchedule:
    """When edges are masked for good (AgentPrune's schedule; AgentDropout's edge dropout)."""

    prune_every: int = field(default=5, metadata={"help": "Steps between prunings (AgentPrune: 5)."})
    prune_ratio: float = field(default=0.25, metadata={"help": "Share of the unmasked edges masked at each pruning."})
    max_prunes: int = field(default=2, metadata={"help": "Prunings in all (AgentPrune's default run prunes twice)."})

    def __post_init__(self) -> None:
        if self.prune_every < 1 or self.max_prunes < 0 or not 0.0 < self.prune_ratio < 1.0:
            raise ConfigError(f"prune_every={self.prune_every}, max_prunes={self.max_prunes}, prune_ratio="
                              f"{self.prune_ratio}: use prune_every >= 1, max_prunes >= 0, 0 < prune_ratio < 1")  # fmt: skip

    def due(self, step: int) -> int:
        """Prunings that should have happened by `step`."""
        return min(step // self.prune_every, self.max_prunes)


@dataclass(frozen=True)
class AgentPruneConfig:
    lr: float = field(default=0.1, metadata={"help": "Learning rate of the edge logits (Adam; AgentPrune: 0.1)."})
    init_prob: float = field(default=0.5, metadata={"help": "Initial probability of every edge."})
    temporal: bool = field(default=True, metadata={"help": "Learn cross-round edges (else every agent rereads itself)."})
    prune: PruneSchedule = field(default_factory=PruneSchedule)
    seed: int = field(default=0, metadata={"help": "Seed for sampling."})


def prune_lowest(logits: torch.Tensor, mask: torch.Tensor, ratio: float) -> None:
    live = mask.nonzero().tolist()
    if len(live) <= 1:
        return
    drop = max(1, round(ratio * len(live)))
    for i, j in sorted(live, key=lambda e: float(logits[e[0], e[1]]))[:drop]:
        mask[i, j] = False


class AgentPrune(GPTSwarm):
    kind = "agentprune"
    config_class = AgentPruneConfig
    config: AgentPruneConfig
    prunes: torch.Tensor

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.register_buffer("prunes", torch.zeros((), dtype=torch.long))  # saved: a resumed run does not prune twice

    @torch.no_grad()
    def set_step(self, step: int, total: int | None = None) -> None:
        c = self.config
        while int(self.prunes) < c.prune.due(step):
            prune_lowest(self.spatial_logits, self.spatial_mask, c.prune.prune_ratio)
            if self.rounds > 1 and c.temporal:
                prune_lowest(self.temporal_logits, self.temporal_mask, c.prune.prune_ratio)
            self.prunes += 1
