"""AgentDropout (Wang et al., ACL 2025): per-round node dropout and edge dropout on trained
intra-round and inter-round adjacency.

Each round t has its own intra-round edge logits A_t and (to round t+1) inter-round logits B_t,
all starting at probability 0.5 as in their code, and its own node logits ν_t. A sampled team
drops agents per round (agent i runs with probability σ(ν_t,i), drawn given that someone runs),
then draws edges among the agents that run (spatial ones acyclic, decided in a
fixed order). Edge dropout follows their schedule: every `prune_every` steps the lowest-logit
`prune_ratio` of each round's unmasked edges are masked for good, `max_prunes` times. At
inference an agent runs when σ(ν) > 0.5 and an edge is kept when its probability exceeds 0.5.

Where ours differs: their code trains node dropout first (one node dropped per round, hard-coded
for five agents, chosen from a softmax over degree-weighted node scores) and edges second; ours
learns both at once, with a keep-probability per agent and round, so any number of agents can be
dropped; utility is score − λ_tok · tokens with a moving-average baseline where theirs rewards
accuracy alone; the graph is deterministic at inference (theirs keeps sampling edges); and the
decision call, which their code always makes, can be learned away with `skip_decision`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from agentnet.agents import AgentSpec
from agentnet.graph import CommGraph, Decision
from agentnet.topologies.agentprune import prune_lowest
from agentnet.topologies.configs import AgentDropoutConfig
from agentnet.topologies.embeddings import Embedder
from agentnet.topologies.heads import draw_round_team, likeliest_round_team, round_team_log_prob
from agentnet.topologies.learned import (
    Pairs,
    ParamGroup,
    Persistent,
    Sample,
    bernoulli_edges,
    check_agents,
    named,
    sample_dag,
    threshold_dag,
)


class AgentDropout(Persistent, nn.Module):
    kind = "agentdropout"
    config_class = AgentDropoutConfig
    intra_mask: torch.Tensor
    inter_mask: torch.Tensor
    prunes: torch.Tensor

    def __init__(
        self,
        agents: Sequence[AgentSpec],
        rounds: int,
        decision: Decision,
        config: AgentDropoutConfig = AgentDropoutConfig(),
        embedder: Embedder | None = None,  # unused: the team does not depend on the query
    ):
        super().__init__()
        check_agents(agents, rounds)
        self.agents, self.rounds, self.decision, self.config = tuple(agents), rounds, decision, config
        n, transitions = len(agents), max(rounds - 1, 1)
        self.intra = nn.Parameter(torch.zeros(rounds, n, n))
        self.inter = nn.Parameter(torch.zeros(transitions, n, n))
        self.nodes = nn.Parameter(torch.full((rounds, n), config.node_init))
        self.decide_logit = nn.Parameter(torch.tensor(config.decide_init))
        self.register_buffer("intra_mask", (~torch.eye(n, dtype=torch.bool)).repeat(rounds, 1, 1))
        self.register_buffer("inter_mask", torch.ones(transitions, n, n, dtype=torch.bool))
        self.register_buffer("prunes", torch.zeros((), dtype=torch.long))
        self._generator = torch.Generator().manual_seed(config.seed)

    # -- edge dropout -----------------------------------------------------------------------
    @torch.no_grad()
    def set_step(self, step: int, total: int | None = None) -> None:
        schedule = self.config.prune
        while int(self.prunes) < schedule.due(step):
            for t in range(self.rounds):
                prune_lowest(self.intra[t], self.intra_mask[t], schedule.prune_ratio)
            for t in range(self.rounds - 1):
                prune_lowest(self.inter[t], self.inter_mask[t], schedule.prune_ratio)
            self.prunes += 1

    # -- graphs -----------------------------------------------------------------------------
    def _allowed(self, mask: torch.Tensor, senders: set[int], receivers: set[int]) -> Pairs:
        return {(int(i), int(j)) for i, j in mask.nonzero().tolist() if i in senders and j in receivers}

    def _graph(self, active: list[set[int]], spatial: list[Pairs], temporal: list[Pairs], decide: bool) -> CommGraph:
        names = tuple(tuple(self.agents[i].name for i in sorted(a)) for a in active)
        return CommGraph(
            self.agents,
            tuple(tuple(named(self.agents, s)) for s in spatial),
            tuple(tuple(named(self.agents, t)) for t in temporal),
            self.decision,
            active=names,
            decide=decide,
        )

    def sample(self, query: str) -> Sample:
        g, n = self._generator, len(self.agents)
        logp = self.nodes.sum() * 0.0
        active, spatial, temporal = [], [], []
        node_p = torch.sigmoid(self.nodes)
        for t in range(self.rounds):
            active.append(draw_round_team(node_p[t], g))
            logp = logp + round_team_log_prob(node_p[t], active[t])
        for t in range(self.rounds):
            edges, lp = sample_dag(
                torch.sigmoid(self.intra[t]), g, self._allowed(self.intra_mask[t], active[t], active[t])
            )
            spatial.append(edges)
            logp = logp + lp
        for t in range(self.rounds - 1):
            allowed = self._allowed(self.inter_mask[t], active[t], active[t + 1])
            taken, lp = bernoulli_edges(torch.sigmoid(self.inter[t]), g, allowed)
            temporal.append(taken)
            logp = logp + lp
        decide = True
        if self.config.skip_decision:
            pd = torch.sigmoid(self.decide_logit).clamp(1e-6, 1 - 1e-6)
            decide = float(torch.rand((), generator=g)) < float(pd.detach())
            logp = logp + (torch.log(pd) if decide else torch.log1p(-pd))
        graph = self._graph(active, spatial, temporal, decide)
        stats = {
            "active_share": sum(len(a) for a in active) / (n * self.rounds),
            "decide": float(decide),
            "spatial_edges": float(sum(len(s) for s in spatial)),
            "planned_calls": float(graph.calls()),
            "density": sum(len(s) for s in spatial) / (self.rounds * n * (n - 1)),
        }
        return Sample(graph, logp, self.nodes.sum() * 0.0, stats)

    @torch.no_grad()
    def graph_for(self, query: str) -> CommGraph:
        node_p = torch.sigmoid(self.nodes)
        active = [likeliest_round_team(node_p[t]) for t in range(self.rounds)]
        spatial = [
            threshold_dag(torch.sigmoid(self.intra[t]), 0.5, self._allowed(self.intra_mask[t], active[t], active[t]))
            for t in range(self.rounds)
        ]
        temporal = [
            {
                e
                for e in self._allowed(self.inter_mask[t], active[t], active[t + 1])
                if float(torch.sigmoid(self.inter[t][e])) > 0.5
            }
            for t in range(self.rounds - 1)
        ]
        decide = not self.config.skip_decision or bool(torch.sigmoid(self.decide_logit) > 0.5)
        return self._graph(active, spatial, temporal, decide)

    def param_groups(self) -> list[ParamGroup]:
        return [{"name": "all", "params": list(self.parameters()), "lr": self.config.lr}]
