"""The topology registries: fixed shapes (`FIXED`, from `fixed`) and learned kinds (`LEARNED`).

A learned kind names the module and class that implement `LearnedTopology` and carries its
settings dataclass (from `configs`, which imports no torch); the module (and so torch) is
imported only when that kind is used. Adding a learned topology: its module, its config in
`configs`, plus one `LearnedKind` entry here — the trainer, `agentnet train KIND`,
`--topology KIND:PATH` and `agentnet topo show` pick it up from this entry.

`resolve` turns a topology spec into something `Team` runs: a fixed shape's name, a learned
`KIND:PATH`, a hand-written cascade `cascade:RULE` (`cascade`), or a CommGraph JSON file
(`graph.json`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from agentnet.agents import AgentSpec
from agentnet.errors import ConfigError, UnknownNameError
from agentnet.graph import CommGraph, Decision, Topology
import agentnet.topologies.configs as configs
from agentnet.topologies.cascade import RULES, Cascade
from agentnet.topologies.fixed import FIXED, TemporalMode, fixed

if TYPE_CHECKING:
    from agentnet.topologies.embeddings import Embedder
    from agentnet.topologies.learned import LearnedClass, LearnedTopology


@dataclass(frozen=True)
class LearnedKind:
    name: str
    module: str  # import path of the module holding the class
    class_name: str
    config_class: type  # the settings dataclass: `agentnet train KIND` options are generated from it
    help: str

    def model_class(self) -> LearnedClass:
        """The `LearnedTopology` class (imports its module, and torch)."""
        cls: LearnedClass = getattr(import_module(self.module), self.class_name)
        return cls


LEARNED: dict[str, LearnedKind] = {
    k.name: k
    for k in (
        LearnedKind(
            "gdesigner",
            "agentnet.topologies.gdesigner",
            "GDesigner",
            configs.GDesignerConfig,
            "G-Designer: a variational graph auto-encoder with a task node designs each query's graph",
        ),
        LearnedKind(
            "commformer",
            "agentnet.topologies.commformer",
            "CommFormer",
            configs.CommFormerConfig,
            "CommFormer: learnable sparse adjacency (per-row top-k) plus temporal receive gating",
        ),
        LearnedKind(
            "gptswarm",
            "agentnet.topologies.gptswarm",
            "GPTSwarm",
            configs.GPTSwarmConfig,
            "GPTSwarm: one learned logit per potential edge, the same graph for every query",
        ),
        LearnedKind(
            "agentprune",
            "agentnet.topologies.agentprune",
            "AgentPrune",
            configs.AgentPruneConfig,
            "AgentPrune: GPTSwarm's spatial and temporal edge logits, the lowest pruned on a schedule",
        ),
        LearnedKind(
            "agentdropout",
            "agentnet.topologies.agentdropout",
            "AgentDropout",
            configs.AgentDropoutConfig,
            "AgentDropout: per-round node dropout and edge dropout on intra- and inter-round adjacency",
        ),
    )
}


def learned_kind(name: str) -> LearnedKind:
    kind = LEARNED.get(name)
    if kind is None:
        raise UnknownNameError("learned topology", name, list(LEARNED))
    return kind


def topology_help() -> str:
    learned = " / ".join(f"{k}:PATH" for k in LEARNED)
    cascades = " / ".join(f"cascade:{r}" for r in RULES)
    return f"Graph: {', '.join(FIXED)}; a trained {learned}; a rule-based {cascades}; or a CommGraph JSON file."


def load_learned(spec: str, embedder: Embedder | None = None) -> LearnedTopology:
    """`KIND:PATH` -> the trained topology."""
    name, _, path = spec.partition(":")
    kind = learned_kind(name)
    if not path:
        raise ConfigError(f"topology {spec!r} needs a model file: {name}:PATH (from `agentnet train {name}`)")
    if not Path(path).is_file():
        raise ConfigError(f"no trained topology at {path}; train one with `agentnet train {name} --out DIR`")
    topology: LearnedTopology = kind.model_class().load(path, embedder)
    return topology


def resolve(
    spec: str,
    agents: Sequence[AgentSpec],
    rounds: int,
    decision: Decision,
    *,
    temporal: TemporalMode | None = None,
    seed: int | None = None,
) -> CommGraph | Topology:
    """A fixed shape name -> its CommGraph; a learned `KIND:PATH` -> the trained topology (which
    brings its inference gates, `inference_gate` and `inference_stop_gate`); a `.json` file -> the
    CommGraph in it. Learned topologies and graph files bring their own agents, rounds and decision.
    """
    name = spec.partition(":")[0]
    if name in LEARNED:
        return load_learned(spec)
    if name == "cascade":
        return Cascade(agents, decision, spec.partition(":")[2] or "agree")
    if spec.endswith(".json"):
        return CommGraph.load(spec)
    if name not in FIXED:
        raise UnknownNameError(
            "topology", spec, [*FIXED, *(f"{k}:PATH" for k in LEARNED), *(f"cascade:{r}" for r in RULES), "FILE.json"]
        )
    return fixed(name, agents, rounds=rounds, decision=decision, temporal=temporal, seed=seed)
