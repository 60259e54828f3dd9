"""The `agentnet` command: Typer wiring only. Installed as `agentnet.cli`."""

from __future__ import annotations

import asyncio
import functools
import itertools
import random
import signal
import sys
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from agentnet.errors import AgentNetError, ConfigError
from agentnet.graph import CommGraph
from agentnet.topologies import FIXED, LEARNED, resolve
from agentnet.serving import DEFAULT_MODEL, ENGINES, NAMED_MODELS, ServeConfig, Server, default_cache_dir
from agentnet.serving import start as start_server
from agentnet.serving.models import model_status


app = typer.Typer(
    name="agentnet",
    help="Teams of LLM agents that communicate over learnable graphs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# piped output (logs, CI) gets room for the wide tables instead of rich's 80-column default
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

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


TOPOLOGY_HELP = f"Graph: {', '.join(FIXED)}, or a trained {' / '.join(f'{k}:PATH' for k in LEARNED)}."
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


DataDirOpt = Annotated[Path | None, typer.Option(envvar="AGENTNET_DATA_DIR", help="Benchmark data directory.")]
RolesOpt = Annotated[str, typer.Option(help="Comma-separated role ids; default: the task's roles.")]


def _names(csv: str) -> list[str]:
    """The non-empty, stripped items of a comma-separated flag."""
    return [r.strip() for r in csv.split(",") if r.strip()]


def _specs(role_ids: list[str], n: int, settings: Any) -> list[Any]:
    """Agents a0…a(n-1), cycling through the roles."""
    from agentnet.agents import AgentSpec

    return [AgentSpec(f"a{i}", role_ids[i % len(role_ids)], settings) for i in range(n)]


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
    topology: Annotated[str, typer.Option("--topology", "-t", help=TOPOLOGY_HELP)] = "chain",
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
    from agentnet.display import print_stream, render_graph, token_table
    from agentnet.graph import Decision
    from agentnet.prompts import load_role
    from agentnet.runtime import Team
    from agentnet.types import GenerationSettings

    if agents < 1:
        raise ConfigError(f"--agents {agents} must be at least 1")
    role_ids = _names(roles)
    if not role_ids:
        raise ConfigError(f"--roles {roles!r} names no role; e.g. --roles math_solver,inspector")
    for role in role_ids:
        load_role(role)  # unknown roles fail here, listing the known ones
    settings = GenerationSettings(temperature=temperature, max_tokens=max_tokens)
    team_specs = _specs(role_ids, agents, settings)
    chosen, gate = resolve(topology, team_specs, rounds, Decision(decision.value, settings=settings))
    if show_graph:
        out.print(render_graph(chosen if isinstance(chosen, CommGraph) else chosen.graph_for(query)))

    with start_server(_serve_config(engine, model, base_url, api_key_env)) as server:
        _announce(server)
        backend = server.backend(timeout_s=timeout)
        if server.process is None:  # an external URL: fail fast and clearly if nothing answers there
            asyncio.run(backend.list_models())
        team = Team(chosen, backend, early_stop=early_stop, checkpoint=checkpoint, receive_gate=gate)
        if stream:
            trajectory = print_stream(team.stream(query, thread_id=thread_id), out)
        else:
            with err.status(f"{topology} team on {server.model}…"):
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


@app.command()
def roles() -> None:
    """List the role library."""
    from agentnet.prompts import load_role, role_ids

    table = Table("id", "title", "prompt")
    for rid in role_ids():
        card = load_role(rid)
        table.add_row(rid, card.title, card.system.splitlines()[0])
    out.print(table)


StoreOpt = Annotated[
    Path, typer.Option("--store", envvar="AGENTNET_STORE", help="SQLite file holding evaluation runs.")
]
DEFAULT_STORE = Path("agentnet_runs.sqlite")


@app.command()
@user_errors
def bench(
    task: Annotated[str | None, typer.Argument(help="Task name (see `agentnet tasks`); omit with --resume.")] = None,
    topology: Annotated[str, typer.Option("--topology", "-t", help=TOPOLOGY_HELP)] = "chain",
    agents: Annotated[int, typer.Option("--agents", "-n", help="Number of agents.")] = 3,
    rounds: Annotated[int, typer.Option("--rounds", "-r", help="Communication rounds.")] = 1,
    roles: RolesOpt = "",
    decision: Annotated[str, typer.Option(help="final_refer | majority_vote | code_writer | last_agent; default: the task's.")] = "",
    limit: Annotated[int | None, typer.Option(help="Only the first N items (default: the whole split).")] = None,
    split: Annotated[str, typer.Option(help="Data split.")] = "test",
    concurrency: Annotated[int, typer.Option(help="Queries in flight at once.")] = 4,
    max_tokens: Annotated[int, typer.Option(help="Completion tokens per agent call.")] = 256,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.0,
    early_stop: Annotated[bool, typer.Option(help="Stop before the last round when all agents agree.")] = False,
    temporal: Annotated[str, typer.Option(help="Fixed shapes: last-round messages each agent reads: self, complete (a dialogue) or none; default: the shape's own.")] = "",
    seed: Annotated[int, typer.Option(help="Seed for generated tasks and random topologies.")] = 0,
    data_dir: DataDirOpt = None,
    strict: Annotated[bool, typer.Option(help="Malformed data lines are errors, not skipped.")] = False,
    resume: Annotated[str | None, typer.Option(help="Continue this run id (its stored config is used).")] = None,
    store_path: StoreOpt = DEFAULT_STORE,
    engine: EngineOpt = "llama-cpp",
    model: ModelOpt = DEFAULT_MODEL,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    timeout: Annotated[float, typer.Option(help="Seconds per LLM call before it is retried.")] = 120.0,
) -> None:
    """Evaluate a team on a benchmark; every result is stored as it is scored (resumable)."""
    from agentnet.display import BenchProgress
    from agentnet.evaluation import evaluate
    from agentnet.report import summary_table
    from agentnet.runtime import Team
    from agentnet.store import RunConfig, RunStore
    from agentnet.tasks import TaskConfig, make_task

    with RunStore(store_path) as store:
        if resume:
            run_id, config = resume, store.run(resume).config
        elif task is None:
            raise ConfigError("name a task (e.g. `agentnet bench gsm8k --limit 20`) or pass --resume RUN_ID")
        else:
            config = RunConfig(
                task=task, split=split, topology=topology, agents=agents, rounds=rounds,
                roles=tuple(_names(roles)), decision=decision, limit=limit,
                concurrency=concurrency, engine=engine, model=model, base_url=base_url, max_tokens=max_tokens,
                temperature=temperature, early_stop=early_stop, seed=seed, data_dir=str(data_dir) if data_dir else None,
                temporal=temporal,
            )  # fmt: skip
        the_task = make_task(config.task, TaskConfig(Path(config.data_dir) if config.data_dir else None, strict, config.seed))
        items = list(itertools.islice(the_task.items(config.split), config.limit))
        chosen, gate = _bench_topology(config, the_task)
        decision_kind = (chosen if isinstance(chosen, CommGraph) else chosen).decision.kind
        if not resume:
            run_id = store.create_run(config, len(items))
        todo = len(items) - len(store.finished_items(run_id))
        err.print(f"[bold]run {run_id}[/]: {config.task}/{config.split} · {len(items)} items ({todo} to go) · "
                  f"{config.topology} × {config.agents} agents × {config.rounds} round(s)")  # fmt: skip
        code_check = the_task.code_check() if decision_kind == "code_writer" else None  # type: ignore[attr-defined]
        serve = _serve_config(config.engine, config.model, config.base_url, api_key_env)
        with start_server(serve) as server:
            _announce(server)
            backend = server.backend(timeout_s=timeout)
            if server.process is None:
                asyncio.run(backend.list_models())
            team = Team(chosen, backend, extract=the_task.extract, early_stop=config.early_stop,
                        code_check=code_check, receive_gate=gate)  # fmt: skip
            with BenchProgress(len(items), len(items) - todo, store.summary(run_id), err) as progress:
                try:
                    asyncio.run(evaluate(team, the_task, items, store, run_id,
                                         concurrency=config.concurrency, on_result=progress.update))  # fmt: skip
                except KeyboardInterrupt:
                    err.print(f"\n[yellow]interrupted[/]: resume with `agentnet bench --resume {run_id}`")
                    raise typer.Exit(130) from None
        out.print(summary_table([store.summary(run_id)]))


def _bench_topology(config: Any, task: Any) -> tuple[Any, Any]:
    from agentnet.graph import Decision
    from agentnet.types import GenerationSettings

    role_ids = list(config.roles or task.roles)
    settings = GenerationSettings(max_tokens=config.max_tokens, temperature=config.temperature)
    specs = _specs(role_ids, config.agents, settings)
    kind = config.decision or task.decision
    role = "code_writer" if kind == "code_writer" else "final_refer"
    extra: dict[str, Any] = {"seed": config.seed} if config.topology == "random" else {}
    if config.temporal:
        if config.topology not in FIXED:
            raise ConfigError(f"--temporal {config.temporal} applies to fixed shapes; {config.topology} learned its own")
        extra["temporal"] = config.temporal
    return resolve(config.topology, specs, config.rounds, Decision(kind, role=role, settings=settings), **extra)


@app.command()
@user_errors
def runs(store_path: StoreOpt = DEFAULT_STORE) -> None:
    """List evaluation runs with their accuracy and tokens per query."""
    from agentnet.report import summary_table
    from agentnet.store import RunStore

    if not store_path.exists():
        raise ConfigError(f"no run store at {store_path}; run `agentnet bench` first or pass --store")
    with RunStore(store_path) as store:
        out.print(summary_table([store.summary(r.id) for r in store.runs()]))


@app.command()
@user_errors
def report(
    run_ids: Annotated[list[str], typer.Argument(help="Run ids to compare (see `agentnet runs`).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory for report.md, report.html and PNGs.")] = Path("report"),
    prompt_price: Annotated[float, typer.Option(help="USD per 1M prompt tokens, for the cost estimate.")] = 0.15,
    completion_price: Annotated[float, typer.Option(help="USD per 1M completion tokens.")] = 0.60,
    store_path: StoreOpt = DEFAULT_STORE,
) -> None:
    """Write a Markdown + HTML report: accuracy vs tokens (with the Pareto front) and topology drawings."""
    from agentnet.report import Prices, write_report
    from agentnet.store import RunStore

    if not store_path.exists():
        raise ConfigError(f"no run store at {store_path}; run `agentnet bench` first or pass --store")
    with RunStore(store_path) as store:
        files = write_report(store, run_ids, out_dir, prices=Prices(prompt_price, completion_price))
    for path in files.paths:
        out.print(str(path), highlight=False)


@app.command()
def tasks() -> None:
    """List the benchmark tasks."""
    from agentnet.tasks import REGISTRY, TaskConfig

    table = Table("task", "default roles", "decision")
    for name, factory in sorted(REGISTRY.items()):
        t = factory(TaskConfig())
        table.add_row(name, ", ".join(t.roles), t.decision)
    out.print(table)


train_app = typer.Typer(help="Train learned topologies (REINFORCE) or the agents themselves (Optima).",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(train_app, name="train")


def _train_topology(kind: str) -> Callable[..., None]:
    @user_errors
    def command(
        task: Annotated[str, typer.Option(help="Task whose training items drive the reward.")] = "gsm8k",
        split: Annotated[str, typer.Option(help="Split to train on.")] = "train",
        limit: Annotated[int | None, typer.Option(help="Use only the first N items of the split.")] = None,
        agents: Annotated[int, typer.Option("--agents", "-n", help="Number of agents.")] = 4,
        rounds: Annotated[int, typer.Option("--rounds", "-r", help="Communication rounds.")] = 2,
        roles: RolesOpt = "",
        steps: Annotated[int, typer.Option(help="Optimisation steps.")] = 20,
        batch: Annotated[int, typer.Option(help="Queries per step.")] = 4,
        lambda_tokens: Annotated[float, typer.Option(help="Reward = score - λ · tokens / token_scale.")] = 0.1,
        token_scale: Annotated[float, typer.Option(help="Tokens that cost λ in reward.")] = 1000.0,
        lr: Annotated[float, typer.Option(help="Learning rate.")] = 1e-2,
        max_tokens: Annotated[int, typer.Option(help="Completion tokens per agent call.")] = 256,
        concurrency: Annotated[int, typer.Option(help="Queries in flight at once.")] = 4,
        seed: Annotated[int, typer.Option(help="Seed for sampling and item order.")] = 0,
        out_dir: Annotated[Path, typer.Option("--out", help="Directory for checkpoint.pt, metrics.jsonl and model.pt (resumes if present).")] = Path("topology-run"),
        data_dir: DataDirOpt = None,
        engine: EngineOpt = "llama-cpp",
        model: ModelOpt = DEFAULT_MODEL,
        base_url: BaseUrlOpt = None,
        api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    ) -> None:
        from rich.progress import Progress

        from agentnet.graph import Decision
        from agentnet.tasks import TaskConfig, make_task
        from agentnet.topologies import learned_class
        from agentnet.topologies.embeddings import MiniLMEmbedder
        from agentnet.training.topology import TopologyTrainConfig, TopologyTrainer
        from agentnet.types import GenerationSettings

        the_task = make_task(task, TaskConfig(data_dir, seed=seed))
        items = list(itertools.islice(the_task.items(split), limit))
        role_ids = _names(roles) or list(the_task.roles)
        settings = GenerationSettings(max_tokens=max_tokens)
        specs = _specs(role_ids, agents, settings)
        decision = Decision(the_task.decision, settings=settings)
        cls = learned_class(kind)
        config_cls = cls.config_class
        topology = cls(specs, rounds, decision, config_cls(seed=seed, **_lr_fields(config_cls, lr)), MiniLMEmbedder())
        train_config = TopologyTrainConfig(steps=steps, batch=batch, lambda_tokens=lambda_tokens,
                                           token_scale=token_scale, concurrency=concurrency, seed=seed)  # fmt: skip
        with start_server(_serve_config(engine, model, base_url, api_key_env)) as server:
            _announce(server)
            trainer = TopologyTrainer(topology, the_task, items, server.backend(), train_config, out_dir)
            if trainer.resume():
                err.print(f"[yellow]resuming[/] {out_dir} at step {trainer.step}/{steps}")
            with Progress(console=err) as progress:
                bar = progress.add_task(f"train {kind}", total=steps, completed=trainer.step)

                def on_step(m: Any) -> None:
                    progress.update(bar, advance=1, description=(
                        f"train {kind} · reward {m.reward:+.3f} · acc {m.accuracy:.2f} · "
                        f"tok {m.tokens:.0f} · density {m.edge_density:.2f}"))  # fmt: skip

                path = trainer.train(on_step)
        out.print(f"model: {path}\nmetrics: {trainer.metrics_path}\nuse it: --topology {kind}:{path}", highlight=False)

    command.__doc__ = f"Train {kind} with REINFORCE on a task's training items (resumable per step)."
    return command


for _kind in LEARNED:
    train_app.command(_kind)(_train_topology(_kind))


class OptimaMode(str, Enum):
    sft = "sft"
    dpo = "dpo"
    sft_dpo = "sft-dpo"


@train_app.command("optima")
@user_errors
def train_optima(
    task: Annotated[str, typer.Option(help="Task (Optima's own: asymmetric, the information-exchange puzzles).")] = "asymmetric",
    mode: Annotated[OptimaMode, typer.Option(help="iSFT, iDPO (MCTS pairs) or alternating.")] = OptimaMode.sft,
    iterations: Annotated[int, typer.Option(help="Generate-rank-select-train iterations.")] = 2,
    samples: Annotated[int, typer.Option(help="Conversations sampled per training item (Optima: 15).")] = 4,
    limit: Annotated[int | None, typer.Option(help="Training items (first N of the split).")] = 16,
    split: Annotated[str, typer.Option(help="Split to train on.")] = "train",
    eval_limit: Annotated[int, typer.Option(help="Evaluate before and after on the first N items of --eval-split (0: skip).")] = 20,
    eval_split: Annotated[str, typer.Option(help="Split to evaluate on.")] = "test",
    rounds: Annotated[int, typer.Option("--rounds", "-r", help="Dialogue rounds (each agent speaks once a round).")] = 2,
    roles: RolesOpt = "",
    max_tokens: Annotated[int, typer.Option(help="Completion tokens per turn.")] = 128,
    temperature: Annotated[float, typer.Option(help="Sampling temperature while generating.")] = 0.8,
    formats: Annotated[str, typer.Option(help="Iteration-0 format seeds, comma-separated; default: all (json, bullets, table, terse, xml).")] = "",
    sft_threshold: Annotated[float, typer.Option(help="iSFT: an item's best conversation must reach this reward.")] = 0.6,
    sft_top: Annotated[float, typer.Option(help="iSFT: keep this fraction of the items' best conversations.")] = 0.7,
    lambda_tokens: Annotated[float, typer.Option(help="Reward weight of tokens / max tokens (negative).")] = -0.5,
    lambda_read: Annotated[float, typer.Option(help="Reward weight of readability (1 / max message NLL).")] = 0.6,
    token_cap: Annotated[int, typer.Option(help="Conversations over this many tokens get readability -1.")] = 500,
    tag_penalty: Annotated[float, typer.Option(help="Reward added when a message speaks for another agent.")] = -10.0,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    sft_lr: Annotated[float, typer.Option(help="SFT learning rate (LoRA).")] = 2e-4,
    sft_epochs: Annotated[float, typer.Option(help="SFT epochs per iteration.")] = 2.0,
    dpo_lr: Annotated[float, typer.Option(help="DPO learning rate (LoRA).")] = 5e-5,
    dpo_beta: Annotated[float, typer.Option(help="DPO beta.")] = 0.2,
    concurrency: Annotated[int, typer.Option(help="Conversations in flight at once.")] = 4,
    seed: Annotated[int, typer.Option(help="Seed for generated tasks and MCTS selection.")] = 0,
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory (resumes if present): iter-N/, metrics.jsonl, report.md.")] = Path("optima-run"),
    data_dir: DataDirOpt = None,
    engine: Annotated[str, typer.Option("--engine", "-e", help="llama-cpp (CPU: merged GGUF) or vllm (GPU: LoRA adapters).")] = "llama-cpp",
    model: ModelOpt = DEFAULT_MODEL,
    store_path: StoreOpt = DEFAULT_STORE,
    timeout: Annotated[float, typer.Option(help="Seconds per LLM call before it is retried.")] = 120.0,
) -> None:
    """Optima: train the agents on their own best conversations (SFT / DPO with LoRA), then compare."""
    from rich.progress import Progress

    from agentnet.graph import Decision
    from agentnet.store import RunConfig, RunStore
    from agentnet.tasks import TaskConfig, make_task
    from agentnet.training.optima.finetune import BaseModelNLL, FinetuneConfig, quiet
    from agentnet.training.optima.generate import Dialogue
    from agentnet.training.optima.loop import OptimaConfig, OptimaTrainer
    from agentnet.training.optima.policy import LoRALearner, base_policy, serve_policies
    from agentnet.training.optima.report import evaluate_policy, write_report
    from agentnet.training.optima.reward import RewardConfig
    from agentnet.types import GenerationSettings

    config = OptimaConfig(
        mode=mode.value, iterations=iterations, samples=samples, temperature=temperature,
        formats=tuple(_names(formats)), sft_threshold=sft_threshold, sft_top=sft_top,
        concurrency=concurrency, seed=seed,
        reward=RewardConfig(lambda_tokens=lambda_tokens, lambda_read=lambda_read, token_cap=token_cap, tag_penalty=tag_penalty),
    )  # fmt: skip
    tune = FinetuneConfig(lora_r=lora_r, lora_alpha=2 * lora_r, sft_lr=sft_lr, sft_epochs=sft_epochs,
                          dpo_lr=dpo_lr, dpo_beta=dpo_beta, seed=seed)  # fmt: skip
    quiet()
    the_task = make_task(task, TaskConfig(data_dir, seed=seed))
    items = list(itertools.islice(the_task.items(split), limit))
    role_ids = _names(roles) or list(the_task.roles)
    sampling = GenerationSettings(max_tokens=max_tokens, temperature=temperature)
    dialogue = Dialogue(tuple(_specs(role_ids, len(role_ids), sampling)), rounds, Decision("last_agent"))
    base = base_policy(model)
    serve = serve_policies(engine, lora_rank=lora_r, timeout_s=timeout)
    learner = LoRALearner(base, tune, keep_merged=config.mode != "sft")
    err.print(f"[bold]optima[/] {config.mode} · {task}/{split} · {len(items)} items × {samples} samples · "
              f"{iterations} iteration(s) · {base.name} on {engine} · {out_dir}")  # fmt: skip
    with Progress(console=err) as progress:
        bar = progress.add_task("optima", total=None)

        def on_conversation(sample: Any) -> None:
            progress.update(bar, advance=1, description=f"conversations · last score {sample.score:.0f}")

        trainer = OptimaTrainer(the_task, items, dialogue, base, serve, learner, BaseModelNLL(Path(base.hf_dir)),
                                config, out_dir, on_conversation=on_conversation)  # fmt: skip
        if trainer.completed:
            err.print(f"[yellow]resuming[/] {out_dir} after iteration {trainer.completed}/{iterations}")

        def on_iteration(m: Any) -> None:
            err.print(f"iteration {m.iteration} ({m.mode}): score {m.score:.3f} · tokens {m.tokens:.1f} · "
                      f"reward {m.reward:+.3f} · {m.rows} rows · {m.train}")  # fmt: skip

        final = asyncio.run(trainer.atrain(on_iteration))
        evaluations = []
        if eval_limit > 0:
            eval_items = list(itertools.islice(the_task.items(eval_split), eval_limit))
            with RunStore(store_path) as store:
                for label, policy in (("before", base), ("after", final)):
                    progress.update(bar, description=f"evaluating {label} ({policy.name})")
                    run = RunConfig(task=task, split=eval_split, topology="chain", agents=len(role_ids), rounds=rounds,
                                    roles=tuple(role_ids), decision="last_agent", limit=eval_limit, concurrency=concurrency,
                                    engine=engine, model=policy.gguf or policy.hf_dir, max_tokens=max_tokens,
                                    early_stop=True, seed=seed, temporal="complete")  # fmt: skip
                    summary = asyncio.run(evaluate_policy(serve, policy, dialogue, the_task, eval_items, store, run,
                                                          out_dir / "eval-runs.json"))  # fmt: skip
                    evaluations.append((f"{label}: {policy.name}", summary))
    report = write_report(out_dir / "report.md", config, trainer.metrics(), evaluations, " ".join(sys.argv))
    out.print(report.read_text(), highlight=False)
    out.print(f"report: {report}\nfinal policy: {final.gguf or final.adapter or final.hf_dir}", highlight=False)


def _param_groups_help() -> str:
    from agentnet.training.trace.params import PARAM_GROUPS

    return f"Comma-separated parameter groups to train: {', '.join(PARAM_GROUPS)}."


@app.command()
@user_errors
def optimize(
    task: Annotated[str, typer.Option(help="Task whose items drive the optimisation (see `agentnet tasks`).")] = "gsm8k",
    params: Annotated[str, typer.Option("--params", "-p", help="Comma-separated parameter groups to train: "
                                        "prompts, decision, rounds, temperature, extract.")] = "prompts",
    steps: Annotated[int, typer.Option(help="Proposals (one optimiser call each).")] = 10,
    train: Annotated[int, typer.Option("--train", help="Training items the minibatches are drawn from.")] = 16,
    val: Annotated[int, typer.Option("--val", help="Validation items every proposal is scored on.")] = 16,
    batch: Annotated[int, typer.Option(help="Training items shown to the optimiser per step.")] = 2,
    split: Annotated[str, typer.Option(help="Split the training and validation items come from (disjoint).")] = "train",
    topology: Annotated[str, typer.Option("--topology", "-t", help="A fixed shape (learned ones are trained by `train`).")] = "chain",
    agents: Annotated[int, typer.Option("--agents", "-n", help="Number of agents.")] = 3,
    rounds: Annotated[int, typer.Option("--rounds", "-r", help="Communication rounds (the start value if trained).")] = 1,
    max_rounds: Annotated[int, typer.Option(help="Upper bound for a trained `rounds`.")] = 4,
    roles: RolesOpt = "",
    decision: Annotated[str, typer.Option(help="final_refer | majority_vote | code_writer | last_agent; default: the task's.")] = "",
    max_tokens: Annotated[int, typer.Option(help="Completion tokens per agent call.")] = 256,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (the start value if trained).")] = 0.0,
    optimizer_max_tokens: Annotated[int, typer.Option(help="Completion tokens per optimiser call.")] = 1024,
    memory: Annotated[int, typer.Option(help="Past (variables, feedback) pairs the optimiser sees.")] = 3,
    json_mode: Annotated[bool, typer.Option("--json-mode/--free-text", help="Constrain the optimiser's reply to a JSON schema whose suggestion keys are the trainable variables (grammar on llama.cpp, structured outputs on vLLM); --free-text for servers without structured output.")] = True,
    optimizer_base_url: Annotated[str | None, typer.Option(help="A separate (stronger) server for the optimiser; default: the team's.")] = None,
    optimizer_model: Annotated[str | None, typer.Option(help="Model name for --optimizer-base-url.")] = None,
    min_improvement: Annotated[float, typer.Option(help="A validation score gain must exceed this to be kept.")] = 0.0,
    concurrency: Annotated[int, typer.Option(help="Team runs in flight at once.")] = 4,
    seed: Annotated[int, typer.Option(help="Seed for the item split, minibatch order and generated tasks.")] = 0,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for checkpoint.json, metrics.jsonl, report.md, best_params.json.")] = Path("trace-run"),
    resume: Annotated[bool, typer.Option(help="Continue the run in --out (an existing --out without --resume is an error).")] = False,
    data_dir: DataDirOpt = None,
    engine: EngineOpt = "llama-cpp",
    model: ModelOpt = DEFAULT_MODEL,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    timeout: Annotated[float, typer.Option(help="Seconds per LLM call before it is retried.")] = 120.0,
) -> None:
    """Optimise the team's prompts and parameters from execution traces (Trace / OptoPrime).

    Each step runs the team on a minibatch, shows the optimiser LLM the trace and feedback,
    scores its proposal on the validation items and keeps it only if it is better (score
    first, then tokens). Every proposal is checkpointed and listed in OUT/report.md.
    """
    import os

    from agentnet.graph import Decision
    from agentnet.llm import OpenAIBackend
    from agentnet.tasks import TaskConfig, make_task
    from agentnet.topologies import FIXED
    from agentnet.training.trace import OPTIMIZERS, OptoPrimeConfig, TeamSpec, TraceConfig, TraceLoop, team_parameters
    from agentnet.types import GenerationSettings

    if topology not in FIXED:
        raise ConfigError(f"--topology {topology!r}: optimize trains fixed shapes ({', '.join(FIXED)})")
    if (out_dir / "checkpoint.json").exists() and not resume:
        raise ConfigError(f"{out_dir} holds a trace run; pass --resume to continue it or choose another --out")
    if train < 1 or val < 1:
        raise ConfigError(f"--train {train} and --val {val} must be at least 1")
    the_task = make_task(task, TaskConfig(data_dir, seed=seed))
    items = list(itertools.islice(the_task.items(split), train + val))
    if len(items) < train + val:
        raise ConfigError(f"{task}/{split} has {len(items)} items; --train {train} + --val {val} need {train + val}")
    random.Random(seed).shuffle(items)  # a disjoint, reproducible split of the first train+val items
    role_ids = _names(roles) or list(the_task.roles)
    settings = GenerationSettings(max_tokens=max_tokens, temperature=temperature)
    kind = decision or the_task.decision
    team_decision = Decision(kind, role="code_writer" if kind == "code_writer" else "final_refer", settings=settings)
    spec = TeamSpec(topology, tuple(_specs(role_ids, agents, settings)), rounds, team_decision)
    trainable = team_parameters(spec, _names(params), max_rounds=max_rounds)
    opt_config = OptoPrimeConfig(memory_size=memory, max_tokens=optimizer_max_tokens, json_mode=json_mode,
                                 model=optimizer_model)  # fmt: skip
    config = TraceConfig(steps=steps, batch=batch, concurrency=concurrency, seed=seed, min_improvement=min_improvement)
    with start_server(_serve_config(engine, model, base_url, api_key_env)) as server:
        _announce(server)
        backend = server.backend(timeout_s=timeout)
        opt_backend = backend if optimizer_base_url is None else OpenAIBackend(
            optimizer_base_url, model=optimizer_model, api_key=os.environ.get(api_key_env), name="optimizer",
            timeout_s=timeout)  # fmt: skip
        optimizer = OPTIMIZERS["optoprime"](opt_backend, opt_config)
        loop = TraceLoop(spec, trainable, the_task, items[:train], items[train:], backend, optimizer, config, out_dir)
        if resume and loop.resume():
            err.print(f"[yellow]resuming[/] {out_dir} at step {loop.step}/{steps}")
        with err.status("scoring the initial parameters on the validation items…"):
            base = loop.ensure_baseline()
        err.print(f"baseline: score {base.score:.3f} at {base.tokens:.0f} tokens/item on {base.items} items")

        def on_step(r: Any) -> None:
            val_text = "–" if r.val_score is None else f"{r.val_score:.3f} ({r.val_tokens:.0f} tok)"
            changed = ", ".join(r.changes) or "–"
            err.print(f"step {r.step}: {r.verdict:<9} val {val_text} · best {loop.best.score:.3f} · {changed} · {r.reason}",
                      highlight=False)  # fmt: skip

        result = loop.run(on_step)
    out.print(f"baseline {result.baseline.score:.3f} ({result.baseline.tokens:.0f} tok/item) → "
              f"best {result.best.score:.3f} ({result.best.tokens:.0f} tok/item)", highlight=False)  # fmt: skip
    out.print(f"report: {result.report}\nbest parameters: {loop.best_path}", highlight=False)


def _lr_fields(config_cls: Any, lr: float) -> dict[str, float]:
    """The learning-rate fields a topology's config has (G-Designer: lr; CommFormer: edge_lr, gate_lr)."""
    names = {f for f in getattr(config_cls, "__dataclass_fields__", {}) if f == "lr" or f.endswith("_lr")}
    return {n: lr for n in names}


topo_app = typer.Typer(help="Inspect topologies.", no_args_is_help=True)
app.add_typer(topo_app, name="topo")


@topo_app.command("show")
@user_errors
def topo_show(
    spec: Annotated[str, typer.Argument(help="A trained topology (gdesigner:PATH, commformer:PATH) or a fixed shape.")],
    query: Annotated[str, typer.Option(help="The query to design a graph for.")] = "What is 12+7?",
    out_png: Annotated[Path, typer.Option("--out", "-o", help="Where to write the drawing.")] = Path("topology.png"),
    agents: Annotated[int, typer.Option("--agents", "-n", help="Agents, for a fixed shape.")] = 4,
    rounds: Annotated[int, typer.Option("--rounds", "-r", help="Rounds, for a fixed shape.")] = 2,
) -> None:
    """Print and draw (PNG) the graph a topology designs for QUERY."""
    from agentnet.agents import AgentSpec
    from agentnet.display import render_graph
    from agentnet.graph import Decision
    from agentnet.report import draw_topology

    specs = [AgentSpec(f"a{i}", "math_solver") for i in range(agents)]
    chosen, _ = resolve(spec, specs, rounds, Decision())
    graph = chosen if isinstance(chosen, CommGraph) else chosen.graph_for(query)
    out.print(render_graph(graph))
    out.print(str(draw_topology(graph, out_png, title=f"{spec} · {query[:60]}")), highlight=False)


def main() -> None:
    # SIGTERM unwinds like Ctrl-C does: every command's `with start_server(...)` stops its
    # server instead of leaving it running, and results written so far stay resumable
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    app()


if __name__ == "__main__":
    main()
