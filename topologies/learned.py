"""What learned topologies share: the `LearnedTopology` contract, a sampled graph with its exact
log-probability, DAG sampling, and safe saving and loading (`Persistent`).

A learned topology is a `torch.nn.Module` registered by kind in `agentnet.topologies.registry`;
`TopologyTrainer` trains any of them through this contract alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypedDict, TypeVar, cast

from agentnet.agents import AgentSpec
from agentnet.errors import ConfigError
from agentnet.graph import CommGraph, Decision, Edge, ReceiveGate, StopGate

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    import torch

    from agentnet.topologies.embeddings import Embedder


@dataclass
class Sample:
    graph: CommGraph
    log_prob: torch.Tensor  # scalar, differentiable: log p(graph) under the topology
    penalty: torch.Tensor  # scalar, differentiable: regularisers added to the loss as they are
    stats: dict[str, float] = field(default_factory=dict)  # edge density etc., for the metrics log
    gate: ReceiveGate | None = None  # decides during the run (temporal gating)
    gate_log_probs: list[torch.Tensor] = field(default_factory=list)  # filled by the gates as they decide
    stop_gate: StopGate | None = None  # decides after each round whether the team stops (a stop head)

    def total_log_prob(self) -> torch.Tensor:
        return self.log_prob + sum(self.gate_log_probs) if self.gate_log_probs else self.log_prob


class ParamGroup(TypedDict):
    """One optimiser group: its name (for bi-level schedules), parameters and learning rate."""

    name: str
    params: list[torch.nn.Parameter]
    lr: float


class LearnedTopology(Protocol):
    """The contract every learned topology keeps (G-Designer, CommFormer, and any new one)."""

    kind: ClassVar[str]
    config_class: ClassVar[type]
    agents: tuple[AgentSpec, ...]
    rounds: int
    decision: Decision

    @property
    def config(self) -> DataclassInstance:
        """Its settings (an instance of `config_class`), saved with its weights."""
        ...

    def graph_for(self, query: str) -> CommGraph:
        """The deterministic graph for inference."""
        ...

    def sample(self, query: str) -> Sample:
        """A sampled graph, its exact log-probability and the regularisers (training)."""
        ...

    @property
    def inference_gate(self) -> ReceiveGate | None:
        """The deterministic receive gate to run with `graph_for`, if the topology has one."""
        ...

    @property
    def inference_stop_gate(self) -> StopGate | None:
        """The deterministic stop head to run with `graph_for`, if the topology has one."""
        ...

    def param_groups(self) -> list[ParamGroup]: ...

    def active_groups(self, step: int) -> list[str]:
        """The groups a training step updates (bi-level schedules)."""
        ...

    def set_step(self, step: int, total: int | None = None) -> None: ...

    def save(self, path: str | Path) -> Path: ...

    def state_dict(self) -> dict[str, Any]: ...

    def named_parameters(self) -> Iterator[tuple[str, torch.nn.Parameter]]:
        """Every trained tensor by name (a `torch.nn.Module`'s own); the trainer checks them finite."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> object: ...


class LearnedClass(Protocol):
    """A learned topology's class, as the registry hands it out: built for a team from an instance
    of its `config_class`, or loaded from a saved file."""

    def __call__(
        self,
        agents: Sequence[AgentSpec],
        rounds: int,
        decision: Decision,
        config: object = ...,
        embedder: Embedder | None = None,
    ) -> LearnedTopology: ...

    def load(self, path: str | Path, embedder: Embedder | None = None) -> LearnedTopology: ...


def _reaches(adj: list[set[int]], start: int, goal: int) -> bool:
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for nxt in adj[node] - seen:
            seen.add(nxt)
            stack.append(nxt)
    return False


def pair_order(n: int) -> list[tuple[int, int]]:
    """The fixed order in which candidate edges are decided: row-major, no self-edges."""
    return [(i, j) for i in range(n) for j in range(n) if i != j]


Pairs = set[tuple[int, int]]


def dag_log_prob(probs: torch.Tensor, edges: Pairs, allowed: Pairs | None = None) -> torch.Tensor:
    """The exact log-probability that `sample_dag` returns `edges`.

    Edges are decided one by one in `pair_order`; an edge that would close a cycle with the
    edges already taken is skipped (probability 1 of absence), every other one is a
    Bernoulli(p_ij). So the process only yields DAGs, and the log-probability of a DAG is
    the sum over the edges it could still take of log p or log(1-p); an impossible `edges`
    (one that the process would have skipped) gets -inf. Pairs outside `allowed` (when given:
    e.g. agents that never run together) are never candidates.
    """
    import torch

    n = probs.shape[0]
    adj: list[set[int]] = [set() for _ in range(n)]
    logp = probs.new_zeros(())
    eps = 1e-6
    for i, j in pair_order(n):
        if allowed is not None and (i, j) not in allowed:
            if (i, j) in edges:
                return probs.new_tensor(float("-inf"))
            continue
        if _reaches(adj, j, i):  # i -> j would close a cycle
            if (i, j) in edges:
                return probs.new_tensor(float("-inf"))
            continue
        p = probs[i, j].clamp(eps, 1 - eps)
        if (i, j) in edges:
            logp = logp + torch.log(p)
            adj[i].add(j)
        else:
            logp = logp + torch.log1p(-p)
    return logp


def sample_dag(
    probs: torch.Tensor, generator: torch.Generator | None = None, allowed: Pairs | None = None
) -> tuple[Pairs, torch.Tensor]:
    """Sample a DAG edge by edge (see `dag_log_prob`); returns the edges and their log-probability."""
    import torch

    n = probs.shape[0]
    adj: list[set[int]] = [set() for _ in range(n)]
    with torch.no_grad():
        draws = torch.rand(n, n, generator=generator)
    edges: set[tuple[int, int]] = set()
    for i, j in pair_order(n):
        if allowed is not None and (i, j) not in allowed:
            continue
        if not _reaches(adj, j, i) and draws[i, j] < probs[i, j].detach():
            edges.add((i, j))
            adj[i].add(j)
    return edges, dag_log_prob(probs, edges, allowed)


def threshold_dag(probs: torch.Tensor, threshold: float = 0.5, allowed: Pairs | None = None) -> Pairs:
    """The deterministic graph: edges above `threshold`, most probable first, skipping cycles."""
    n = probs.shape[0]
    adj: list[set[int]] = [set() for _ in range(n)]
    ranked = sorted(pair_order(n), key=lambda e: -float(probs[e[0], e[1]]))
    edges: set[tuple[int, int]] = set()
    for i, j in ranked:
        if allowed is not None and (i, j) not in allowed:
            continue
        if float(probs[i, j]) > threshold and not _reaches(adj, j, i):
            edges.add((i, j))
            adj[i].add(j)
    return edges


def bernoulli_edges(
    probs: torch.Tensor, generator: torch.Generator | None = None, allowed: Pairs | None = None
) -> tuple[Pairs, torch.Tensor]:
    """Independent Bernoulli edges over all ordered pairs (self-edges included; only `allowed`
    ones when given): temporal edges."""
    import torch

    with torch.no_grad():
        draws = torch.rand(probs.shape, generator=generator)
    mask = torch.ones_like(probs, dtype=torch.bool) if allowed is None else pair_mask(probs.shape[0], allowed)
    taken = (draws < probs.detach()) & mask
    p = probs.clamp(1e-6, 1 - 1e-6)
    logp = torch.where(taken, torch.log(p), torch.log1p(-p))[mask].sum()
    return {(int(i), int(j)) for i, j in taken.nonzero().tolist()}, logp


def pair_mask(n: int, pairs: Pairs) -> torch.Tensor:
    import torch

    mask = torch.zeros(n, n, dtype=torch.bool)
    for i, j in pairs:
        mask[i, j] = True
    return mask


def coactive(active: Sequence[set[int]]) -> tuple[Pairs, Pairs]:
    """The spatial pairs that run together in some round, and the temporal pairs (sender active
    in some round t, receiver in t + 1): the only edges a graph with this activity can carry."""
    spatial = {(i, j) for a in active for i in a for j in a if i != j}
    temporal = {(i, j) for a, b in zip(active, active[1:]) for i in a for j in b}
    return spatial, temporal


def named(agents: Sequence[AgentSpec], edges: set[tuple[int, int]]) -> list[Edge]:
    return [(agents[i].name, agents[j].name) for i, j in sorted(edges)]


def build_graph(
    agents: Sequence[AgentSpec],
    spatial: Pairs,
    temporal: Pairs,
    rounds: int,
    decision: Decision,
    active: Sequence[set[int]] | None = None,
    decide: bool = True,
) -> CommGraph:
    """One spatial edge set for every round, one temporal set between every pair of rounds; with
    `active` (agent indices per round), each round keeps the edges among the agents that run."""
    if active is None:
        graph = CommGraph.uniform(agents, named(agents, spatial), named(agents, temporal), rounds, decision)
        return graph if decide else replace(graph, decide=False)
    per_round = tuple(tuple(named(agents, {(i, j) for i, j in spatial if {i, j} <= a})) for a in active)
    across = tuple(
        tuple(named(agents, {(i, j) for i, j in temporal if i in a and j in b})) for a, b in zip(active, active[1:])
    )
    runs = tuple(tuple(agents[i].name for i in sorted(a)) for a in active)
    return CommGraph(tuple(agents), per_round, across, decision, active=runs, decide=decide)


def check_agents(agents: Sequence[AgentSpec], rounds: int) -> None:
    if len(agents) < 2:
        raise ConfigError(f"a learned topology needs at least 2 agents, got {len(agents)}")
    if rounds < 1:
        raise ConfigError(f"rounds={rounds} must be at least 1")


def team_spec(agents: Sequence[AgentSpec], rounds: int, decision: Decision) -> dict[str, Any]:
    """The team a topology was built for, as stored in its checkpoint."""
    return {"agents": CommGraph.uniform(agents, decision=decision).to_dict(), "rounds": rounds}


def team_from_spec(spec: dict[str, Any]) -> tuple[tuple[AgentSpec, ...], int, Decision]:
    graph = CommGraph.from_dict(spec["agents"])
    return graph.agents, spec["rounds"], graph.decision


def load_file(path: str | Path, what: str) -> dict[str, Any]:
    """A file written by `torch.save`, loaded without running code (`weights_only=True`: only
    tensors and plain containers unpickle); anything else is one clear error."""
    import pickle

    import torch

    try:
        data = torch.load(path, weights_only=True, map_location="cpu")
    except FileNotFoundError:
        raise ConfigError(f"no {what} at {path}") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(
            f"{path} is not an agentnet {what} ({first[:160]}); give a file written by agentnet"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not an agentnet {what} (it holds a {type(data).__name__})")
    return data


def non_finite(state: Mapping[str, object]) -> str | None:
    """The name of the first floating-point tensor in `state` holding NaN or ±inf, or None."""
    import torch

    for name, t in state.items():
        if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
            return str(name)
    return None


C = TypeVar("C")


def config_from_dict(cls: type[C], data: Mapping[str, object]) -> C:
    """A (possibly nested) config dataclass from its `asdict`; a field it lacks means what it meant
    when the model was saved (`legacy_defaults`), else its default."""
    from agentnet.configfile import config_from_data

    return config_from_data(cls, data, f"the saved {cls.__name__}", strict=False)


class Persistent:
    """save/load for learned topologies (kind, config, the team they were built for, weights),
    plus the contract's defaults: no receive gate, no schedule, every group active.

    Subclasses are torch modules with `kind`, `config_class`, `config`, `agents`, `rounds`
    and `decision`, constructed as `cls(agents, rounds, decision, config, embedder)`.
    """

    kind: ClassVar[str]
    config_class: ClassVar[type]

    @property
    def inference_gate(self) -> ReceiveGate | None:
        return None

    @property
    def inference_stop_gate(self) -> StopGate | None:
        return None

    def set_step(self, step: int, total: int | None = None) -> None:
        """No schedule by default."""

    def active_groups(self: LearnedTopology, step: int) -> list[str]:
        return [g["name"] for g in self.param_groups()]

    def save(self: LearnedTopology, path: str | Path) -> Path:
        import torch

        path = Path(path)
        if bad := non_finite(self.state_dict()):
            raise ConfigError(
                f"{self.kind} weight {bad} is not finite (NaN or infinite); a model like that is never saved"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "kind": self.kind,
                "config": asdict(self.config),
                "team": team_spec(self.agents, self.rounds, self.decision),
                "state": self.state_dict(),
            },
            path,
        )
        return path

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder | None = None) -> LearnedTopology:
        data = load_file(path, f"{cls.kind} topology")
        if data.get("kind") != cls.kind:
            raise ConfigError(f"{path} holds a {data.get('kind')!r} topology, not {cls.kind!r}")
        try:
            agents, rounds, decision = team_from_spec(data["team"])
            config: object = config_from_dict(cls.config_class, data["config"])
        except (KeyError, TypeError) as e:
            raise ConfigError(f"{path} is not a complete {cls.kind} topology ({e}); retrain it") from None
        except ConfigError as e:  # a value its config or team refuses (NaN, a wrong type…)
            raise ConfigError(f"{path}: {e}") from None
        if isinstance(data.get("state"), dict) and (bad := non_finite(data["state"])):
            raise ConfigError(
                f"{path}: weight {bad} is not finite (NaN or infinite), so every graph it designs "
                "would be arbitrary; retrain it"
            )

        def fitted(embedder: Embedder | None) -> LearnedTopology:
            # Persistent is mixed into LearnedTopology classes only, whose constructor LearnedClass states
            model = cast("LearnedClass", cls)(agents, rounds, decision, config, embedder)
            try:
                model.load_state_dict(data["state"])
            except (RuntimeError, KeyError, TypeError) as e:  # torch: missing/unexpected keys, size mismatches
                details = [line.strip().rstrip(".") for line in str(e).splitlines()[1:] if line.strip()] or [str(e)]
                raise ConfigError(
                    f"{path}: its weights do not fit its {cls.kind} config ({details[0]}"
                    f"{f'; {len(details) - 1} more' if len(details) > 1 else ''}); "
                    "it was saved by another version of agentnet or edited — retrain it"
                ) from None
            return model

        if embedder is None:  # the default sentence encoder takes seconds to load: check the weights first
            from agentnet.topologies.embeddings import HashEmbedder, MiniLMEmbedder

            fitted(HashEmbedder(MiniLMEmbedder.dim))
        return fitted(embedder)
