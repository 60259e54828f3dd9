"""Adaptive-team heads: per query, which agents run in each round, whether the decision call is
made, and — during the run, after each round — whether the team stops there.

Every choice is sampled with its exact log-probability (for REINFORCE) and is deterministic at
inference (probability > 0.5). A round never runs empty: training draws a round's team
conditioned on someone running (its log-probability is exact), inference runs the most probable
agent when none is above 0.5. The heads read the query embedding — with `centre_query` centred
by its running training mean, so what every query shares moves a head's bias alone (the bias
`--screen` sets) and the weights learn only what tells queries apart; the stop head also reads
the round's outputs (their mean embedding), the round, how much the round's answers agree and —
reading what was said — how its tools ended, how sure its models were and which models spoke;
so different queries get different teams, and a round whose answer looks settled can end the run.
Utility stays score − λ_tok · tokens: an agent that is switched off is rewarded exactly by the
tokens it saves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from agentnet.errors import ConfigError
from agentnet.graph import StopGate
from agentnet.rounds import Spoken, agreement, mean_logprob, tool_failure
from agentnet.topologies.configs import HeadsConfig
from agentnet.topologies.embeddings import Embedder


@dataclass
class Plan:
    """Who runs in each round (agent indices) and whether the decision is made, with log p."""

    active: list[set[int]]
    decide: bool
    log_prob: torch.Tensor


def draw_round_team(p: torch.Tensor, generator: torch.Generator) -> set[int]:
    """Each agent independently with its probability, conditioned on someone running.

    Exact, without rejection loops: the first agent to run is k with probability ∝ p_k Π_{j<k}(1 − p_j),
    and every agent after it is then drawn on its own."""
    p = p.detach().clamp(1e-6, 1 - 1e-6)
    first = p * torch.cat([p.new_ones(1), torch.cumprod(1 - p, 0)[:-1]])
    k = int(torch.multinomial(first, 1, generator=generator))
    return {k} | {i for i in range(k + 1, len(p)) if float(torch.rand((), generator=generator)) < float(p[i])}


def likeliest_round_team(p: torch.Tensor) -> set[int]:
    """Inference: the agents above 0.5, or the most probable one alone when none is."""
    return {i for i in range(len(p)) if p[i] > 0.5} or {int(p.argmax())}


def round_team_log_prob(p: torch.Tensor, chosen: set[int]) -> torch.Tensor:
    """log P(the round's team is `chosen` | it is not empty), as `draw_round_team` samples it.

    (An empty draw replaced by the most probable agent — the rule before — gives that agent no
    gradient once every probability is below 0.5: its team is as likely whatever its own p, so a
    rewarded solo agent could not rise and the inference team, the argmax, drifted.)"""
    p = p.clamp(1e-6, 1 - 1e-6)
    mask = torch.zeros_like(p, dtype=torch.bool)
    mask[list(chosen)] = True
    drawn = torch.where(mask, torch.log(p), torch.log1p(-p)).sum()
    return drawn - torch.log(-torch.expm1(torch.log1p(-p).sum()))  # ÷ P(someone runs)


@torch.no_grad()
def move_running_mean(mean: torch.Tensor, seen: torch.Tensor, x: torch.Tensor) -> None:
    """In place: the mean of the features seen so far, of the last 100 once more have been seen."""
    seen += 1
    mean += (x - mean) / torch.clamp(seen, max=100.0)


class TeamHeads(nn.Module):
    def __init__(
        self,
        n_agents: int,
        rounds: int,
        embedder: Embedder,
        config: HeadsConfig,
        models: Sequence[str] = (),
        names: Sequence[str] = (),
    ):
        super().__init__()
        if config.stop and rounds < 2:
            raise ConfigError(
                "a stop head needs rounds > 1: a 1-round team has no round to stop after; "
                "use --rounds 2 or more, or leave --stop off"
            )
        self.n, self.rounds, self.config, self.embedder = n_agents, rounds, config, embedder
        dim = embedder.dim
        self.act = nn.Linear(dim, n_agents * rounds)
        # query, the round's outputs (mean embedding), round (one-hot), agreement of its answers
        # and, reading what was said (`read_said`), the share of its tool runs that failed, its
        # answers' mean log-probability and which models spoke; centred by their running mean,
        # so what all queries share moves the bias alone and the weights only learn what tells
        # queries apart (with Adam, uncentred features that every query shares push the logit by
        # lr per feature and step, and the head collapses)
        self.models = tuple(dict.fromkeys(models))
        width = 2 * dim + rounds + 1 + (2 + len(self.models) if config.read_said else 0)
        self.stop = nn.Linear(width, 1)
        self.stop_mean: torch.Tensor
        self.stop_seen: torch.Tensor
        self.register_buffer("stop_mean", torch.zeros(width))
        self.register_buffer("stop_seen", torch.zeros(()))
        self.decide = nn.Linear(dim, 1)
        # the activation and decision heads read the query centred the same way (a model saved
        # before the centring loads with a zero mean: the uncentred head it was trained as)
        self.query_mean: torch.Tensor
        self.query_seen: torch.Tensor
        self.register_buffer("query_mean", torch.zeros(dim))
        self.register_buffer("query_seen", torch.zeros(()))
        for layer, bias in (
            (self.act, config.activation_init),
            (self.stop, config.stop_init),
            (self.decide, config.decide_init),
        ):
            nn.init.zeros_(layer.weight)  # every query starts from the same prior; the query features then move it
            nn.init.constant_(layer.bias, bias)
        if config.open_with:
            self._start_as_cascade(list(names), config.open_with, config.activation_init)

    def _start_as_cascade(self, names: list[str], opening: Sequence[str], init: float) -> None:
        """Activation biases of a cascade: the opening agents run in round 0 only, the others after it."""
        unknown = sorted(set(opening) - set(names))
        if unknown or len(names) != self.n:
            raise ConfigError(
                f"open_with names {', '.join(unknown) or 'agents'} the team does not have; agents: {', '.join(names)}"
            )
        if set(opening) == set(names):
            raise ConfigError("open_with names every agent: a cascade needs someone to escalate to; leave an agent out")
        bias = torch.tensor(
            [[abs(init) if (name in opening) == (t == 0) else -abs(init) for name in names] for t in range(self.rounds)]
        )
        with torch.no_grad():
            self.act.bias.copy_(bias.reshape(-1))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("query_mean", "query_seen"):
            state_dict.setdefault(prefix + name, getattr(self, name).clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- before the run ----------------------------------------------------------------------
    def activation_probs(self, q: torch.Tensor) -> torch.Tensor:
        """P(agent i runs in round t), from the query (centred with `centre_query`)."""
        return torch.sigmoid(self.act(q - self.query_mean)).reshape(self.rounds, self.n)

    def decide_prob(self, q: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decide(q - self.query_mean))[0]

    def sample(self, q: torch.Tensor, generator: torch.Generator) -> Plan:
        """A plan drawn for training (which first moves the running query mean, if centred)."""
        if self.config.centre_query:  # otherwise the mean stays zero: the raw query
            move_running_mean(self.query_mean, self.query_seen, q)
        logp = q.new_zeros(())
        active: list[set[int]] = [set(range(self.n)) for _ in range(self.rounds)]
        if self.config.activation:
            probs = self.activation_probs(q)
            for t in range(self.rounds):
                active[t] = draw_round_team(probs[t], generator)
                logp = logp + round_team_log_prob(probs[t], active[t])
        decide = True
        if self.config.skip_decision:
            p = self.decide_prob(q).clamp(1e-6, 1 - 1e-6)
            decide = float(torch.rand((), generator=generator)) < float(p.detach())
            logp = logp + (torch.log(p) if decide else torch.log1p(-p))
        return Plan(active, decide, logp)

    @torch.no_grad()
    def deterministic(self, q: torch.Tensor) -> Plan:
        active: list[set[int]] = [set(range(self.n)) for _ in range(self.rounds)]
        if self.config.activation:
            probs = self.activation_probs(q)
            active = [likeliest_round_team(probs[t]) for t in range(self.rounds)]
        decide = not self.config.skip_decision or bool(self.decide_prob(q) > 0.5)
        return Plan(active, decide, q.new_zeros(()))

    # -- during the run ----------------------------------------------------------------------
    def query_features(self, query: str) -> torch.Tensor:
        return self.embedder.encode([query]).detach()[0]

    def stop_features(self, q: torch.Tensor, round: int, said: Mapping[str, Spoken]) -> torch.Tensor:
        texts = [s.text for s in said.values()]
        outputs = self.embedder.encode(texts).detach().mean(0) if said else torch.zeros_like(q)
        round_1h = nn.functional.one_hot(torch.tensor(round), self.rounds).float()
        parts = [q, outputs, round_1h, q.new_tensor([agreement(said)])]
        if self.config.read_said:
            spoke = {s.model for s in said.values()}
            parts.append(
                q.new_tensor([tool_failure(said), mean_logprob(said), *(float(m in spoke) for m in self.models)])
            )
        return torch.cat(parts)

    def stop_prob(self, q: torch.Tensor, round: int, said: Mapping[str, Spoken], learn: bool = False) -> torch.Tensor:
        """P(stop after `round`); `learn` (training) first moves the running feature mean."""
        x = self.stop_features(q, round, said)
        if learn:
            move_running_mean(self.stop_mean, self.stop_seen, x)
        return torch.sigmoid(self.stop(x - self.stop_mean))[0]

    def sampling_stop_gate(
        self, q: torch.Tensor, generator: torch.Generator, log_probs: list[torch.Tensor], stats: dict[str, float]
    ) -> StopGate:
        """A stop gate that samples, appending each decision's log-probability to `log_probs`."""

        def gate(round: int, said: Mapping[str, Spoken], query: str) -> bool:
            p = self.stop_prob(q, round, said, learn=True).clamp(1e-6, 1 - 1e-6)
            stop = float(torch.rand((), generator=generator)) < float(p.detach())
            log_probs.append(torch.log(p) if stop else torch.log1p(-p))
            stats["stopped_after"] = float(round) if stop else stats.get("stopped_after", float(self.rounds - 1))
            return stop

        return gate

    def inference_stop_gate(self) -> StopGate:
        def gate(round: int, said: Mapping[str, Spoken], query: str) -> bool:
            with torch.no_grad():
                return bool(self.stop_prob(self.query_features(query), round, said) > 0.5)

        return gate


def plan_stats(plan: Plan, n: int) -> dict[str, float]:
    return {"active_share": sum(len(a) for a in plan.active) / (n * len(plan.active)), "decide": float(plan.decide)}
