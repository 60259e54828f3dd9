"""GPTSwarm's edge optimisation (Zhuge et al., ICML 2024), the edge-learning baseline.

One logit per potential edge (spatial: every ordered pair of agents, kept acyclic by deciding
edges in a fixed order and skipping any that would close a cycle; temporal: every ordered pair,
self-edges included), all starting at logit 0 (probability 0.5). The graph does not depend on
the query. Trained with REINFORCE against the trainer's moving-average baseline (GPTSwarm's MMLU
code uses no baseline, its crosswords code a constant one); Adam, lr 0.1 as in the paper. At
inference an edge is kept when its probability exceeds 0.5, most probable first, skipping cycles.

Where ours differs: utility is score − λ_tok · tokens (GPTSwarm rewards accuracy only); the
optional learned node order and the prompt optimiser of GPTSwarm are not reproduced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

import torch
from torch import nn

from agentnet.agents import AgentSpec
from agentnet.graph import CommGraph, Decision
from agentnet.topologies.configs import GPTSwarmConfig
from agentnet.topologies.embeddings import Embedder
from agentnet.topologies.learned import (
    Pairs,
    ParamGroup,
    Persistent,
    Sample,
    bernoulli_edges,
    build_graph,
    check_agents,
    sample_dag,
    threshold_dag,
)


class EdgeLogitsConfig(Protocol):
    """What GPTSwarm reads from its config: GPTSwarmConfig, or a subclass's config (AgentPrune's)."""

    @property
    def lr(self) -> float: ...
    @property
    def init_prob(self) -> float: ...
    @property
    def temporal(self) -> bool: ...
    @property
    def seed(self) -> int: ...


class GPTSwarm(Persistent, nn.Module):
    kind = "gptswarm"
    config_class: ClassVar[type] = GPTSwarmConfig
    config: EdgeLogitsConfig

    def __init__(
        self,
        agents: Sequence[AgentSpec],
        rounds: int,
        decision: Decision,
        config: EdgeLogitsConfig = GPTSwarmConfig(),
        embedder: Embedder | None = None,  # unused: the graph does not depend on the query
    ):
        super().__init__()
        check_agents(agents, rounds)
        self.agents, self.rounds, self.decision, self.config = tuple(agents), rounds, decision, config
        n = len(agents)
        logit = float(torch.logit(torch.tensor(config.init_prob)))
        self.spatial_logits = nn.Parameter(torch.full((n, n), logit))
        self.temporal_logits = nn.Parameter(torch.full((n, n), logit))
        self.register_buffer("spatial_mask", ~torch.eye(n, dtype=torch.bool))  # pruning baselines shrink these
        self.register_buffer("temporal_mask", torch.ones(n, n, dtype=torch.bool))
        self._generator = torch.Generator().manual_seed(config.seed)

    spatial_mask: torch.Tensor
    temporal_mask: torch.Tensor

    def _pairs(self, mask: torch.Tensor) -> Pairs:
        return {(int(i), int(j)) for i, j in mask.nonzero().tolist()}

    def _temporal(self, sample: bool) -> tuple[Pairs, torch.Tensor]:
        zero = self.temporal_logits.sum() * 0.0
        if self.rounds == 1:
            return set(), zero
        if not self.config.temporal:
            return {(i, i) for i in range(len(self.agents))}, zero
        probs = torch.sigmoid(self.temporal_logits)
        allowed = self._pairs(self.temporal_mask)
        if sample:
            return bernoulli_edges(probs, self._generator, allowed)
        return {e for e in allowed if float(probs[e]) > 0.5}, zero

    def sample(self, query: str) -> Sample:
        probs = torch.sigmoid(self.spatial_logits)
        spatial, logp = sample_dag(probs, self._generator, self._pairs(self.spatial_mask))
        temporal, logp_t = self._temporal(sample=True)
        n = len(self.agents)
        graph = build_graph(self.agents, spatial, temporal, self.rounds, self.decision)
        stats = {
            "spatial_edges": float(len(spatial)),
            "temporal_edges": float(len(temporal)),
            "density": len(spatial) / (n * (n - 1)),
            "planned_calls": float(graph.calls()),
        }
        return Sample(graph, logp + logp_t, self.spatial_logits.sum() * 0.0, stats)

    @torch.no_grad()
    def graph_for(self, query: str) -> CommGraph:
        spatial = threshold_dag(torch.sigmoid(self.spatial_logits), 0.5, self._pairs(self.spatial_mask))
        temporal, _ = self._temporal(sample=False)
        return build_graph(self.agents, spatial, temporal, self.rounds, self.decision)

    def param_groups(self) -> list[ParamGroup]:
        return [{"name": "edges", "params": [self.spatial_logits, self.temporal_logits], "lr": self.config.lr}]
