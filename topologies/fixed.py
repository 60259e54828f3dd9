"""Fixed communication shapes. Each builder returns a `CommGraph`; `FIXED` is their registry.

Spatial edges point from sender to receiver inside a round. Temporal edges (round t-1 →
t) default to `self` (each agent rereads its own last output); `complete` lets every agent
read every agent's last output; `none` drops them.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from agentnet.agents import AgentSpec
from agentnet.errors import ConfigError, UnknownNameError
from agentnet.graph import CommGraph, Decision, Edge

TemporalMode = Literal["self", "complete", "none"]
Builder = Callable[..., CommGraph]


def _temporal(names: list[str], mode: TemporalMode) -> list[Edge]:
    if mode == "self":
        return [(n, n) for n in names]
    if mode == "complete":
        return [(u, v) for u in names for v in names]
    if mode == "none":
        return []
    raise ConfigError(f"temporal={mode!r}; use self, complete or none")


def _graph(
    agents: Sequence[AgentSpec], spatial: list[Edge], rounds: int, decision: Decision | None, temporal: TemporalMode
) -> CommGraph:
    names = [a.name for a in agents]
    return CommGraph.uniform(agents, spatial, _temporal(names, temporal), rounds, decision)


def single(
    agents: Sequence[AgentSpec], rounds: int = 1, decision: Decision | None = None, temporal: TemporalMode = "self"
) -> CommGraph:
    """One agent (the first): the baseline every team must beat."""
    return _graph(agents[:1], [], rounds, decision or Decision("last_agent"), temporal)


def chain(
    agents: Sequence[AgentSpec], rounds: int = 1, decision: Decision | None = None, temporal: TemporalMode = "self"
) -> CommGraph:
    """a0 → a1 → … → a(n-1)."""
    names = [a.name for a in agents]
    return _graph(agents, list(zip(names, names[1:])), rounds, decision, temporal)


def star(
    agents: Sequence[AgentSpec], rounds: int = 1, decision: Decision | None = None, temporal: TemporalMode = "self"
) -> CommGraph:
    """Every other agent → a0: the hub reads all and speaks last."""
    names = [a.name for a in agents]
    return _graph(agents, [(n, names[0]) for n in names[1:]], rounds, decision, temporal)


def tree(
    agents: Sequence[AgentSpec],
    rounds: int = 1,
    decision: Decision | None = None,
    temporal: TemporalMode = "self",
    branching: int = 2,
) -> CommGraph:
    """A `branching`-ary tree rooted at a0, children → parent (answers flow to the root)."""
    if branching < 1:
        raise ConfigError(f"branching={branching} must be at least 1")
    names = [a.name for a in agents]
    return _graph(
        agents, [(names[i], names[(i - 1) // branching]) for i in range(1, len(names))], rounds, decision, temporal
    )


def complete(
    agents: Sequence[AgentSpec], rounds: int = 1, decision: Decision | None = None, temporal: TemporalMode = "complete"
) -> CommGraph:
    """Every agent reads every earlier agent (the acyclic complete graph) and all of last round."""
    names = [a.name for a in agents]
    return _graph(agents, [(u, v) for i, u in enumerate(names) for v in names[i + 1 :]], rounds, decision, temporal)


def layered(
    agents: Sequence[AgentSpec],
    rounds: int = 1,
    decision: Decision | None = None,
    temporal: TemporalMode = "self",
    layers: Sequence[int] | None = None,
) -> CommGraph:
    """Layers of the given sizes (default: pairs), every agent of a layer → every agent of the next."""
    names = [a.name for a in agents]
    sizes = list(layers) if layers else [2] * (len(names) // 2) + [len(names) % 2] * (len(names) % 2)
    if sum(sizes) != len(names) or any(s < 1 for s in sizes):
        raise ConfigError(f"layers={list(sizes)} must be positive sizes summing to the {len(names)} agents")
    groups, i = [], 0
    for s in sizes:
        groups.append(names[i : i + s])
        i += s
    edges = [(u, v) for g, h in zip(groups, groups[1:]) for u in g for v in h]
    return _graph(agents, edges, rounds, decision, temporal)


def random(
    agents: Sequence[AgentSpec],
    rounds: int = 1,
    decision: Decision | None = None,
    temporal: TemporalMode = "self",
    p: float = 0.5,
    seed: int = 0,
) -> CommGraph:
    """Each forward edge (i < j, so acyclic) kept with probability p, reproducibly from `seed`."""
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"p={p} must be a probability in [0, 1]")
    rng = _random.Random(seed)
    names = [a.name for a in agents]
    edges = [(u, v) for i, u in enumerate(names) for v in names[i + 1 :] if rng.random() < p]
    return _graph(agents, edges, rounds, decision, temporal)


def debate(
    agents: Sequence[AgentSpec], rounds: int = 2, decision: Decision | None = None, temporal: TemporalMode = "complete"
) -> CommGraph:
    """LLM debate: everyone answers alone, then rereads everyone's last answers each round."""
    return _graph(agents, [], rounds, decision or Decision("majority_vote"), temporal)


@dataclass(frozen=True)
class Shape:
    """A fixed shape in the registry: its builder and the smallest team it makes sense for."""

    name: str
    build: Builder
    min_agents: int = 2

    @property
    def help(self) -> str:
        return (self.build.__doc__ or "").strip().splitlines()[0]


FIXED: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape("single", single, min_agents=1),
        Shape("chain", chain),
        Shape("star", star),
        Shape("tree", tree),
        Shape("complete", complete),
        Shape("layered", layered),
        Shape("random", random),
        Shape("debate", debate),
    )
}


def fixed(
    name: str,
    agents: Sequence[AgentSpec],
    rounds: int | None = None,
    decision: Decision | None = None,
    temporal: TemporalMode | None = None,
    *,
    branching: int | None = None,  # tree
    layers: Sequence[int] | None = None,  # layered
    p: float | None = None,  # random
    seed: int | None = None,  # random
) -> CommGraph:
    """The shape called `name` over `agents`; a parameter left None is the shape's default (a
    parameter another shape takes is a TypeError, as calling its builder with it would be)."""
    shape = FIXED.get(name)
    if shape is None:
        raise UnknownNameError("topology", name, list(FIXED))
    if len(agents) < shape.min_agents:
        raise ConfigError(
            f"topology {name} needs at least {shape.min_agents} agents, got {len(agents)}; "
            "use more agents or --topology single"
        )
    given = {
        "rounds": rounds,
        "decision": decision,
        "temporal": temporal,
        "branching": branching,
        "layers": layers,
        "p": p,
        "seed": seed,
    }
    return shape.build(agents, **{k: v for k, v in given.items() if v is not None})
