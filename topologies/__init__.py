"""Topologies: each designs a CommGraph for a query; none calls an LLM.

Fixed shapes live in `fixed` (registry `FIXED`); learned ones (G-Designer, CommFormer) are
torch modules saved to files and named `kind:PATH`. `resolve` turns either into a Topology.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentnet.agents import AgentSpec
from agentnet.errors import ConfigError, UnknownNameError
from agentnet.graph import CommGraph, Decision, ReceiveGate
from agentnet.topologies.fixed import FIXED, fixed

LEARNED = ("gdesigner", "commformer")


def learned_class(kind: str) -> Any:
    if kind == "gdesigner":
        from agentnet.topologies.gdesigner import GDesigner

        return GDesigner
    if kind == "commformer":
        from agentnet.topologies.commformer import CommFormer

        return CommFormer
    raise UnknownNameError("learned topology", kind, list(LEARNED))


def load_learned(spec: str, embedder: Any = None) -> Any:
    """`gdesigner:PATH` or `commformer:PATH` -> the trained topology."""
    kind, _, path = spec.partition(":")
    if not path:
        raise ConfigError(f"topology {spec!r} needs a model file: {kind}:PATH (from `agentnet train {kind}`)")
    if not Path(path).is_file():
        raise ConfigError(f"no trained topology at {path}; train one with `agentnet train {kind} --out DIR`")
    return learned_class(kind).load(path, embedder)


def resolve(
    spec: str,
    agents: Sequence[AgentSpec],
    rounds: int,
    decision: Decision,
    **params: Any,
) -> tuple[CommGraph | Any, ReceiveGate | None]:
    """A fixed shape name -> its CommGraph; a learned `kind:PATH` -> the trained topology.
    Either goes straight into `Team`, with the receive gate (learned temporal gating) if any.

    A learned topology brings its own agents, rounds and decision (those it was trained with).
    """
    kind = spec.partition(":")[0]
    if kind in LEARNED:
        topology = load_learned(spec)
        return topology, getattr(topology, "inference_gate", None)
    if kind not in FIXED:
        raise UnknownNameError("topology", spec, [*FIXED, *(f"{k}:PATH" for k in LEARNED)])
    return fixed(kind, agents, rounds=rounds, decision=decision, **params), None


__all__ = ["FIXED", "LEARNED", "fixed", "load_learned", "resolve"]
