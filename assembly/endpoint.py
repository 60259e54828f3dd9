"""`agentnet serve-team`: teams served as models behind an OpenAI-compatible endpoint.

Each `--team NAME=SPEC[;KEY=VALUE…]` is a model name a client can ask for. SPEC is what
`agentnet run --team` takes (inline members `[NAME=]ROLE[+TOOL]@MODEL,…` or a team file; empty:
the command's `--agents` copies of the roles on `--model`); KEYs set that team's other options
(topology, rounds, decision, roles, agents, max_tokens, temperature, early_stop, temporal, seed,
prices, logprobs, task), e.g. `--team 'trio=cot@m,pal@m,cot@m;topology=complete;rounds=2'` or
`--team 'learned=;topology=gdesigner:run/model.pt;task=gsm8k'`; what a team leaves unsaid comes
from the command's own team options. Without `--team`, those options are one team called `team`.

Every model the teams name is served once for all of them, as `agentnet run` serves one team
(embedded engines, `--endpoint MODEL=URL`s or `--base-url`), with slots for the most agents of
one layer times `--concurrency` runs. See `chat_api` (the HTTP face) and `team_service` (the
queue, the timeouts, the run store, the drain).
"""

from __future__ import annotations

import re
import socket
import typing
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from agentnet.agents import DEFAULT_MODEL_KEY
from agentnet.answers import extract_answer
from agentnet.assembly.models import MAX_SLOTS, Served, demands_for, team_demands
from agentnet.assembly.server import ClientConfig, connect, server_health
from agentnet.assembly.endpoint_config import EndpointConfig
from agentnet.assembly.team import team_for, topology_for
from agentnet.assembly.team_service import Limits, Recorder, ServedTeam, TeamService, capped
from agentnet.llm import LLMBackend
from agentnet.configs import TeamConfig
from agentnet.errors import AgentNetError, ConfigError, MissingDependencyError
from agentnet.graph import Topology
from agentnet.serving import ServeConfig
from agentnet.serving.pool import ModelDemand, check_demands, serve_models
from agentnet.store import RunConfig
from agentnet.task_types import Task
from agentnet.tasks import TaskConfig, make_task

if TYPE_CHECKING:  # the HTTP stack (starlette, uvicorn) is imported only when a server starts
    from agentnet.assembly.chat_api import ApiSettings, EndpointServer

DEFAULT_NAME = "team"
_TEAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$")
TEAM_KEYS = (
    "topology",
    "agents",
    "rounds",
    "roles",
    "decision",
    "early_stop",
    "temporal",
    "max_tokens",
    "temperature",
    "logprobs",
    "seed",
    "prices",
)
_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


@dataclass(frozen=True)
class TeamDefinition:
    name: str
    config: TeamConfig
    task: str = ""
    given: bool = True  # named by a --team option (False: the command's own options, served as DEFAULT_NAME)

    def where(self) -> str:
        """How an error names this team: by its --team option, or not at all when the flags built it."""
        return f"--team {self.name}: " if self.given else ""


def _coerce(key: str, text: str, tp: Any) -> Any:
    base = typing.get_args(tp)[0] if typing.get_origin(tp) is tuple else tp
    try:
        if tp is bool:
            if text.lower() not in _TRUE + _FALSE:
                raise ValueError
            return text.lower() in _TRUE
        if typing.get_origin(tp) is tuple and base is str:
            return tuple(p.strip() for p in text.split(",") if p.strip())
        return tp(text)
    except ValueError:
        raise ConfigError(f"{key}={text!r} is not a {getattr(tp, '__name__', tp)}") from None


def parse_team(entry: str, base: TeamConfig, default_task: str = "") -> TeamDefinition:
    """One `--team NAME=SPEC[;KEY=VALUE…]` (see the module docstring), checked whole."""
    name, sep, rest = entry.partition("=")
    name = name.strip()
    if not sep or not _TEAM_NAME.match(name):
        raise ConfigError(
            f"--team {entry!r} is not NAME=SPEC; e.g. --team 'trio=cot@m,pal@m;topology=complete' "
            "(NAME: letters, digits, _ . : / -)"
        )
    spec, *pairs = rest.split(";")
    hints = typing.get_type_hints(TeamConfig)
    changes: dict[str, Any] = {"team": spec.strip()} if spec.strip() else {}
    task = default_task
    for pair in (p for p in pairs if p.strip()):
        key, eq, value = (s.strip() for s in pair.partition("="))
        if not eq or key not in (*TEAM_KEYS, "task"):
            raise ConfigError(
                f"--team {name}: {pair.strip()!r} is not KEY=VALUE with a KEY of {', '.join((*TEAM_KEYS, 'task'))}"
            )
        if key == "task":
            task = value
            continue
        try:
            changes[key] = _coerce(key, value, hints[key])
        except ConfigError as e:
            raise ConfigError(f"--team {name}: {e}") from None
    if "team" in changes:
        changes.setdefault("roles", ())  # the members name their roles (the command's --roles are for the rest)
    try:
        config = replace(base, **changes)
    except AgentNetError as e:  # ConfigError, an unknown role …
        raise ConfigError(f"--team {name}: {e}") from None
    return TeamDefinition(name, config, task)


def parse_teams(entries: Sequence[str], base: TeamConfig, default_task: str = "") -> list[TeamDefinition]:
    teams = [parse_team(e, base, default_task) for e in entries] or [
        TeamDefinition(DEFAULT_NAME, base, default_task, given=False)
    ]
    names = [t.name for t in teams]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"--team names {', '.join(twice)} twice; give each served team its own name")
    return teams


@dataclass
class Planned:
    """A team definition made concrete: its task and topology (learned ones loaded)."""

    definition: TeamDefinition
    task: Task | None
    topology: Topology


def plan(definitions: Sequence[TeamDefinition], data: TaskConfig) -> list[Planned]:
    out = []
    for d in definitions:
        try:
            task = make_task(d.task, replace(data, seed=d.config.seed)) if d.task else None
            out.append(Planned(d, task, topology_for(d.config, task)))
        except AgentNetError as e:  # ConfigError, an unknown task or topology …
            raise ConfigError(f"{d.where()}{e}") from None
    return out


def merged_demands(
    planned: Sequence[Planned], serve: ServeConfig, client: ClientConfig, concurrency: int
) -> list[ModelDemand] | None:
    """Every model the teams need, once: slots for the most any team needs (runs in flight are
    bounded for all teams together), endpoints joined. None: every team runs on the command's one server."""
    per_team = [team_demands(p.topology, p.definition.config, serve, client, concurrency) for p in planned]
    if all(d is None for d in per_team):
        return None
    merged: dict[str, ModelDemand] = {}
    for p, demands in zip(planned, per_team, strict=True):
        for d in demands if demands is not None else demands_for(p.topology, serve.model, concurrency):
            seen = merged.get(d.name)
            merged[d.name] = (
                d
                if seen is None
                else ModelDemand(
                    d.name, min(MAX_SLOTS, max(seen.slots, d.slots)), tuple(dict.fromkeys(seen.endpoints + d.endpoints))
                )
            )
    return list(merged.values())


@contextmanager
def serve_all(
    planned: Sequence[Planned], serve: ServeConfig, client: ClientConfig, concurrency: int
) -> Iterator[Served]:
    """The models of every team, served for the block (one engine or endpoint set per model)."""
    demands = merged_demands(planned, serve, client, concurrency)
    if demands is None:
        with connect(serve, client) as (server, backend):
            yield Served({DEFAULT_MODEL_KEY: backend}, server.model or serve.model, server_health(server), [server])
        return
    check_demands(demands, serve)
    with serve_models(demands, serve, timeout_s=client.timeout, cache=client.cache) as pool:
        backends = dict(pool.backends)
        if serve.model in backends:
            backends[DEFAULT_MODEL_KEY] = backends[serve.model]
        servers = [s for group in pool.servers.values() for s in group]
        yield Served(backends, serve.model, pool.health, servers, list(pool.notes))


def served_team(
    name: str,
    config: TeamConfig,
    backends: Mapping[str, LLMBackend] | LLMBackend,
    *,
    task: Task | None = None,
    topology: Topology | None = None,
    model: str = "",
) -> ServedTeam:
    """A team to serve under `name`, on `backends` (by model name, or one for every agent)."""
    topology = topology if topology is not None else topology_for(config, task)
    by_model = dict(backends) if isinstance(backends, Mapping) else {DEFAULT_MODEL_KEY: backends}
    team = team_for(task, topology, capped(by_model), config, model=model or None)
    agents = topology.agents
    models = tuple(dict.fromkeys(model or "default" if a.model == DEFAULT_MODEL_KEY else a.model for a in agents))
    return ServedTeam(
        name,
        team,
        config,
        task.extract if task is not None else extract_answer,
        task.name if task is not None else "",
        models,
    )


def run_config(t: ServedTeam, concurrency: int, serve: ServeConfig = ServeConfig()) -> RunConfig:
    """The stored run of a served team for one server session."""
    return RunConfig(
        task=t.task or "chat",
        split=f"serve-team:{t.name}",
        concurrency=concurrency,
        team=t.config,
        engine=serve.engine,
        model=",".join(t.models) or serve.model,
        base_url=serve.base_url,
    )


@contextmanager
def endpoint(
    teams: Sequence[ServedTeam],
    limits: Limits,
    settings: ApiSettings,
    store: Path | None,
    sock: socket.socket,
    serve: ServeConfig = ServeConfig(),
) -> Iterator[EndpointServer]:
    """The server for `teams` on `sock`, with a run per team in `store` (None: nothing stored); when
    the block ends, each run is marked finished (or interrupted, when a shutdown cut requests short)."""
    from agentnet.assembly.chat_api import EndpointServer

    recorder = Recorder(store) if store is not None else None
    service = TeamService(teams, limits, recorder)
    try:
        for t in teams:
            if recorder is not None:
                t.run_id = recorder.open_run(run_config(t, limits.concurrency, serve))
        yield EndpointServer(service, replace(settings, store=str(store or "")), sock)
    finally:
        if recorder is not None:
            recorder.close(service.statuses())


def serve_teams(
    config: EndpointConfig,
    base: TeamConfig,
    serve: ServeConfig,
    client: ClientConfig,
    data: TaskConfig,
    store: Path | None,
    err: Console,
) -> None:
    """The command: check everything, bind the port, serve the models, build the teams, open a run
    per team in the store, serve until Ctrl-C/SIGTERM, then drain and mark the runs."""
    try:
        from agentnet.assembly.chat_api import ApiSettings, Reasoning, bind
    except ImportError as e:
        raise MissingDependencyError(
            f"serve-team needs starlette and uvicorn ({e.name} is missing); "
            "install them with: pip install 'agentnet[endpoint]'"
        ) from None
    from agentnet.display import announce_all

    planned = plan(parse_teams(config.teams, base, config.task), data)
    reasoning = typing.cast(Reasoning, config.reasoning)  # one of its choices: EndpointConfig checked it
    settings = ApiSettings(config.api_key, config.max_body_bytes, config.max_request_tokens, reasoning)
    with (
        closing(bind(config.host, config.port)) as sock,
        serve_all(planned, serve, client, config.concurrency) as served,
    ):
        announce_all(served, err)
        teams = [
            served_team(
                p.definition.name,
                p.definition.config,
                served.backends,
                task=p.task,
                topology=p.topology,
                model=served.model,
            )
            for p in planned
        ]
        with endpoint(
            teams,
            Limits(config.concurrency, config.queue, config.request_timeout, config.drain_timeout),
            settings,
            store,
            sock,
            serve,
        ) as server:
            _announce(server, teams, config, err)
            try:
                server.run()
            except KeyboardInterrupt:
                pass  # uvicorn drained and stopped on the first Ctrl-C; its re-raise of the signal ends up here
        if store is not None:
            err.print(f"[dim]runs recorded in {store}: {', '.join(t.run_id for t in teams)}[/]", highlight=False)


def _announce(server: EndpointServer, teams: Sequence[ServedTeam], endpoint: EndpointConfig, err: Console) -> None:
    for t in teams:
        err.print(
            f"[bold]{t.name}[/]: {t.config.topology} × {t.config.agents} agent(s) × {t.config.rounds} round(s)"
            f"{' · task ' + t.task if t.task else ''} on {', '.join(t.models)} · run {t.run_id or '(not stored)'}",
            highlight=False,
        )
    if endpoint.host not in ("127.0.0.1", "localhost", "::1") and not endpoint.api_key:
        err.print(
            f"[yellow]warning:[/] listening on {endpoint.host} with no --api-key: anyone who reaches it can use the teams"
        )
    err.print(f"serving on {server.base_url} (Ctrl-C drains and stops)", highlight=False)
    err.print(
        f"[dim]try: curl {server.base_url}/chat/completions -H 'Content-Type: application/json' "
        f'-d \'{{"model": "{teams[0].name}", "messages": [{{"role": "user", "content": "What is 12+7?"}}]}}\'[/]',
        highlight=False,
    )
