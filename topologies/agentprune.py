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

from collections.abc import Sequence

import torch

from agentnet.agents import AgentSpec
from agentnet.graph import Decision
from agentnet.topologies.configs import AgentPruneConfig
from agentnet.topologies.embeddings import Embedder
from agentnet.topologies.gptswarm import GPTSwarm


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

    def __init__(
        self,
        agents: Sequence[AgentSpec],
        rounds: int,
        decision: Decision,
        config: AgentPruneConfig = AgentPruneConfig(),
        embedder: Embedder | None = None,  # unused, as GPTSwarm's
    ):
        super().__init__(agents, rounds, decision, config, embedder)
        self.register_buffer("prunes", torch.zeros((), dtype=torch.long))  # saved: a resumed run does not prune twice

    @torch.no_grad()
    def set_step(self, step: int, total: int | None = None) -> None:
        c = self.config
        while int(self.prunes) < c.prune.due(step):
            prune_lowest(self.spatial_logits, self.spatial_mask, c.prune.prune_ratio)
            if self.rounds > 1 and c.temporal:
                prune_lowest(self.temporal_logits, self.temporal_mask, c.prune.prune_ratio)
            self.prunes += 1
