"""CommFormer (Hu et al., ICLR 2024) for LLM agents, with temporal gating (arXiv 2411.00382).

Learnable N×N edge parameters θ (initialised to `edge_init`, 1.0 as in the paper): row i
holds receiver i's scores for its senders. During a warm-up the graph is dense; then each
row keeps a top-k of its allowed entries, k = max(⌊ratio·N⌋, 1) — sampled with Gumbel noise
in training (straight-through: hard − soft.detach() + soft), deterministic at inference.

From simultaneous attention to an agent order. CommFormer's agents attend to their k chosen
neighbours *and themselves* at once; LLM agents inside a round wait for their senders, so the
spatial graph must be acyclic. We fix the agent order: spatial row i may pick senders j < i
plus its own diagonal entry, which means "no message" (attending to oneself only). Taking
the diagonal spends one of the k slots, so a row may get fewer than k real edges; a row with
at most k allowed entries (i < k) takes them all and is not random. Temporal rows (round
t-1 → t) may pick any agent, the diagonal meaning "reread my own last output" (a real edge).
The edge parameters are per team, not per query: `graph_for` ignores the query's text.

Log-probability. The LLM reward has no gradient path through text, so the trainer uses
REINFORCE on `Sample.log_prob`. Gumbel-top-k over θ + Gumbel noise is exactly sequential
sampling without replacement from softmax(θ) over the row's allowed entries (Plackett–Luce;
τ only shapes the soft relaxation). The graph depends on the *set* chosen, not the order,
so `log_prob` is the exact order-marginalised probability of the set, summed over rows:
f(∅) = 1, f(A) = Σ_{a∈A} f(A∖a) · p_a / (p_rest + p_{S∖(A∖a)}), P(S) = f(S) — a 2^k-term
dynamic programme with positive terms only (stable), batched over rows.

Temporal gating: a small MLP on [embed(own last output), embed(query)] plus a per-agent
bias gives P(receive); in round 0 the own output is "". `Sample.gate` draws Bernoulli(P)
each time the runtime asks and records its log-probability; the `inference_gate` property
is the deterministic (P > 0.5) gate to run with `graph_for`.

Schedule: the trainer calls `set_step(step, total)` before sampling. Edges are dense (and
not trained) while step < warmup_steps; afterwards edges and gate alternate, first-order
bi-level: edges on steps with step % edge_every == 0, the gate on the others (edge_every=1:
both every step). From step ≥ freeze_after · total the graph is the deterministic top-k and
only the gate trains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from agentnet.agents import AgentSpec
from agentnet.errors import ConfigError
from agentnet.graph import CommGraph, Decision, ReceiveGate, StopGate
from agentnet.topologies.embeddings import Embedder
from agentnet.topologies.configs import CommFormerConfig
from agentnet.topologies.heads import Plan, TeamHeads, plan_stats
from agentnet.topologies.learned import ParamGroup, Persistent, Sample, build_graph, check_agents, coactive, pair_mask

MAX_K = 12  # the exact set probability sums 2^k subsets per row


@dataclass
class CommFormerSample(Sample):
    """A `Sample` plus the straight-through selections ([N, N], row = receiver, column = sender;
    the spatial diagonal is the "no message" slot): for a learned reward surrogate or tests."""

    spatial_select: torch.Tensor | None = None
    temporal_select: torch.Tensor | None = None
    gate_decisions: list[tuple[str, int, bool]] | None = None


def _masked(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    return logits.masked_fill(~allowed, float("-inf"))


def _slots(allowed: torch.Tensor, k: int) -> torch.Tensor:
    return allowed.sum(1).clamp(max=k)


def _top(scores: torch.Tensor, allowed: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """Boolean [N, N]: the `slots[i]` best allowed entries of each row (ties: lower index)."""
    order = _masked(scores, allowed).argsort(dim=1, descending=True, stable=True)
    return (order.argsort(dim=1) < slots[:, None]) & allowed


def gumbel_top_k(
    logits: torch.Tensor, allowed: torch.Tensor, k: int, tau: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row Gumbel top-k: the hard selection and its straight-through relaxation.

    Rows with no choice (at most k allowed entries) are constant, so no gradient reaches them.
    """
    slots = _slots(allowed, k)
    u = torch.rand(logits.shape, generator=generator).clamp(1e-10, 1 - 1e-7)
    perturbed = _masked(logits + -torch.log(-torch.log(u)), allowed)
    hard = _top(perturbed.detach(), allowed, slots)
    soft = torch.softmax(perturbed / tau, dim=1)
    random_rows = (slots < allowed.sum(1))[:, None]
    return hard, torch.where(random_rows, hard.float() - soft.detach() + soft, hard.float())


def _set_prob(p_sel: torch.Tensor, p_rest: torch.Tensor) -> torch.Tensor:
    """P(the first m draws without replacement are exactly these m items), per row.

    p_sel [R, m] are the chosen items' probabilities, p_rest [R] the mass of the unchosen
    allowed items. f[A] = P(the first |A| draws are A in some order), built by popcount layers.
    """
    r, m = p_sel.shape
    masks = torch.arange(2**m)
    bits = ((masks[:, None] >> torch.arange(m)) & 1).bool()  # [2^m, m]
    psum = p_sel @ bits.T.to(p_sel.dtype)  # [R, 2^m]
    full = 2**m - 1
    f = torch.zeros(r, 2**m, dtype=p_sel.dtype).index_fill(1, torch.tensor([0]), 1.0)
    popcount = bits.sum(1)
    for size in range(1, m + 1):
        layer = masks[popcount == size]
        has = bits[layer]  # [L, m]: a ∈ A
        prev = torch.where(has, layer[:, None] ^ (1 << torch.arange(m)), 0)  # A ∖ a
        denom = (p_rest[:, None, None] + psum[:, full ^ prev]).clamp_min(1e-300)  # 1 − p(A ∖ a)
        term = f[:, prev] * p_sel[:, None, :] / denom
        f = f.index_copy(1, layer, (term * has).sum(-1))
    return f[:, full]


def top_k_log_prob(logits: torch.Tensor, allowed: torch.Tensor, chosen: torch.Tensor, k: int) -> torch.Tensor:
    """Exact log P(each row's chosen set) under Gumbel-top-k of `logits`, summed over rows.

    -inf when a row's set is impossible (a disallowed entry, or not exactly min(k, allowed) items).
    """
    slots = _slots(allowed, k)
    if bool((chosen & ~allowed).any()) or bool((chosen.sum(1) != slots).any()):
        return logits.new_tensor(float("-inf"))
    rows = slots < allowed.sum(1)
    if not bool(rows.any()):
        return logits.sum() * 0.0
    p = torch.softmax(_masked(logits, allowed).double(), dim=1)[rows]
    pick = chosen[rows]
    p_sel = p[pick].view(-1, k)  # every random row picks exactly k (slots < allowed ⇒ slots = k)
    p_rest = (p * (~pick & allowed[rows])).sum(1)
    return _set_prob(p_sel, p_rest).clamp_min(1e-300).log().sum().to(logits.dtype)


class CommFormer(Persistent, nn.Module):
    kind = "commformer"
    config_class = CommFormerConfig

    def __init__(
        self,
        agents: Sequence[AgentSpec],
        rounds: int,
        decision: Decision,
        config: CommFormerConfig = CommFormerConfig(),
        embedder: Embedder | None = None,
    ):
        super().__init__()
        check_agents(agents, rounds)
        self.agents, self.rounds, self.decision, self.config = tuple(agents), rounds, decision, config
        n = len(agents)
        self.k = max(math.floor(config.ratio * n), 1)
        if self.k > MAX_K:
            raise ConfigError(
                f"k={self.k} (ratio={config.ratio}, {n} agents) exceeds {MAX_K}: the exact log-probability "
                f"sums 2^k subsets; lower ratio to at most {MAX_K / n:.2f}"
            )
        self.spatial = nn.Parameter(torch.full((n, n), float(config.edge_init)))
        self.temporal = nn.Parameter(torch.full((n, n), float(config.edge_init)))
        self.spatial_allowed = torch.ones(n, n, dtype=torch.bool).tril()  # j < i, diagonal = no message
        self.temporal_allowed = torch.ones(n, n, dtype=torch.bool)
        self.index = {a.name: i for i, a in enumerate(agents)}
        self.gate_net: nn.Sequential | None = None
        self.gate_bias: nn.Parameter | None = None
        self.embedder: Embedder | None = embedder
        if (config.gate or config.heads.any) and embedder is None:
            from agentnet.topologies.embeddings import MiniLMEmbedder

            embedder = self.embedder = MiniLMEmbedder()
        self.heads: TeamHeads | None = None
        if config.heads.any:
            assert embedder is not None
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed + 1)
                self.heads = TeamHeads(
                    n, rounds, embedder, config.heads, [a.model for a in agents], [a.name for a in agents]
                )
        if config.gate:
            assert embedder is not None
            with torch.random.fork_rng(devices=[]):  # seeded init without touching the global RNG
                torch.manual_seed(config.seed)
                d = embedder.dim
                out = nn.Linear(config.gate_hidden, 1)
                self.gate_net = nn.Sequential(nn.Linear(2 * d, config.gate_hidden), nn.Tanh(), out)
            nn.init.constant_(out.bias, config.gate_init)
            self.gate_bias = nn.Parameter(torch.zeros(n))  # per agent: round 0 inputs are the same for all
        self._generator = torch.Generator().manual_seed(config.seed)
        self._step: int = 0
        self._total: int | None = None

    # -- schedule ---------------------------------------------------------------------------
    def set_step(self, step: int, total: int | None = None) -> None:
        """The trainer's step (and total steps, needed for `freeze_after`) before sampling."""
        self._step, self._total = step, total

    def warming_up(self, step: int) -> bool:
        return step < self.config.warmup_steps

    def frozen(self, step: int) -> bool:
        f = self.config.freeze_after
        return f is not None and self._total is not None and step >= f * self._total

    def active_groups(self, step: int) -> list[str]:
        heads = ["heads"] if self.heads is not None else []  # who runs is learned at every step
        gate = ["gate"] if self.config.gate else []
        if self.warming_up(step) or self.frozen(step):
            return gate + heads
        if not gate or self.config.edge_every == 1:
            return ["edges", *gate, *heads]
        return (["edges"] if step % self.config.edge_every == 0 else gate) + heads

    def param_groups(self) -> list[ParamGroup]:
        gate_net, bias = self.gate_net, self.gate_bias  # set together, or neither
        gate = [*gate_net.parameters(), bias] if gate_net is not None and bias is not None else []
        groups: list[ParamGroup] = [
            {"name": "edges", "params": [self.spatial, self.temporal], "lr": self.config.edge_lr},
            {"name": "gate", "params": gate, "lr": self.config.gate_lr},
        ]
        if self.heads is not None:
            groups.append({"name": "heads", "params": list(self.heads.parameters()), "lr": self.config.heads.heads_lr})
        return groups

    # -- graphs -----------------------------------------------------------------------------
    def _graph(self, spatial: torch.Tensor, temporal: torch.Tensor | None, plan: Plan) -> CommGraph:
        """Selections (row = receiver) → graph; the spatial diagonal (no message) is dropped."""
        s = {(j, i) for i, j in spatial.nonzero().tolist() if j != i}
        t = {(j, i) for i, j in temporal.nonzero().tolist()} if temporal is not None else set()
        return build_graph(self.agents, s, t, self.rounds, self.decision, plan.active, plan.decide)

    def _plan(self, query: str, sample: bool) -> Plan:
        if self.heads is None or self.embedder is None:
            return Plan([set(range(len(self.agents))) for _ in range(self.rounds)], True, torch.zeros(()))
        q = self.embedder.encode([query]).detach()[0]
        return self.heads.sample(q, self._generator) if sample else self.heads.deterministic(q)

    def _allowed(self, plan: Plan) -> tuple[torch.Tensor, torch.Tensor]:
        """The selectable entries (row = receiver) given who runs: senders that share a round with
        the receiver. A row left without a choice keeps only its diagonal, which carries nothing."""
        n, eye = len(self.agents), torch.eye(len(self.agents), dtype=torch.bool)
        pairs_s, pairs_t = coactive(plan.active)
        spatial = self.spatial_allowed & (pair_mask(n, {(v, u) for u, v in pairs_s}) | eye)
        temporal = self.temporal_allowed & pair_mask(n, {(v, u) for u, v in pairs_t})
        temporal[~temporal.any(1)] = eye[~temporal.any(1)]
        return spatial, temporal

    def _deterministic(self, plan: Plan) -> tuple[torch.Tensor, torch.Tensor | None]:
        s_allowed, t_allowed = self._allowed(plan)
        s = _top(self.spatial.detach(), s_allowed, _slots(s_allowed, self.k))
        t = _top(self.temporal.detach(), t_allowed, _slots(t_allowed, self.k))
        return s, t if self.rounds > 1 else None

    @torch.no_grad()
    def graph_for(self, query: str) -> CommGraph:
        """The inference graph: who runs from the heads (if any), then each row's deterministic top-k."""
        plan = self._plan(query, sample=False)
        return self._graph(*self._deterministic(plan), plan)

    @property
    def inference_stop_gate(self) -> StopGate | None:
        if self.heads is None or self.embedder is None or not self.config.heads.stop:
            return None
        return self.heads.inference_stop_gate()

    def graph_log_prob(self, graph: CommGraph) -> torch.Tensor:
        """The exact log-probability that a post-warm-up `sample` returns `graph` (-inf if it cannot)."""
        if graph.names != [a.name for a in self.agents]:
            raise ConfigError(f"graph agents {graph.names} are not this team's {list(self.index)}")
        if len(set(graph.spatial)) > 1 or len(set(graph.temporal)) > 1 or graph.rounds != self.rounds:
            return self.spatial.new_tensor(float("-inf"))
        n = len(self.agents)
        s = torch.zeros(n, n, dtype=torch.bool)
        for u, v in graph.spatial[0]:
            s[self.index[v], self.index[u]] = True
        slots = _slots(self.spatial_allowed, self.k)
        s[torch.arange(n), torch.arange(n)] = s.sum(1) < slots  # a free slot went to "no message"
        logp = top_k_log_prob(self.spatial, self.spatial_allowed, s, self.k)
        if self.rounds > 1:
            t = torch.zeros(n, n, dtype=torch.bool)
            for u, v in graph.temporal[0]:
                t[self.index[v], self.index[u]] = True
            logp = logp + top_k_log_prob(self.temporal, self.temporal_allowed, t, self.k)
        return logp

    def sample(self, query: str) -> CommFormerSample:
        n, step = len(self.agents), self._step
        zero = (self.spatial.sum() + self.temporal.sum()) * 0.0  # keeps log_prob/penalty in the graph
        plan = self._plan(query, sample=True)
        s_allowed, t_allowed = self._allowed(plan)
        if self.warming_up(step):
            s_hard = s_allowed & ~torch.eye(n, dtype=torch.bool)
            t_hard = t_allowed if self.rounds > 1 else None
            s_st, t_st, logp = s_hard.float(), None if t_hard is None else t_hard.float(), zero
        elif self.frozen(step):
            s_hard, t_hard = self._deterministic(plan)
            s_st, t_st, logp = s_hard.float(), None if t_hard is None else t_hard.float(), zero
        else:
            c = self.config
            s_hard, s_st = gumbel_top_k(self.spatial, s_allowed, self.k, c.tau, self._generator)
            logp = top_k_log_prob(self.spatial, s_allowed, s_hard, self.k)
            t_hard = t_st = None
            if self.rounds > 1:
                t_hard, t_st = gumbel_top_k(self.temporal, t_allowed, self.k, c.tau, self._generator)
                logp = logp + top_k_log_prob(self.temporal, t_allowed, t_hard, self.k)
        logp = logp + plan.log_prob
        real = s_st * ~torch.eye(n, dtype=torch.bool)
        spatial_edges = int((s_hard & ~torch.eye(n, dtype=torch.bool)).sum())
        temporal_edges = int(t_hard.sum()) if t_hard is not None else 0
        stats = {
            "density": spatial_edges / (n * (n - 1) / 2),
            "spatial_edges": float(spatial_edges),
            "temporal_edges": float(temporal_edges),
            "warmup": float(self.warming_up(step)),
            **plan_stats(plan, n),
        }
        graph = self._graph(s_hard, t_hard, plan)
        stats["planned_calls"] = float(graph.calls())
        out = CommFormerSample(
            graph,
            logp,
            zero + self.config.sparsity * real.sum(),
            stats,
            spatial_select=s_st,
            temporal_select=t_st,
            gate_decisions=[],
        )
        if self.heads is not None and self.embedder is not None and self.config.heads.stop:
            q = self.embedder.encode([query]).detach()[0]
            out.stop_gate = self.heads.sampling_stop_gate(q, self._generator, out.gate_log_probs, out.stats)
        if self.gate_net is not None:
            out.gate = self._sampling_gate(out)
        return out

    # -- temporal gating ----------------------------------------------------------------------
    def gate_prob(self, agent: str, own_last: str, query: str) -> torch.Tensor:
        """P(agent reads its senders), differentiable w.r.t. the gate parameters only."""
        if self.gate_net is None or self.gate_bias is None or self.embedder is None:
            raise ConfigError("this CommFormer has gate=False; build it with CommFormerConfig(gate=True)")
        if agent not in self.index:
            raise ConfigError(f"no agent {agent!r} in this team; agents: {', '.join(self.index)}")
        x = self.embedder.encode([own_last, query]).detach().reshape(-1)
        return torch.sigmoid(self.gate_net(x)[0] + self.gate_bias[self.index[agent]])

    def _sampling_gate(self, sample: CommFormerSample) -> ReceiveGate:
        calls: list[float] = []

        def gate(agent: str, round: int, own_last: str, query: str) -> bool:
            p = self.gate_prob(agent, own_last, query).clamp(1e-6, 1 - 1e-6)
            opened = bool(torch.rand((), generator=self._generator) < p.detach())
            sample.gate_log_probs.append(torch.log(p) if opened else torch.log1p(-p))
            assert sample.gate_decisions is not None
            sample.gate_decisions.append((agent, round, opened))
            calls.append(p.item())
            sample.stats["gate_open_prob"] = sum(calls) / len(calls)
            sample.stats["gate_open_rate"] = sum(d for *_, d in sample.gate_decisions) / len(calls)
            return opened

        return gate

    @property
    def inference_gate(self) -> ReceiveGate | None:
        """The deterministic gate (P > 0.5) to run with `graph_for`; None when gate=False.

        Usage: Team(model, backend, receive_gate=model.inference_gate) (`topologies.resolve` does this).
        """
        if self.gate_net is None:
            return None

        def gate(agent: str, round: int, own_last: str, query: str) -> bool:
            with torch.no_grad():
                return float(self.gate_prob(agent, own_last, query)) > 0.5

        return gate
