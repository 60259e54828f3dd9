"""The learned topologies' settings, apart from the torch modules that use them.

The CLI generates `agentnet train KIND` options from these dataclasses (`LearnedKind.config_class`),
so they import nothing heavy: `agentnet run` and `agentnet bench` work without the [graph]
extra, and every command starts without loading torch.

Every config checks its numbers first (`check_fields`: finite floats, whole ints, the `ge`/`gt`/
`le`/`lt` ranges of their metadata): a NaN weight or learning rate would train a model whose
every weight is NaN, and a NaN threshold would keep no edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from agentnet.checks import check_fields
from agentnet.errors import ConfigError, require_at_least_one


@dataclass(frozen=True)
class HeadsConfig:
    activation: bool = field(
        default=False, metadata={"help": "Learn which agents run, per query (and per round when rounds > 1)."}
    )
    stop: bool = field(
        default=False,
        metadata={"help": "Learn after each round, from its outputs, whether the team stops (rounds > 1)."},
    )
    skip_decision: bool = field(default=False, metadata={"help": "Learn per query whether the decision call is made."})
    activation_init: float = field(
        default=2.0, metadata={"ge": -50, "le": 50, "help": "Initial logit of an agent running (2.0: P ≈ 0.88)."}
    )
    stop_init: float = field(
        default=-2.0,
        metadata={"ge": -50, "le": 50, "help": "Initial logit of stopping after a round (-2.0: P ≈ 0.12)."},
    )
    decide_init: float = field(
        default=2.0,
        metadata={"ge": -50, "le": 50, "help": "Initial logit of making the decision call (2.0: P ≈ 0.88)."},
    )
    heads_lr: float = field(
        default=5e-2, metadata={"gt": 0, "help": "Learning rate of the adaptive-team heads (Adam)."}
    )
    centre_query: bool = field(
        default=True,
        metadata={
            "help": "The activation and decision heads read the query centred by its running training mean "
            "(off: the raw query, whose shared direction Adam turns into a drift of every logit)."
        },
    )
    open_with: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "Start as a cascade: these agents open round 0 (activation logit +init there, -init later) and "
            "the others wait for round 1 and after (-init in round 0); empty: everyone starts in every round."
        },
    )
    read_said: bool = field(
        default=True,
        metadata={
            "help": "The stop head also reads how the round's tools ended, its answers' log-probabilities and "
            "which models spoke (off: the query, the outputs' embedding, the round and the answers' agreement)."
        },
    )
    # a model saved before a field existed loads with the behaviour it was trained with
    legacy_defaults: ClassVar[dict[str, object]] = {"read_said": False}

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def any(self) -> bool:
        return self.activation or self.stop or self.skip_decision


ANCHORS = ("chain", "star", "complete", "none")


@dataclass(frozen=True)
class GDesignerConfig:
    hidden: int = field(default=32, metadata={"ge": 1, "le": 4096, "help": "GCN hidden width."})
    latent: int = field(default=16, metadata={"ge": 1, "le": 4096, "help": "Latent size per node."})
    id_dim: int = field(
        default=8,
        metadata={
            "ge": 0,
            "le": 4096,
            "help": "Learned per-node identity features (0: role embeddings only, as in the paper).",
        },
    )
    anchor: str = field(
        default="chain",
        metadata={"help": "The fixed shape whose edges the encoder runs over: chain, star, complete or none."},
    )
    temporal: bool = field(
        default=True, metadata={"help": "Learn cross-round edges (else every agent rereads only itself)."}
    )
    threshold: float = field(default=0.5, metadata={"help": "Inference: keep edges above this probability."})
    lambda_kl: float = field(default=1e-3, metadata={"ge": 0, "help": "Weight of the VGAE KL term."})
    lambda_sparse: float = field(
        default=1e-2, metadata={"ge": 0, "help": "Weight of the mean decoded edge probability (sparsity)."}
    )
    lambda_anchor: float = field(
        default=0.0, metadata={"ge": 0, "help": "Weight of the BCE of the decoded adjacency towards the anchor's."}
    )
    lambda_logit: float = field(
        default=1e-2,
        metadata={
            "ge": 0,
            "help": "L2 on edge logits: keeps sigmoids off saturation, so REINFORCE can still move them.",
        },
    )
    lr: float = field(default=1e-2, metadata={"gt": 0, "help": "Learning rate (Adam)."})
    init_logstd: float = field(
        default=-3.0,
        metadata={"le": 10, "ge": -30, "help": "Initial log σ of the latents (little noise: edges explore first)."},
    )
    heads: HeadsConfig = field(default_factory=HeadsConfig)  # adaptive teams: who runs, when to stop, the decision
    public_code: bool = field(
        default=False,
        metadata={"help": "Reproduce the authors' public code (deterministic encoder, symmetric scaled decoder)."},
    )
    seed: int = field(default=0, metadata={"help": "Seed for initialisation and sampling."})

    def __post_init__(self) -> None:
        check_fields(self)
        if self.anchor not in ANCHORS:
            raise ConfigError(f"anchor={self.anchor!r}; use one of {', '.join(ANCHORS)}")
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"threshold={self.threshold} must be in (0, 1)")


@dataclass(frozen=True)
class CommFormerConfig:
    ratio: float = field(default=0.4, metadata={"help": "ρ: each agent reads k = max(⌊ρ·N⌋, 1) senders."})
    warmup_steps: int = field(default=2, metadata={"help": "Dense graph (edges untrained) for this many steps."})
    tau: float = field(default=1.0, metadata={"help": "Gumbel-softmax temperature of the straight-through relaxation."})
    edge_init: float = field(default=1.0, metadata={"ge": -50, "le": 50, "help": "Initial edge parameter."})
    gate: bool = field(
        default=True, metadata={"help": "Temporal gating: each agent decides whether to read its senders."}
    )
    gate_hidden: int = field(default=32, metadata={"le": 4096, "help": "Hidden width of the gate network."})
    gate_init: float = field(
        default=2.0,
        metadata={
            "ge": -50,
            "le": 50,
            "help": "Initial gate logit bias (2.0: P(receive) ≈ 0.88, near the dense start).",
        },
    )
    edge_lr: float = field(default=1e-2, metadata={"help": "Learning rate of the edges (Adam)."})
    gate_lr: float = field(default=1e-2, metadata={"help": "Learning rate of the gate (Adam)."})
    edge_every: int = field(
        default=2, metadata={"help": "Edges train on steps with step % edge_every == 0, the gate on the others."}
    )
    freeze_after: float | None = field(
        default=None, metadata={"help": "Fraction of training after which the graph stops changing (default: never)."}
    )
    sparsity: float = field(
        default=0.0, metadata={"help": "Coefficient of the (straight-through) number of spatial edges."}
    )
    heads: HeadsConfig = field(default_factory=HeadsConfig)  # adaptive teams: who runs, when to stop, the decision
    seed: int = field(default=0, metadata={"help": "Seed for initialisation and sampling."})

    def __post_init__(self) -> None:
        check_fields(self)
        if not 0.0 < self.ratio <= 1.0:
            raise ConfigError(f"ratio={self.ratio} must be in (0, 1]; CommFormer uses 0.4")
        if self.tau <= 0:
            raise ConfigError(f"tau={self.tau} must be positive; use 1.0")
        for name in ("warmup_steps", "sparsity"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)} must be at least 0")
        require_at_least_one(self, "gate_hidden", "edge_every")
        for name in ("edge_lr", "gate_lr"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name}={getattr(self, name)} must be positive")
        if self.freeze_after is not None and not 0.0 < self.freeze_after <= 1.0:
            raise ConfigError(f"freeze_after={self.freeze_after} must be in (0, 1] (a fraction of training) or None")


@dataclass(frozen=True)
class GPTSwarmConfig:
    lr: float = field(
        default=0.1, metadata={"gt": 0, "help": "Learning rate of the edge logits (Adam; GPTSwarm: 0.1)."}
    )
    init_prob: float = field(
        default=0.5, metadata={"gt": 0, "lt": 1, "help": "Initial probability of every edge (GPTSwarm: 0.5)."}
    )
    temporal: bool = field(
        default=True, metadata={"help": "Learn cross-round edges (else every agent rereads itself)."}
    )
    seed: int = field(default=0, metadata={"help": "Seed for sampling."})

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class PruneSchedule:
    """When edges are masked for good (AgentPrune's schedule; AgentDropout's edge dropout)."""

    prune_every: int = field(default=5, metadata={"help": "Steps between prunings (AgentPrune: 5)."})
    prune_ratio: float = field(default=0.25, metadata={"help": "Share of the unmasked edges masked at each pruning."})
    max_prunes: int = field(default=2, metadata={"help": "Prunings in all (AgentPrune's default run prunes twice)."})

    def __post_init__(self) -> None:
        check_fields(self)
        if self.prune_every < 1 or self.max_prunes < 0 or not 0.0 < self.prune_ratio < 1.0:
            raise ConfigError(
                f"prune_every={self.prune_every}, max_prunes={self.max_prunes}, prune_ratio="
                f"{self.prune_ratio}: use prune_every >= 1, max_prunes >= 0, 0 < prune_ratio < 1"
            )

    def due(self, step: int) -> int:
        """Prunings that should have happened by `step`."""
        return min(step // self.prune_every, self.max_prunes)


@dataclass(frozen=True)
class AgentPruneConfig:
    lr: float = field(
        default=0.1, metadata={"gt": 0, "help": "Learning rate of the edge logits (Adam; AgentPrune: 0.1)."}
    )
    init_prob: float = field(default=0.5, metadata={"gt": 0, "lt": 1, "help": "Initial probability of every edge."})
    temporal: bool = field(
        default=True, metadata={"help": "Learn cross-round edges (else every agent rereads itself)."}
    )
    prune: PruneSchedule = field(default_factory=PruneSchedule)
    seed: int = field(default=0, metadata={"help": "Seed for sampling."})

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class AgentDropoutConfig:
    lr: float = field(
        default=0.1, metadata={"gt": 0, "help": "Learning rate of the edge and node logits (Adam; AgentDropout: 0.1)."}
    )
    node_init: float = field(
        default=2.0, metadata={"ge": -50, "le": 50, "help": "Initial node logit (2.0: an agent runs with P ≈ 0.88)."}
    )
    skip_decision: bool = field(default=False, metadata={"help": "Learn whether the decision call is made."})
    decide_init: float = field(
        default=2.0, metadata={"ge": -50, "le": 50, "help": "Initial logit of making the decision call."}
    )
    prune: PruneSchedule = field(default_factory=PruneSchedule)  # edge dropout
    seed: int = field(default=0, metadata={"help": "Seed for sampling."})

    def __post_init__(self) -> None:
        check_fields(self)
