"""The models a team runs on, served for a command: one engine (or endpoint set) per model.

`serve_team` is what `run` and `bench` use: a team whose agents name no model runs on the
command's `--model` (the one-server path of `connect`); a team that names models (`--team`)
gets the model pool (`agentnet.serving.pool`), each model with the slots its widest layer
needs and the endpoints the team file or `--endpoint` give it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from agentnet.agents import DEFAULT_MODEL_KEY, AgentSpec
from agentnet.assembly.server import ClientConfig, connect, server_health
from agentnet.configs import TeamConfig
from agentnet.errors import ConfigError
from agentnet.graph import CommGraph, Topology, named_models
from agentnet.llm import LLMBackend
from agentnet.serving import ServeConfig, Server
from agentnet.serving.pool import ModelDemand, check_demands, parse_endpoints, serve_models, with_endpoints

MAX_SLOTS = 16  # llama-server slots per engine: more only splits the same cores finer


@dataclass
class Served:
    """What a command runs its team on: a backend per model name, the servers behind them, how
    to ask after their health, and notes for the user."""

    backends: dict[str, LLMBackend]
    model: str  # the command's --model: what agents that name no model run on
    health: Callable[[], str | None]
    servers: list[Server] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def widest(model_of: Mapping[str, str], graph: CommGraph | None, model: str) -> int:
    """How many agents of `model` can run at once: the most in one layer of any round (all of
    them when the graph is only known per query, as with a learned topology)."""
    if graph is None:
        return sum(m == model for m in model_of.values())
    layers = (layer for t in range(graph.rounds) for layer in graph.layers(t))
    return max((sum(model_of[n] == model for n in layer) for layer in layers), default=0)


def demands_for(topology: Topology, serve_model: str, concurrency: int = 1) -> list[ModelDemand]:
    """One demand per model the team's agents (and its decision) name; agents naming no model
    run on `serve_model`. Slots: the widest layer × the queries in flight, at most MAX_SLOTS."""
    graph = topology if isinstance(topology, CommGraph) else None
    agents: Sequence[AgentSpec] = topology.agents
    model_of = {a.name: a.model if a.model != DEFAULT_MODEL_KEY else serve_model for a in agents}
    last = list(model_of.values())[-1] if model_of else serve_model  # the decision runs on it unless it names one
    decision_model = topology.decision.model or last
    order = dict.fromkeys([*model_of.values(), decision_model])
    return [ModelDemand(m, min(MAX_SLOTS, max(1, widest(model_of, graph, m)) * concurrency)) for m in order]


def names_models(topology: Topology) -> bool:
    """Whether an agent (or the decision) names its model: the team's `--team` members, or the
    agents a learned topology or graph file brings (a learned model file names no `--team`)."""
    return bool(named_models(topology) - {DEFAULT_MODEL_KEY})


def team_demands(
    topology: Topology, config: TeamConfig, serve: ServeConfig, client: ClientConfig, concurrency: int = 1
) -> list[ModelDemand] | None:
    """The models to serve, with the endpoints the team file and `--endpoint` give them; None
    when the team names no model and no endpoint is given (the command's one server)."""
    flags = parse_endpoints(client.endpoints)
    if not names_models(topology) and not flags:
        return None
    demands = demands_for(topology, serve.model, concurrency)
    spec = config.team_spec()
    from_file: Mapping[str, Sequence[str]] = spec.endpoints if spec is not None else {}
    unknown = sorted(set(from_file) - {d.name for d in demands})
    if unknown:
        raise ConfigError(
            f"the team file gives endpoints for {', '.join(unknown)}, which no agent uses; "
            f"the team's models: {', '.join(d.name for d in demands)}"
        )
    return with_endpoints(with_endpoints(demands, from_file), flags)


def preflight(topology: Topology, config: TeamConfig, serve: ServeConfig, client: ClientConfig) -> None:
    """Every model of the team resolves and every endpoint answers — checked before a command
    creates anything (a bench run in the store), so bad input leaves nothing behind."""
    demands = team_demands(topology, config, serve, client)
    if demands is not None:
        check_demands(demands, serve)


@contextmanager
def serve_team(
    topology: Topology,
    config: TeamConfig,
    serve: ServeConfig,
    client: ClientConfig,
    *,
    concurrency: int = 1,
) -> Iterator[Served]:
    """Serve what the team runs on for the block (see the module docstring); everything is
    validated before any engine starts, and every engine is stopped afterwards."""
    demands = team_demands(topology, config, serve, client, concurrency)
    if demands is None:
        with connect(serve, client) as (server, backend):
            yield Served({DEFAULT_MODEL_KEY: backend}, server.model or serve.model, server_health(server), [server])
        return
    with serve_models(demands, serve, timeout_s=client.timeout, cache=client.cache) as pool:
        backends = dict(pool.backends)
        if serve.model in backends:  # members without @MODEL run on --model
            backends[DEFAULT_MODEL_KEY] = backends[serve.model]
        servers = [s for group in pool.servers.values() for s in group]
        yield Served(backends, serve.model, pool.health, servers, list(pool.notes))
