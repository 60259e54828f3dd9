"""G-Designer (Zhang et al., ICML 2025): a variational graph auto-encoder designs a communication
graph per query.

Nodes are the agents (features: embeddings of their role descriptions) plus a *task virtual
node* (feature: the query embedding) linked to every agent; the encoder runs over an anchor
topology. Two GCN layers give each node a Gaussian latent (μ, log σ), reparameterised in
training, with a KL term. A *directed* bilinear decoder scores every ordered pair, so an
edge and its reverse differ and probabilities can approach 0 and 1; a second decoder scores
temporal (round t-1 → t) edges. Sampling yields a graph acyclic within a round with the
exact log-probability of what was sampled (`learned.sample_dag`).

`public_code=True` reproduces the authors' public code instead, for comparison: a
deterministic encoder (no μ/σ, no KL) and a symmetric inner-product decoder min-max scaled
to [-1, 1] before the sigmoid, so probabilities stay within about [0.27, 0.73].
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from agentnet.agents import AgentSpec
from agentnet.graph import CommGraph, Decision, StopGate
from agentnet.topologies.embeddings import Embedder
from agentnet.topologies.configs import GDesignerConfig
from agentnet.topologies.heads import Plan, TeamHeads, plan_stats
from agentnet.topologies.learned import (
    Pairs,
    ParamGroup,
    Persistent,
    Sample,
    bernoulli_edges,
    build_graph,
    check_agents,
    coactive,
    sample_dag,
    threshold_dag,
)


def _anchor_edges(kind: str, n: int) -> list[tuple[int, int]]:
    if kind == "chain":
        return [(i, i + 1) for i in range(n - 1)]
    if kind == "star":
        return [(i, 0) for i in range(1, n)]
    if kind == "complete":
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    return []


class GDesigner(Persistent, nn.Module):
    kind = "gdesigner"
    config_class = GDesignerConfig
    role_features: torch.Tensor  # buffers
    edge_index: torch.Tensor
    anchor_adj: torch.Tensor

    def __init__(
        self,
        agents: Sequence[AgentSpec],
        rounds: int,
        decision: Decision,
        config: GDesignerConfig = GDesignerConfig(),
        embedder: Embedder | None = None,
    ):
        super().__init__()
        check_agents(agents, rounds)
        if embedder is None:
            from agentnet.topologies.embeddings import MiniLMEmbedder

            embedder = MiniLMEmbedder()
        self.agents, self.rounds, self.decision, self.config = tuple(agents), rounds, decision, config
        self.embedder = embedder
        n, d = len(agents), embedder.dim
        # what each agent is: role, and its model and tool when it names them (AgentSpec.describe)
        self.register_buffer("role_features", embedder.encode([a.describe() for a in agents]).detach().clone())
        anchor = _anchor_edges(config.anchor, n)
        virtual = [(n, i) for i in range(n)]  # the task node, linked to every agent
        pairs = anchor + virtual
        index = [[i for i, _ in pairs] + [j for _, j in pairs], [j for _, j in pairs] + [i for i, _ in pairs]]
        self.register_buffer("edge_index", torch.tensor(index, dtype=torch.long))
        anchor_adj = torch.zeros(n, n)
        for i, j in anchor:
            anchor_adj[i, j] = 1.0
        self.register_buffer("anchor_adj", anchor_adj)
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the global RNG
            torch.manual_seed(config.seed)
            self._init_layers(n, d, config)
            self.heads = (
                TeamHeads(n, rounds, embedder, config.heads, [a.model for a in agents], [a.name for a in agents])
                if config.heads.any
                else None
            )
        self._generator = torch.Generator().manual_seed(config.seed)

    def _init_layers(self, n: int, d: int, config: GDesignerConfig) -> None:
        from torch_geometric.nn import GCNConv

        # Agents with similar (or equal) roles still need distinct identities for a directed
        # decoder to tell their edges apart: a learned per-node embedding joins the role's.
        self.node_id = nn.Embedding(n + 1, config.id_dim)
        self.conv = GCNConv(d + config.id_dim, config.hidden)
        self.conv_mu = GCNConv(config.hidden, config.latent)
        self.conv_logstd = GCNConv(config.hidden, config.latent)
        # a skip path from each node's own features: message passing over a graph where the
        # task node touches every agent otherwise smooths the agents into one latent
        self.skip = nn.Linear(d + config.id_dim, config.latent)
        # start with little latent noise: early on, the edge choices should do the exploring
        nn.init.constant_(self.conv_logstd.bias, config.init_logstd)
        self.sender = nn.Linear(config.latent, config.latent, bias=False)
        self.receiver = nn.Linear(config.latent, config.latent, bias=False)
        self.t_sender = nn.Linear(config.latent, config.latent, bias=False)
        self.t_receiver = nn.Linear(config.latent, config.latent, bias=False)
        self.bias = nn.Parameter(torch.zeros(()))
        self.t_bias = nn.Parameter(torch.zeros(()))

    # -- model --------------------------------------------------------------------------
    def query_features(self, query: str) -> torch.Tensor:
        return self.embedder.encode([query]).detach()[0]

    def encode(self, query: str) -> tuple[torch.Tensor, torch.Tensor]:
        """μ and log σ for the agent nodes (the virtual node only carries the query)."""
        x = torch.cat([self.role_features, self.query_features(query)[None]], dim=0)
        x = torch.cat([x, self.node_id.weight], dim=1)
        h = torch.relu(self.conv(x, self.edge_index))
        n = len(self.agents)
        mu = self.conv_mu(h, self.edge_index) + self.skip(x)
        return mu[:n], self.conv_logstd(h, self.edge_index)[:n].clamp(-10, 2)

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Spatial and temporal edge probabilities, [N, N] each (spatial diagonal zero)."""
        n = z.shape[0]
        if self.config.public_code:
            scores = z @ z.T
            scaled = 2 * (scores - scores.min()) / (scores.max() - scores.min() + 1e-9) - 1
            spatial = torch.sigmoid(scaled)
        else:
            spatial = torch.sigmoid(self.sender(z) @ self.receiver(z).T + self.bias)
        temporal = torch.sigmoid(self.t_sender(z) @ self.t_receiver(z).T + self.t_bias)
        return spatial * (1 - torch.eye(n)), temporal

    def latent(self, query: str, sample: bool) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logstd = self.encode(query)
        if self.config.public_code:
            return mu, mu.new_zeros(())
        kl = -0.5 * torch.mean(torch.sum(1 + 2 * logstd - mu**2 - torch.exp(2 * logstd), dim=1))
        if not sample:
            return mu, kl
        eps = torch.randn(mu.shape, generator=self._generator)
        return mu + eps * torch.exp(logstd), kl

    def penalty(self, spatial: torch.Tensor, kl: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        n = spatial.shape[0]
        off = ~torch.eye(n, dtype=torch.bool)
        p = spatial[off].clamp(1e-6, 1 - 1e-6)
        sparsity = p.mean()
        anchor = nn.functional.binary_cross_entropy(p, self.anchor_adj[off])
        logits = torch.log(p) - torch.log1p(-p)
        c = self.config
        total = (
            c.lambda_kl * kl
            + c.lambda_sparse * sparsity
            + c.lambda_anchor * anchor
            + c.lambda_logit * (logits**2).mean()
        )
        return total, {
            "kl": float(kl.detach()),
            "mean_edge_prob": float(sparsity.detach()),
            "anchor_bce": float(anchor.detach()),
        }

    # -- the topology contract ------------------------------------------------------------
    def _plan(self, query: str, sample: bool) -> Plan:
        n = len(self.agents)
        if self.heads is None:
            return Plan([set(range(n)) for _ in range(self.rounds)], True, torch.zeros(()))
        q = self.query_features(query)
        return self.heads.sample(q, self._generator) if sample else self.heads.deterministic(q)

    def sample(self, query: str) -> Sample:
        z, kl = self.latent(query, sample=True)
        spatial_p, temporal_p = self.decode(z)
        plan = self._plan(query, sample=True)
        allowed_s, allowed_t = coactive(plan.active)
        spatial, logp = sample_dag(spatial_p, self._generator, allowed_s)
        temporal, logp_t = self._temporal(temporal_p, sample=True, allowed=allowed_t)
        penalty, stats = self.penalty(spatial_p, kl)
        n = len(self.agents)
        graph = build_graph(self.agents, spatial, temporal, self.rounds, self.decision, plan.active, plan.decide)
        stats |= {
            "spatial_edges": len(spatial),
            "temporal_edges": len(temporal),
            "density": len(spatial) / (n * (n - 1)),
            "planned_calls": float(graph.calls()),
            **plan_stats(plan, n),
        }
        out = Sample(graph, logp + logp_t + plan.log_prob, penalty, stats)
        if self.heads is not None and self.config.heads.stop:
            out.stop_gate = self.heads.sampling_stop_gate(
                self.query_features(query), self._generator, out.gate_log_probs, out.stats
            )
        return out

    def _temporal(self, probs: torch.Tensor, sample: bool, allowed: Pairs) -> tuple[Pairs, torch.Tensor]:
        if self.rounds == 1:
            return set(), probs.new_zeros(())
        if not self.config.temporal:
            return {(i, i) for i in range(len(self.agents)) if (i, i) in allowed}, probs.new_zeros(())
        if sample:
            return bernoulli_edges(probs, self._generator, allowed)
        above = {(int(i), int(j)) for i, j in (probs > self.config.threshold).nonzero().tolist()}
        return above & allowed, probs.new_zeros(())

    @torch.no_grad()
    def graph_for(self, query: str) -> CommGraph:
        z, _ = self.latent(query, sample=False)
        spatial_p, temporal_p = self.decode(z)
        plan = self._plan(query, sample=False)
        allowed_s, allowed_t = coactive(plan.active)
        temporal, _ = self._temporal(temporal_p, sample=False, allowed=allowed_t)
        spatial = threshold_dag(spatial_p, self.config.threshold, allowed_s)
        return build_graph(self.agents, spatial, temporal, self.rounds, self.decision, plan.active, plan.decide)

    @property
    def inference_stop_gate(self) -> StopGate | None:
        if self.heads is None or not self.config.heads.stop:
            return None
        return self.heads.inference_stop_gate()

    def param_groups(self) -> list[ParamGroup]:
        heads = list(self.heads.parameters()) if self.heads is not None else []
        rest = [p for p in self.parameters() if all(p is not h for h in heads)]
        groups: list[ParamGroup] = [{"name": "all", "params": rest, "lr": self.config.lr}]
        if heads:
            groups.append({"name": "heads", "params": heads, "lr": self.config.heads.heads_lr})
        return groups
