"""The `agentnet` command: Typer wiring only. Installed as `agentnet.cli`."""

from __future__ import annotations

import asyncio
import functools
import signal
import sys
import time
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from agentnet.errors import AgentNetError, ConfigError
from agentnet.graph import CommGraph
from agentnet.runtime.team import TeamEvent
from agentnet.topologies.fixed import FIXED, fixed
from agentnet.trajectory import Trajectory
from agentnet.serving import DEFAULT_MODEL, ENGINES, NAMED_MODELS, ServeConfig, Server, default_cache_dir
from agentnet.serving import start as start_server
from agentnet.serving.models import model_status

app = typer.Typer(
    name="agentnet",
    help="Teams of LLM agents that communicate over learnable graphs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Expected failures print one line (plus a log tail where there is one) and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AgentNetError as e:
            err.print(f"[bold red]error:[/] {e}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


EngineOpt = Annotated[
    str, typer.Option("--engine", "-e", help=f"Server engine: {', '.join(ENGINES)}.")
]
ModelOpt = Annotated[
    str,
    typer.Option(
        "--model", "-m",
        help=f"A named model ({', '.join(NAMED_MODELS)}), a .gguf path, an HF-format dir or an HF id.",
    ),
]  # fmt: skip
BaseUrlOpt = Annotated[
    str | None,
    typer.Option("--base-url", help="Use this OpenAI-compatible server instead of starting one."),
]
ApiKeyEnvOpt = Annotated[
    str, typer.Option("--api-key-env", help="Env var holding the API key for --base-url.")
]


def _serve_config(engine: str, model: str, base_url: str | None, api_key_env: str, **kw: Any) -> ServeConfig:
    if base_url:
        engine = "external"
    return ServeConfig(engine=engine, model=model, base_url=base_url, api_key_env=api_key_env, **kw)


def _announce(server: Server) -> None:
    for note in server.notes:
        err.print(f"[yellow]note:[/] {note}")
    if server.process is not None:
        err.print(
            f"[dim]{server.engine} serving {server.model} at {server.base_url} "
            f"(ready in {server.startup_s:.1f}s; log {server.log_path})[/]"
        )


@app.command()
@user_errors
def serve(
    engine: EngineOpt = "llama-cpp",
    model: ModelOpt = DEFAULT_MODEL,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port; a free one if omitted or in use.")] = None,
    ctx_size: Annotated[int, typer.Option(help="Context window in tokens.")] = 4096,
    threads: Annotated[int | None, typer.Option(help="llama.cpp CPU threads (default: all cores).")] = None,
    tensor_parallel_size: Annotated[
        int | None, typer.Option("--tensor-parallel-size", "-tp", help="vLLM: GPUs to shard over.")
    ] = None,
    startup_timeout: Annotated[float | None, typer.Option(help="Seconds to wait for readiness.")] = None,
    extra: Annotated[
        list[str] | None, typer.Argument(help="Extra engine flags, after `--` (e.g. -- --gpu-memory-utilization 0.8).")
    ] = None,
) -> None:
    """Start a model server and keep it running until Ctrl-C."""
    config = ServeConfig(
        engine=engine, model=model, host=host, port=port, ctx_size=ctx_size, threads=threads,
        tensor_parallel_size=tensor_parallel_size, startup_timeout_s=startup_timeout,
        extra_args=tuple(extra or ()),
    )  # fmt: skip
    if config.engine == "external":
        raise ConfigError("`agentnet serve` starts a server; with an external one, pass --base-url to `run`")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so the server is stopped on kill
    with start_server(config) as server:
        _announce(server)
        out.print(f"{server.base_url}", highlight=False)
        err.print(
            f"[dim]try: curl {server.base_url}/chat/completions -H 'Content-Type: application/json' "
            f"-d '{{\"model\": \"{server.model}\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hi\"}}]}}'[/]"
        )
        try:
            while server.process is not None and server.process.alive():
                time.sleep(0.5)
        except KeyboardInterrupt:
            err.print("[dim]stopping…[/]")
            return
    raise AgentNetError(f"the server exited unexpectedly; see its log {server.log_path}")


@app.command()
@user_errors
def models(
    cache_dir: Annotated[Path | None, typer.Option(help="Cache dir (default $AGENTNET_CACHE_DIR or ~/.cache/agentnet).")] = None,
) -> None:
    """List the named local models and whether they are installed."""
    cache = cache_dir or default_cache_dir()
    table = Table("name", "status", "model")
    for m in NAMED_MODELS.values():
        table.add_row(m.name, model_status(m, cache), m.description)
    out.print(table)


class DecisionChoice(str, Enum):
    final_refer = "final_refer"
    majority_vote = "majority_vote"
    last_agent = "last_agent"


@app.command()
@user_errors
def run(
    query: Annotated[str, typer.Argument(help="The task for the team.")],
    topology: Annotated[str, typer.Option("--topology", "-t", help=f"Graph shape: {', '.join(FIXED)}.")] = "chain",
    agents: Annotated[int, typer.Option("--agents", "-n", help="Number of agents.")] = 3,
    rounds: Annotated[int, typer.Option("--rounds", "-r", help="Communication rounds.")] = 1,
    roles: Annotated[
        str, typer.Option(help="Comma-separated role ids, cycled over the agents (see `agentnet roles`).")
    ] = "math_solver,mathematical_analyst,inspector",
    decision: Annotated[DecisionChoice, typer.Option(help="How the final answer is made.")] = DecisionChoice.last_agent,
    early_stop: Annotated[bool, typer.Option(help="Stop before the last round when all agents agree.")] = False,
    max_tokens: Annotated[int, typer.Option(help="Completion tokens per agent call.")] = 256,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.0,
    timeout: Annotated[float, typer.Option(help="Seconds per LLM call before it is retried.")] = 120.0,
    stream: Annotated[bool, typer.Option(help="Print each agent's tokens as they arrive.")] = False,
    show_graph: Annotated[bool, typer.Option(help="Print the communication graph.")] = False,
    save: Annotated[Path | None, typer.Option(help="Write the full trajectory (JSON) here.")] = None,
    checkpoint: Annotated[Path | None, typer.Option(help="SQLite file for checkpoints (resumable runs).")] = None,
    thread_id: Annotated[str | None, typer.Option(help="Resume (or name) this checkpointed run.")] = None,
    engine: EngineOpt = "llama-cpp",
    model: ModelOpt = DEFAULT_MODEL,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
) -> None:
    """Run a team of agents on QUERY; print the answer and a per-agent token table.

    Without --base-url an embedded server is started for the run and stopped afterwards.
    """
    from agentnet.agents import AgentSpec
    from agentnet.graph import Decision
    from agentnet.prompts import load_role
    from agentnet.runtime import Team
    from agentnet.types import GenerationSettings

    if agents < 1:
        raise ConfigError(f"--agents {agents} must be at least 1")
    role_ids = [r.strip() for r in roles.split(",") if r.strip()]
    if not role_ids:
        raise ConfigError(f"--roles {roles!r} names no role; e.g. --roles math_solver,inspector")
    for role in role_ids:
        load_role(role)  # unknown roles fail here, listing the known ones
    settings = GenerationSettings(temperature=temperature, max_tokens=max_tokens)
    team_specs = [AgentSpec(f"a{i}", role_ids[i % len(role_ids)], settings) for i in range(agents)]
    graph = fixed(topology, team_specs, rounds=rounds, decision=Decision(decision.value, settings=settings))
    if show_graph:
        out.print(render_graph(graph))

    with start_server(_serve_config(engine, model, base_url, api_key_env)) as server:
        _announce(server)
        backend = server.backend(timeout_s=timeout)
        if server.process is None:  # an external URL: fail fast and clearly if nothing answers there
            asyncio.run(backend.list_models())
        team = Team(graph, backend, early_stop=early_stop, checkpoint=checkpoint)
        if stream:
            trajectory = _print_stream(team.stream(query, thread_id=thread_id))
        else:
            with err.status(f"{len(graph.agents)} agents × {graph.rounds} round(s) on {server.model}…"):
                trajectory = team.run(query, thread_id=thread_id)

    if trajectory.messages and len(trajectory.errors) == len(trajectory.messages):
        raise AgentNetError(f"every agent call failed; the first: {trajectory.errors[0].error}")
    out.print(f"[bold]Answer:[/] {trajectory.answer.strip()}", highlight=False)
    out.print(token_table(trajectory))
    if trajectory.stopped_early:
        out.print(f"stopped early after round {trajectory.rounds_run}; ~{trajectory.tokens_saved_estimate} tokens saved")
    for m in trajectory.errors:
        err.print(f"[yellow]{m.agent}@{m.round} failed:[/] {m.error}", highlight=False)
    if checkpoint:
        err.print(f"[dim]thread id {trajectory.thread_id} (resume with --thread-id)[/]")
    if save:
        trajectory.save(save)
        err.print(f"[dim]trajectory written to {save}[/]")


def _print_stream(events: Iterator[TeamEvent]) -> Trajectory:
    """Agents of a layer run at once: the earliest unfinished one prints live, the others'
    text is held and printed, whole, when their turn comes."""
    order: list[str] = []  # calls in start order, "agent@round"
    held: dict[str, list[str]] = {}
    done: dict[str, TeamEvent] = {}

    def show(call: str) -> None:
        agent, rnd = call.split("@")
        out.print(f"\n[bold cyan]── {agent} · round {rnd}[/]")
        out.print("".join(held.pop(call, [])), end="", highlight=False, markup=False)

    def finish(call: str) -> None:
        event = done.pop(call)
        out.print(f"\n[dim]({event.usage[0]} prompt + {event.usage[1]} completion tokens)[/]")

    for event in events:
        call = f"{event.agent}@{event.round}"
        if event.event == "start":
            order.append(call)
            held[call] = []
            if len(order) == 1:
                show(call)
        elif event.event == "delta":
            if order and order[0] == call:
                out.print(event.text, end="", highlight=False, markup=False)
            else:
                held[call].append(event.text)
        elif event.event == "finish":
            done[call] = event
            while order and order[0] in done:  # the live call ended: show the next ones
                finish(order.pop(0))
                if order:
                    show(order[0])
        elif event.event == "done" and event.trajectory is not None:
            return event.trajectory
    raise AgentNetError("the stream ended without a result")


def token_table(trajectory: Trajectory) -> Table:
    table = Table("agent", "role", "calls", "prompt tok", "completion tok", "latency s", title="Tokens per agent")
    for name, usage in trajectory.usage_by_agent().items():
        msgs = [m for m in trajectory.messages if m.agent == name]
        role = next((a.title for a in trajectory.graph.agents if a.name == name), "decision")
        table.add_row(name, role, str(len(msgs)), str(usage.prompt_tokens), str(usage.completion_tokens),
                      f"{sum(m.latency_s for m in msgs):.2f}")  # fmt: skip
    total = trajectory.usage
    table.add_row("total", "", str(trajectory.calls), str(total.prompt_tokens), str(total.completion_tokens),
                  f"wall {trajectory.wall_s:.2f}", style="bold")  # fmt: skip
    return table


def render_graph(graph: CommGraph) -> str:
    def edges(es: tuple[tuple[str, str], ...]) -> str:
        return ", ".join(f"{u}→{v}" for u, v in es) or "(none)"

    lines = [f"agents: " + ", ".join(f"{a.name} ({a.title})" for a in graph.agents)]
    for t in range(graph.rounds):
        lines.append(f"round {t} spatial: {edges(graph.spatial[t])}")
        if t > 0:
            lines.append(f"round {t} temporal: {edges(graph.temporal[t - 1])}")
    lines.append(f"decision: {graph.decision.kind}")
    return "\n".join(lines)


@app.command()
def roles() -> None:
    """List the role library."""
    from agentnet.prompts import load_role, role_ids

    table = Table("id", "title", "prompt")
    for rid in role_ids():
        card = load_role(rid)
        table.add_row(rid, card.title, card.system.splitlines()[0])
    out.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
