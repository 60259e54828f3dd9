"""Trainable parameters of a team, declared as data, and the team they apply to.

A `Parameter` names one value the optimiser may rewrite (an agent's system prompt, the
decision prompt, rounds, temperature, the answer-extraction code), with its type, a
description the optimiser reads, and bounds or choices. A `ParameterSet` applies its values
to a `TeamSpec` (a fixed shape, its agents, rounds, decision, extraction code) and
serialises to JSON, so optimised state is data (DSPy's dump_state/load_state).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from agentnet.agents import AgentSpec
from agentnet.decisions import DECISIONS, decision_info
from agentnet.errors import ConfigError, UnknownNameError
from agentnet.graph import CommGraph, Decision
from agentnet.prompts import load_role
from agentnet.types import GenerationSettings

Kind = Literal["text", "int", "float", "code"]
KINDS: tuple[Kind, ...] = ("text", "int", "float", "code")
Value = str | int | float

# The extraction code runs on the team's output before the task scores it (the task's own
# reader still runs after it), so the identity keeps the untrained team's scores unchanged.
DEFAULT_EXTRACT = '''def extract(output: str) -> str:
    """The part of the team's output that the task should score."""
    return output
'''
EXTRACT_FUNCTION = "extract"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# where a parameter's value goes: "system:<agent>", "decision.system", "rounds", "temperature", "extract"
_TEAM_TARGETS = ("decision.system", "rounds", "temperature", "extract")


@dataclass(frozen=True)
class Parameter:
    """One value of a team, as the optimiser sees it (`name`, `kind`, `description`, bounds)."""

    name: str  # a Python identifier: the variable name in the OPTO problem
    value: Value
    description: str
    target: str  # where the value is applied; see _TEAM_TARGETS and "system:<agent>"
    kind: Kind = "text"
    trainable: bool = True
    bounds: tuple[float, float] | None = None  # int/float: inclusive range
    choices: tuple[Value, ...] | None = None  # when set, the value must be one of these

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(f"parameter name {self.name!r} must be a Python identifier (e.g. a0_prompt)")
        if self.kind not in KINDS:
            raise ConfigError(f"parameter {self.name}: kind {self.kind!r} unknown; use {', '.join(KINDS)}")
        if not (self.target in _TEAM_TARGETS or self.target.startswith("system:")):
            raise ConfigError(
                f"parameter {self.name}: target {self.target!r} unknown; use system:<agent>, {', '.join(_TEAM_TARGETS)}"
            )
        if self.bounds is not None:
            object.__setattr__(self, "bounds", tuple(self.bounds))
            lo, hi = self.bounds
            if self.kind not in ("int", "float") or lo > hi:
                raise ConfigError(f"parameter {self.name}: bounds {self.bounds} need an int/float kind and low <= high")
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self.choices))
        kinds: dict[str, type | tuple[type, ...]] = {"text": str, "code": str, "int": int, "float": (int, float)}
        expected = kinds[self.kind]
        if not isinstance(self.value, expected) or isinstance(self.value, bool):
            raise ConfigError(f"parameter {self.name}: value {self.value!r} is not of kind {self.kind}")

    @property
    def type_label(self) -> str:
        """The type as the OPTO problem shows it: (str), (int), (float), (code)."""
        return {"text": "str", "int": "int", "float": "float", "code": "code"}[self.kind]

    def json_schema(self) -> dict[str, object]:
        """A JSON Schema for a value of this parameter (for grammar-constrained replies)."""
        if self.choices is not None:
            return {"enum": list(self.choices)}
        if self.kind in ("text", "code"):
            return {"type": "string"}
        schema: dict[str, object] = {"type": "integer" if self.kind == "int" else "number"}
        if self.bounds is not None:
            schema["minimum"], schema["maximum"] = self.bounds
        return schema

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        for k in ("bounds", "choices"):
            d[k] = list(d[k]) if d[k] is not None else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Parameter:
        try:
            return cls(
                **{
                    **d,
                    "bounds": tuple(d["bounds"]) if d.get("bounds") else None,
                    "choices": tuple(d["choices"]) if d.get("choices") else None,
                }
            )
        except TypeError as e:
            raise ConfigError(f"not a Parameter document ({e})") from e


@dataclass(frozen=True)
class TeamSpec:
    """What a trainable team is made of: a fixed shape (agentnet.topologies.FIXED) and its parts.

    `extract_code` (Python defining `extract(output) -> str`) post-processes the team's
    answer before the task scores it; None skips that step.
    """

    topology: str
    agents: tuple[AgentSpec, ...]
    rounds: int = 1
    decision: Decision = field(default_factory=Decision)
    extract_code: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "agents", tuple(self.agents))
        if not self.agents:
            raise ConfigError("a TeamSpec needs at least one agent")
        if self.rounds < 1:
            raise ConfigError(f"rounds={self.rounds} must be at least 1")

    def graph(self) -> CommGraph:
        from agentnet.topologies.fixed import fixed

        return fixed(self.topology, self.agents, rounds=self.rounds, decision=self.decision)

    def to_dict(self) -> dict[str, object]:
        g = CommGraph.uniform(self.agents, decision=self.decision).to_dict()  # reuse its (de)serialisers
        return {
            "topology": self.topology,
            "agents": g["agents"],
            "rounds": self.rounds,
            "decision": g["decision"],
            "extract_code": self.extract_code,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TeamSpec:
        g = CommGraph.from_dict({"agents": d["agents"], "spatial": [[]], "decision": d.get("decision", {})})
        return cls(d["topology"], g.agents, d.get("rounds", 1), g.decision, d.get("extract_code"))


def system_prompt(agent: AgentSpec) -> str:
    """The system prompt an agent is sent (its literal one, else its role's)."""
    return agent.system if agent.system is not None else load_role(agent.prompt or agent.role).system


def decision_prompt(decision: Decision) -> str:
    return decision.system if decision.system is not None else load_role(decision.role).system


def _with_temperature(settings: GenerationSettings, t: float) -> GenerationSettings:
    return settings.with_(temperature=float(t))


def _apply_one(spec: TeamSpec, target: str, value: Value) -> TeamSpec:
    if target.startswith("system:"):
        name = target.partition(":")[2]
        if name not in {a.name for a in spec.agents}:
            raise ConfigError(f"parameter targets agent {name!r}; agents: {', '.join(a.name for a in spec.agents)}")
        return replace(spec, agents=tuple(replace(a, system=str(value)) if a.name == name else a for a in spec.agents))
    if target == "decision.system":
        return replace(spec, decision=replace(spec.decision, system=str(value)))
    if target == "rounds":
        return replace(spec, rounds=int(value))
    if target == "temperature":
        agents = tuple(replace(a, settings=_with_temperature(a.settings, float(value))) for a in spec.agents)
        decision = replace(spec.decision, settings=_with_temperature(spec.decision.settings, float(value)))
        return replace(spec, agents=agents, decision=decision)
    if target == "extract":
        return replace(spec, extract_code=str(value))
    raise ConfigError(f"unknown parameter target {target!r}")  # unreachable: Parameter validates targets


@dataclass(frozen=True)
class ParameterSet:
    """An ordered set of parameters with unique names; immutable (updates return a new set)."""

    parameters: tuple[Parameter, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", tuple(self.parameters))
        names = [p.name for p in self.parameters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"parameter names must be unique; repeated: {', '.join(dupes)}")

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters)

    def __len__(self) -> int:
        return len(self.parameters)

    def __getitem__(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise UnknownNameError("parameter", name, self.names)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def trainable(self) -> list[Parameter]:
        return [p for p in self.parameters if p.trainable]

    def values(self) -> dict[str, Value]:
        return {p.name: p.value for p in self.parameters}

    def with_values(self, changes: Mapping[str, Value]) -> ParameterSet:
        """A copy with new values (already cast, see `extract.cast_value`); frozen ones refuse."""
        for name in changes:
            if not self[name].trainable:
                raise ConfigError(
                    f"parameter {name} is not trainable; only {', '.join(p.name for p in self.trainable)} are"
                )
        return ParameterSet(
            tuple(replace(p, value=changes[p.name]) if p.name in changes else p for p in self.parameters)
        )

    def changed(self, other: ParameterSet) -> dict[str, Value]:
        """The names whose value in `other` differs from this set's, with `other`'s value."""
        mine = self.values()
        return {k: v for k, v in other.values().items() if mine.get(k) != v}

    def apply(self, spec: TeamSpec) -> TeamSpec:
        for p in self.parameters:
            spec = _apply_one(spec, p.target, p.value)
        return spec

    def to_dict(self) -> dict[str, object]:
        return {"parameters": [p.to_dict() for p in self.parameters]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ParameterSet:
        return cls(tuple(Parameter.from_dict(p) for p in d["parameters"]))


# -- parameter groups: what `--params prompts,rounds` selects --------------------------------


def _prompts(spec: TeamSpec, max_rounds: int) -> list[Parameter]:
    graph_names = set(spec.graph().names)  # `single` uses only the first agent: train only those that run
    return [
        Parameter(
            f"{_ident(a.name)}_prompt",
            system_prompt(a),
            f"System prompt of agent {a.name} (role: {a.title}); it is sent before every task.",
            f"system:{a.name}",
        )
        for a in spec.agents
        if a.name in graph_names
    ]


def _decision(spec: TeamSpec, max_rounds: int) -> list[Parameter]:
    if not decision_info(spec.decision.kind).llm_call:
        calling = ", ".join(k for k, d in DECISIONS.items() if d.llm_call)
        raise ConfigError(
            f"decision {spec.decision.kind!r} makes no LLM call, so it has no prompt to train; "
            f"drop 'decision' from the parameter groups or use a decision that calls one ({calling})"
        )
    return [
        Parameter(
            "decision_prompt",
            decision_prompt(spec.decision),
            "System prompt of the decision agent that reads the final round and writes the team's answer.",
            "decision.system",
        )
    ]


def _rounds(spec: TeamSpec, max_rounds: int) -> list[Parameter]:
    return [
        Parameter(
            "rounds",
            spec.rounds,
            "Communication rounds: every agent speaks once per round; "
            "more rounds let agents revise after reading others, and cost more tokens.",
            "rounds",
            kind="int",
            bounds=(1, max_rounds),
        )
    ]


def _temperature(spec: TeamSpec, max_rounds: int) -> list[Parameter]:
    return [
        Parameter(
            "temperature",
            float(spec.agents[0].settings.temperature),
            "Sampling temperature of every agent and the decision (0 is deterministic).",
            "temperature",
            kind="float",
            bounds=(0.0, 2.0),
        )
    ]


def _extract(spec: TeamSpec, max_rounds: int) -> list[Parameter]:
    return [
        Parameter(
            "extract_answer",
            spec.extract_code or DEFAULT_EXTRACT,
            "Python code defining extract(output: str) -> str, applied to the team's output before "
            "the task reads and scores the answer. Standard library only; keep the signature.",
            "extract",
            kind="code",
        )
    ]


ParamGroup = Callable[[TeamSpec, int], list[Parameter]]
PARAM_GROUPS: dict[str, ParamGroup] = {
    "prompts": _prompts,
    "decision": _decision,
    "rounds": _rounds,
    "temperature": _temperature,
    "extract": _extract,
}


def team_parameters(spec: TeamSpec, groups: Sequence[str], *, max_rounds: int = 4) -> ParameterSet:
    """The trainable parameters of `spec` in the named groups (see `PARAM_GROUPS`), in group order."""
    if not groups:
        raise ConfigError(f"no parameter groups given; choose from {', '.join(PARAM_GROUPS)}")
    if max_rounds < spec.rounds:
        raise ConfigError(f"max_rounds={max_rounds} is below the team's rounds={spec.rounds}")
    out: list[Parameter] = []
    for g in dict.fromkeys(groups):  # each group once, first mention's order
        if g not in PARAM_GROUPS:
            raise UnknownNameError("parameter group", g, list(PARAM_GROUPS))
        out.extend(PARAM_GROUPS[g](spec, max_rounds))
    return ParameterSet(tuple(out))


def _ident(name: str) -> str:
    s = re.sub(r"\W", "_", name)
    return s if _NAME.match(s) else f"agent_{s}"
