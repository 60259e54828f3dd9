"""The `agentnet` command: Typer wiring only. Installed as `agentnet.cli`."""

from __future__ import annotations

import asyncio
import functools
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from agentnet.errors import AgentNetError, ConfigError
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


@app.command()
@user_errors
def run(
    query: Annotated[str, typer.Argument(help="The task for the team.")],
    agents: Annotated[int, typer.Option("--agents", "-n", help="Number of agents in the chain.")] = 3,
    roles: Annotated[
        str, typer.Option(help="Comma-separated role ids, cycled over the agents.")
    ] = "math_solver,mathematical_analyst,inspector",
    max_tokens: Annotated[int, typer.Option(help="Completion tokens per agent call.")] = 256,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.0,
    timeout: Annotated[float, typer.Option(help="Seconds per LLM call before it is retried.")] = 120.0,
    engine: EngineOpt = "llama-cpp",
    model: ModelOpt = DEFAULT_MODEL,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
) -> None:
    """Run a team of agents on QUERY and print the answer with a per-agent token table.

    Without --base-url an embedded server is started for the run and stopped afterwards.
    """
    from agentnet.agents import AgentSpec
    from agentnet.chain import run_chain
    from agentnet.prompts import load_role
    from agentnet.types import GenerationSettings

    if agents < 1:
        raise ConfigError(f"--agents {agents} must be at least 1")
    role_ids = [r.strip() for r in roles.split(",") if r.strip()]
    if not role_ids:
        raise ConfigError(f"--roles {roles!r} names no role; e.g. --roles math_solver,inspector")
    for role in role_ids:
        load_role(role)  # unknown roles fail here, listing the known ones
    settings = GenerationSettings(temperature=temperature, max_tokens=max_tokens)
    team = [AgentSpec(f"agent{i}", role_ids[i % len(role_ids)], settings) for i in range(agents)]

    with start_server(_serve_config(engine, model, base_url, api_key_env)) as server:
        _announce(server)
        backend = server.backend(timeout_s=timeout)
        result = asyncio.run(run_chain(query, team, backend))

    out.print(f"[bold]Answer:[/] {result.answer}", highlight=False)
    table = Table("agent", "role", "prompt tok", "completion tok", "latency s", title="Tokens per agent")
    for turn in result.turns:
        c = turn.completion
        table.add_row(turn.agent.name, load_role(turn.agent.role).title, str(c.usage.prompt_tokens),
                      str(c.usage.completion_tokens), f"{c.latency_s:.2f}")  # fmt: skip
    total = result.usage
    table.add_row("total", "", str(total.prompt_tokens), str(total.completion_tokens),
                  f"{sum(t.completion.latency_s for t in result.turns):.2f}", style="bold")  # fmt: skip
    out.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
