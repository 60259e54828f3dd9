"""Agents, decision, topology and `Team` from a `TeamConfig` and a task."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

from agentnet.adversaries import INJECTION_BACKEND, Attacked, InjectionBackend
from agentnet.agents import DEFAULT_MODEL_KEY, AgentSpec
from agentnet.answers import extract_answer
from agentnet.decisions import decision_info
from agentnet.errors import ConfigError
from agentnet.graph import CommGraph, Decision, ReceiveGate, StopGate, Topology, named_models
from agentnet.llm import LLMBackend
from agentnet.runtime import Team
from agentnet.serving.models import default_price
from agentnet.task_types import CodeCheck, Task, is_code_task
from agentnet.configs import TeamConfig
from agentnet.tasks.sandbox import Sandbox
from agentnet.tasks.tools import SandboxTools
from agentnet.tools import ToolRunner, tool_info
from agentnet.topologies.fixed import FIXED, TemporalMode
from agentnet.topologies.registry import resolve

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

# `agentnet run` without a task: G-Designer's GSM8K roles (a solver, an analyst, an inspector)
DEFAULT_ROLES = ("math_solver", "mathematical_analyst", "inspector")


def agents_for(config: TeamConfig, task: Task | None = None) -> tuple[AgentSpec, ...]:
    """The members `config.team` names (each with its model and tool), else agents a0…a(n-1)
    cycling through the configured roles (else the task's, else the defaults) on the command's model.
    A tool the task cannot serve (`tests` without a code task) is refused here, before anything runs."""
    settings = config.settings()
    spec = config.team_spec()
    if spec is not None:
        agents = _sampling_seeds(spec.agents(settings), config)
        for agent in agents:
            if tool_info(agent.tool).needs_code_task and not is_code_task(task):
                where = f"task {task.name!r}" if task is not None else "a free-form question"
                raise ConfigError(
                    f"agent {agent.name} uses the {agent.tool!r} tool, and {where} has no visible "
                    "examples to run; use it with a code task (e.g. humaneval) or use python"
                )
        return agents
    roles = config.roles or (task.roles if task is not None else DEFAULT_ROLES)
    return _sampling_seeds(
        tuple(AgentSpec(f"a{i}", roles[i % len(roles)], settings) for i in range(config.agents)), config
    )


def _sampling_seeds(agents: tuple[AgentSpec, ...], config: TeamConfig) -> tuple[AgentSpec, ...]:
    """When sampling (temperature > 0), agent i samples with seed `config.seed + i`: copies of one
    agent (self-consistency) then draw different answers, reproducibly; at temperature 0 nothing changes."""
    if config.temperature <= 0:
        return agents
    return tuple(replace(a, settings=a.settings.with_(seed=config.seed + i)) for i, a in enumerate(agents))


def decision_for(config: TeamConfig, task: Task | None = None) -> Decision:
    """The configured decision (else the task's, else the last agent's output), with its role."""
    info = decision_info(config.decision or (task.decision if task is not None else "last_agent"))
    spec = config.team_spec()
    model = spec.decision_model if spec is not None else ""
    return Decision(info.kind, role=info.role, settings=config.settings(), model=model)


def topology_for(config: TeamConfig, task: Task | None = None) -> Topology:
    """The configured topology: a fixed shape's graph, a graph file's, or a trained topology —
    with `config.attack`'s adversaries planted (a trained topology's gates stay readable)."""
    shape = config.topology.partition(":")[0]
    if config.temporal and shape not in FIXED:
        raise ConfigError(f"--temporal {config.temporal} applies to fixed shapes; {config.topology} brings its own")
    temporal = cast(TemporalMode, config.temporal) if config.temporal else None  # one of the modes: TeamConfig checked
    seed = config.seed if shape == "random" else None
    agents, decision = agents_for(config, task), decision_for(config, task)
    topology = resolve(config.topology, agents, config.rounds, decision, temporal=temporal, seed=seed)
    if not config.attack.active:
        return topology
    if isinstance(topology, CommGraph):
        return config.attack.apply(topology)
    config.attack.check(len(topology.agents))
    return Attacked(topology, config.attack)


def code_check_for(task: Task | None, decision: Decision) -> CodeCheck | None:
    """The task's code check when the decision needs one; a task without one is an error."""
    if not decision_info(decision.kind).needs_code_check:
        return None
    if is_code_task(task):
        return task.code_check()
    where = f"task {task.name!r}" if task is not None else "a free-form question"
    raise ConfigError(
        f"decision {decision.kind!r} checks code, and {where} has no code check; "
        "use it with a code task (e.g. humaneval) or pick another --decision"
    )


def team_for(
    task: Task | None,
    topology: str | Topology,
    backend: LLMBackend | Mapping[str, LLMBackend],
    config: TeamConfig = TeamConfig(),
    *,
    receive_gate: ReceiveGate | None = None,
    stop_gate: StopGate | None = None,
    checkpoint: str | Path | BaseCheckpointSaver | None = None,
    model: str | None = None,
    tools: ToolRunner | None = None,
) -> Team:
    """A Team for `task` (None: a free-form question) on `topology`: a spec string resolved with
    `config` (`config.topology` is ignored then), or a graph/topology object (e.g. a sampled graph
    during training, with the gates it sampled). A trained topology's inference gates are used
    unless gates are given. The task's extraction and, where the decision needs it, its code
    check are wired in; `config.early_stop` applies. Prices: `config`'s, else each model's default
    (`agentnet.serving.default_price`); `model` names what a single backend serves, for the
    price of agents that name no model. `tools` replaces the task's sandbox-backed tool runner."""
    if isinstance(topology, str):
        topology = topology_for(replace(config, topology=topology), task)
    check_topology(topology)
    if isinstance(backend, Mapping):  # served per model: an agent whose model is not served is an error
        check_served(topology, backend)
    backends = dict(backend) if isinstance(backend, Mapping) else {DEFAULT_MODEL_KEY: backend}
    backends.setdefault(INJECTION_BACKEND, InjectionBackend())  # what planted injection adversaries name
    code_check = code_check_for(task, topology.decision)
    return Team(
        topology,
        backends,  # a topology's own inference gates are read by Team unless gates are given
        extract=task.extract if task is not None else extract_answer,
        early_stop=config.early_stop,
        code_check=code_check,
        checkpoint=checkpoint,
        receive_gate=receive_gate,
        stop_gate=stop_gate,
        prices=prices_for(topology, config, model),
        tools=tools or tools_for(task, code_check),
    )


def check_served(topology: Topology, backends: Mapping[str, LLMBackend]) -> None:
    """Every model the topology's agents (and decision) name has its backend. (`Team` lets its
    one backend answer for every model; given backends by model, a missing one would send that
    agent to the default model's server, priced and recorded as the model it named.)"""
    missing = sorted(named_models(topology) - set(backends) - {DEFAULT_MODEL_KEY})
    if missing:
        raise ConfigError(
            f"agents name model(s) {', '.join(missing)}, which nothing serves (served: "
            f"{', '.join(sorted(set(backends) - {DEFAULT_MODEL_KEY})) or 'one server for agents naming no model'})"
            "; serve them (agentnet.assembly.models.serve_team serves every model a topology names)"
        )


TOPOLOGY_MEMBERS = ("agents", "rounds", "decision", "inference_gate", "inference_stop_gate", "graph_for")


def check_topology(topology: object) -> None:
    """A hand-written topology object keeps the `Topology` contract, or one line names what it lacks."""
    if isinstance(topology, Topology):
        return
    missing = ", ".join(m for m in TOPOLOGY_MEMBERS if not hasattr(topology, m))
    raise ConfigError(
        f"topology {type(topology).__name__} has no {missing}; a topology gives "
        f"{', '.join(TOPOLOGY_MEMBERS)} (agentnet.graph.Topology; None for a gate it does not have)"
    )


def prices_for(topology: Topology, config: TeamConfig, model: str | None = None) -> dict[str, float]:
    """Per 1,000 tokens, by the model names the team's agents use: `config`'s prices, else each
    model's default (a named model's parameters in billions, else 1); agents that name no model
    are priced as `model`, the one the command serves."""
    agents = topology.agents
    names = {a.model for a in agents} | {DEFAULT_MODEL_KEY}
    explicit = config.price_table()
    prices = {name: default_price(model if name == DEFAULT_MODEL_KEY and model else name) for name in names}
    if model and model in explicit:
        prices[DEFAULT_MODEL_KEY] = explicit[model]
    return {**prices, **explicit}


def tools_for(task: Task | None, code_check: CodeCheck | None = None) -> SandboxTools:
    """The agents' tool runner: the task's sandbox (a code task's limits) and, for a code task,
    its visible examples for the `tests` tool — `code_check` when the decision built it already,
    else built on the first `tests` run (a team is made per training episode; most never run one)."""
    sandbox = getattr(task, "sandbox", None)
    if code_check is None and is_code_task(task):
        code_check = _on_first_use(task.code_check)
    return SandboxTools(sandbox if isinstance(sandbox, Sandbox) else Sandbox(), code_check)


def _on_first_use(make: Callable[[], CodeCheck]) -> CodeCheck:
    made: list[CodeCheck] = []

    async def check(code: str, query: str) -> tuple[bool, str]:
        if not made:
            made.append(make())
        return await made[0](code, query)

    return check
