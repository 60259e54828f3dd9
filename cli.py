"""The `agentnet` command: Typer wiring only. Installed as `agentnet.cli`.

Options come from the config dataclasses (`agentnet.options`): their fields' defaults and help
texts are the single source of truth, and their validation is the CLI's. Teams are built by
`agentnet.assembly`, the same way the library and the trainers build them.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from agentnet.assembly import team_for, topology_for
from agentnet.assembly.items import load_items, train_val_split
from agentnet.assembly.server import ClientConfig, connect
from agentnet.configs import ItemsConfig, TeamConfig
from agentnet.errors import AgentNetError, ConfigError
from agentnet.graph import CommGraph
from agentnet.options import Group, config_options
from agentnet.serving import NAMED_MODELS, ServeConfig, Server, default_cache_dir
from agentnet.store import RunConfig
from agentnet.tasks import TaskConfig
from agentnet.topologies.registry import LEARNED, resolve, topology_help
from agentnet.training.optima.finetune import FinetuneConfig
from agentnet.training.optima.loop import OptimaConfig
from agentnet.training.topology import TopologyTrainConfig
from agentnet.training.trace.loop import TraceConfig
from agentnet.training.trace.optimizer import OptoPrimeConfig

app = typer.Typer(name="agentnet", help="Teams of LLM agents that communicate over learnable graphs.",
                  no_args_is_help=True, pretty_exceptions_enable=False)  # fmt: skip
# piped output (logs, CI) gets room for the wide tables instead of rich's 80-column default
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
F = TypeVar("F", bound=Callable[..., Any])

# option groups shared by the commands (panels in --help)
TEAM = Group(TeamConfig, panel="Team", helps={"topology": topology_help()})
SERVE = Group(ServeConfig, panel="Server", exclude=("extra_args", "host", "port"))
CLIENT = Group(ClientConfig, panel="Server")
DATA = Group(TaskConfig, panel="Data", exclude=("seed",))  # the seed is the team's
StoreOpt = Annotated[Path, typer.Option("--store", envvar="AGENTNET_STORE", help="SQLite file holding evaluation runs.")]
DEFAULT_STORE = Path("agentnet_runs.sqlite")


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


def command(group: typer.Typer = app, name: str | None = None, **configs: type | Group) -> Callable[[F], F]:
    """A command whose config parameters become options, with user errors as one line."""

    def decorate(fn: F) -> F:
        group.command(name)(user_errors(config_options(**configs)(fn)))
        return fn

    return decorate


def _announce(server: Server) -> None:
    for note in server.notes:
        err.print(f"[yellow]note:[/] {note}")
    if server.process is not None:
        err.print(f"[dim]{server.engine} serving {server.model} at {server.base_url} "
                  f"(ready in {server.startup_s:.1f}s; log {server.log_path})[/]")  # fmt: skip


def _task_config(data: TaskConfig, seed: int) -> TaskConfig:
    return replace(data, seed=seed)


@command(serve=Group(ServeConfig, exclude=("extra_args", "base_url", "api_key_env")))
def serve(
    serve: ServeConfig,
    extra: Annotated[list[str] | None, typer.Argument(help="Extra engine flags, after `--`.")] = None,
) -> None:
    """Start a model server and keep it running until Ctrl-C."""
    from agentnet.serving import start

    with start(replace(serve, extra_args=tuple(extra or ()))) as server:
        _announce(server)
        out.print(f"{server.base_url}", highlight=False)
        err.print(f"[dim]try: curl {server.base_url}/chat/completions -H 'Content-Type: application/json' -d "
                  f"'{{\"model\": \"{server.model}\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hi\"}}]}}'[/]")  # fmt: skip
        try:
            while server.process is not None and server.process.alive():
                time.sleep(0.5)
        except KeyboardInterrupt:
            err.print("[dim]stopping…[/]")
            return
    raise AgentNetError(f"the server exited unexpectedly; see its log {server.log_path}")


@command()
def models(cache_dir: Annotated[Path | None, typer.Option(help="Cache dir (default $AGENTNET_CACHE_DIR or ~/.cache/agentnet).")] = None) -> None:
    """List the named local models and whether they are installed."""
    from agentnet.serving.models import model_status

    table = Table("name", "status", "model")
    for m in NAMED_MODELS.values():
        table.add_row(m.name, model_status(m, cache_dir or default_cache_dir()), m.description)
    out.print(table)


@command(team=TEAM, serve=SERVE, client=CLIENT)
def run(
    query: Annotated[str, typer.Argument(help="The task for the team.")],
    team: TeamConfig,
    serve: ServeConfig,
    client: ClientConfig,
    stream: Annotated[bool, typer.Option(help="Print each agent's tokens as they arrive.")] = False,
    show_graph: Annotated[bool, typer.Option(help="Print the communication graph.")] = False,
    save: Annotated[Path | None, typer.Option(help="Write the full trajectory (JSON) here.")] = None,
    checkpoint: Annotated[Path | None, typer.Option(help="SQLite file for checkpoints (resumable runs).")] = None,
    thread_id: Annotated[str | None, typer.Option(help="Resume (or name) this checkpointed run.")] = None,
) -> None:
    """Run a team of agents on QUERY; print the answer and a per-agent token table.

    Without --base-url an embedded server is started for the run and stopped afterwards.
    """
    from agentnet.display import print_stream, render_graph, token_table

    if not query.strip():
        raise ConfigError("the query is empty; ask the team something, e.g. agentnet run \"What is 12+7?\"")
    topology, gate = topology_for(team)
    if show_graph:
        out.print(render_graph(topology if isinstance(topology, CommGraph) else topology.graph_for(query)))
    with connect(serve, client) as (server, backend):
        _announce(server)
        the_team = team_for(None, topology, backend, team, receive_gate=gate, checkpoint=checkpoint)
        if stream:
            trajectory = print_stream(the_team.stream(query, thread_id=thread_id), out)
        else:
            with err.status(f"{team.topology} team on {server.model}…"):
                trajectory = the_team.run(query, thread_id=thread_id)
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


@command()
def roles() -> None:
    """List the role library."""
    from agentnet.prompts import load_role, role_ids

    table = Table("id", "title", "prompt")
    for rid in role_ids():
        card = load_role(rid)
        table.add_row(rid, card.title, card.system.splitlines()[0])
    out.print(table)


@command(run=Group(RunConfig, panel="Team", helps={"topology": topology_help()}), serve=SERVE, client=CLIENT, data=DATA)
def bench(
    run: RunConfig,
    serve: ServeConfig,
    client: ClientConfig,
    data: TaskConfig,
    task: Annotated[str | None, typer.Argument(help="Task name (see `agentnet tasks`); omit with --resume.")] = None,
    resume: Annotated[str | None, typer.Option(help="Continue this run id (its stored config is used).")] = None,
    store_path: StoreOpt = DEFAULT_STORE,
) -> None:
    """Evaluate a team on a benchmark; every result is stored as it is scored (resumable)."""
    from agentnet.display import BenchProgress
    from agentnet.evaluation import evaluate
    from agentnet.report import summary_table
    from agentnet.store import RunStore

    if resume:
        if not store_path.exists():
            raise ConfigError(f"no run store at {store_path}; pass the --store that holds run {resume}")
        with RunStore(store_path) as store:
            config = store.run(resume).config
        serve = replace(serve, engine=config.engine, model=config.model, base_url=serve.base_url or config.base_url)
    elif task is None:
        raise ConfigError("name a task (e.g. `agentnet bench gsm8k --limit 20`) or pass --resume RUN_ID")
    else:
        config = replace(run, task=task, engine=serve.engine, model=serve.model, base_url=serve.base_url,
                         data_dir=str(data.data_dir) if data.data_dir else None)  # fmt: skip
    task_config = TaskConfig(Path(config.data_dir) if config.data_dir else None, data.strict, config.team.seed)
    the_task, items = load_items(ItemsConfig(config.task, config.split, config.limit), task_config)
    topology, gate = topology_for(config.team, the_task)  # every input is checked before the store is touched
    with RunStore(store_path) as store:
        run_id = resume or store.create_run(config, len(items))
        todo = len(items) - len(store.finished_items(run_id))
        t = config.team
        err.print(f"[bold]run {run_id}[/]: {config.task}/{config.split} · {len(items)} items ({todo} to go) · "
                  f"{t.topology} × {t.agents} agents × {t.rounds} round(s)")  # fmt: skip
        with connect(serve, client) as (server, backend):
            _announce(server)
            the_team = team_for(the_task, topology, backend, t, receive_gate=gate)
            with BenchProgress(len(items), len(items) - todo, store.summary(run_id), err) as progress:
                try:
                    asyncio.run(evaluate(the_team, the_task, items, store, run_id,
                                         concurrency=config.concurrency, on_result=progress.update))  # fmt: skip
                except KeyboardInterrupt:
                    err.print(f"\n[yellow]interrupted[/]: resume with `agentnet bench --resume {run_id}`")
                    raise typer.Exit(130) from None
        out.print(summary_table([store.summary(run_id)]))


def _store(path: Path) -> Any:
    from agentnet.store import RunStore

    if not path.exists():
        raise ConfigError(f"no run store at {path}; run `agentnet bench` first or pass --store")
    return RunStore(path)


@command()
def runs(store_path: StoreOpt = DEFAULT_STORE) -> None:
    """List evaluation runs with their accuracy and tokens per query."""
    from agentnet.report import summary_table

    with _store(store_path) as store:
        out.print(summary_table([store.summary(r.id) for r in store.runs()]))


@command()
def report(
    run_ids: Annotated[list[str], typer.Argument(help="Run ids to compare (see `agentnet runs`).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory for report.md, report.html and PNGs.")] = Path("report"),
    prompt_price: Annotated[float, typer.Option(help="USD per 1M prompt tokens, for the cost estimate.")] = 0.15,
    completion_price: Annotated[float, typer.Option(help="USD per 1M completion tokens.")] = 0.60,
    store_path: StoreOpt = DEFAULT_STORE,
) -> None:
    """Write a Markdown + HTML report: accuracy vs tokens (with the Pareto front) and topology drawings."""
    from agentnet.report import Prices, write_report

    with _store(store_path) as store:
        files = write_report(store, run_ids, out_dir, prices=Prices(prompt_price, completion_price))
    for path in files.paths:
        out.print(str(path), highlight=False)


@command()
def tasks() -> None:
    """List the benchmark tasks."""
    from agentnet.tasks import REGISTRY

    table = Table("task", "default roles", "decision")
    for name, factory in sorted(REGISTRY.items()):
        t = factory(TaskConfig())
        table.add_row(name, ", ".join(t.roles), t.decision)
    out.print(table)


train_app = typer.Typer(help="Train learned topologies (REINFORCE) or the agents themselves (Optima).", no_args_is_help=True)
app.add_typer(train_app, name="train")
OutOpt = Annotated[Path, typer.Option("--out", help="Run directory; a run found there is resumed.")]
TRAIN_TEAM = Group(TeamConfig, panel="Team", exclude=("topology", "early_stop", "temporal"), defaults={"agents": 4, "rounds": 2})
TRAIN_ITEMS = Group(ItemsConfig, panel="Data", defaults={"split": "train"})


def _train_topology(kind: str) -> None:
    learned = LEARNED[kind]

    @command(train_app, kind, items=TRAIN_ITEMS, team=TRAIN_TEAM, train=TopologyTrainConfig,
             topo=Group(learned.model_class().config_class, panel=kind), serve=SERVE, client=CLIENT, data=DATA)  # fmt: skip
    def train_topology(items: ItemsConfig, team: TeamConfig, train: TopologyTrainConfig, topo: Any,
                       serve: ServeConfig, client: ClientConfig, data: TaskConfig,
                       out_dir: OutOpt = Path("topology-run")) -> None:  # fmt: skip
        from rich.progress import Progress

        from agentnet.assembly import agents_for, decision_for
        from agentnet.topologies.embeddings import MiniLMEmbedder
        from agentnet.training.topology import TopologyTrainer

        the_task, the_items = load_items(items, _task_config(data, team.seed))
        topology = learned.model_class()(agents_for(team, the_task), team.rounds, decision_for(team, the_task),
                                         topo, MiniLMEmbedder())  # fmt: skip
        with connect(serve, client) as (server, backend):
            _announce(server)
            trainer = TopologyTrainer(topology, the_task, the_items, backend, train, out_dir)
            if trainer.resume():
                err.print(f"[yellow]resuming[/] {out_dir} at step {trainer.step}/{train.steps}")
            with Progress(console=err) as progress:
                bar = progress.add_task(f"train {kind}", total=train.steps, completed=trainer.step)

                def on_step(m: Any) -> None:
                    progress.update(bar, advance=1, description=f"train {kind} · reward {m.reward:+.3f} · "
                                    f"acc {m.accuracy:.2f} · tok {m.tokens:.0f} · density {m.edge_density:.2f}")  # fmt: skip

                artefact = trainer.fit(on_step)
        out.print(f"model: {artefact.path}\nmetrics: {trainer.metrics_path}\nuse it: {artefact.use}", highlight=False)

    train_topology.__doc__ = f"Train {kind} with REINFORCE on a task's training items (resumable per step). {learned.help}."


for _kind in LEARNED:
    _train_topology(_kind)


@command(train_app, "optima", items=Group(ItemsConfig, panel="Data", defaults={"task": "asymmetric", "split": "train", "limit": 16}),
         optima=OptimaConfig, tune=Group(FinetuneConfig, panel="Fine-tuning", exclude=("lora_alpha",)),
         team=Group(TeamConfig, panel="Team", exclude=("topology", "agents", "decision", "early_stop", "temporal", "temperature"),
                    defaults={"rounds": 2, "max_tokens": 128}),
         serve=Group(ServeConfig, panel="Server", exclude=("extra_args", "host", "port", "base_url", "api_key_env")),
         client=CLIENT, data=DATA)  # fmt: skip
def train_optima(
    items: ItemsConfig, optima: OptimaConfig, tune: FinetuneConfig, team: TeamConfig, serve: ServeConfig,
    client: ClientConfig, data: TaskConfig,
    eval_limit: Annotated[int, typer.Option(help="Evaluate before and after on the first N items of --eval-split (0: skip).")] = 20,
    eval_split: Annotated[str, typer.Option(help="Split to evaluate on.")] = "test",
    out_dir: OutOpt = Path("optima-run"),
    store_path: StoreOpt = DEFAULT_STORE,
) -> None:  # fmt: skip
    """Optima: train the agents on their own best conversations (SFT / DPO with LoRA), then compare."""
    from rich.progress import Progress

    from agentnet.assembly import agents_for
    from agentnet.store import RunStore
    from agentnet.training.optima.finetune import BaseModelNLL, quiet
    from agentnet.training.optima.generate import Dialogue
    from agentnet.training.optima.loop import OptimaTrainer
    from agentnet.training.optima.policy import LoRALearner, base_policy, serve_policies
    from agentnet.training.optima.report import evaluate_before_after, write_report
    from agentnet.graph import Decision

    tune = replace(tune, lora_alpha=2 * tune.lora_r)
    quiet()
    the_task, the_items = load_items(items, _task_config(data, optima.seed))
    roles = team.roles or the_task.roles
    team = replace(team, roles=roles, agents=len(roles), temperature=optima.temperature)
    dialogue = Dialogue(agents_for(team, the_task), team.rounds, Decision("last_agent"))
    base = base_policy(serve.model)
    policies = serve_policies(serve.engine, lora_rank=tune.lora_r, timeout_s=client.timeout)
    learner = LoRALearner(base, tune, keep_merged=optima.mode != "sft")
    err.print(f"[bold]optima[/] {optima.mode} · {items.task}/{items.split} · {len(the_items)} items × {optima.samples} "
              f"samples · {optima.iterations} iteration(s) · {base.name} on {serve.engine} · {out_dir}")  # fmt: skip
    with Progress(console=err) as progress:
        bar = progress.add_task("optima", total=None)
        trainer = OptimaTrainer(the_task, the_items, dialogue, base, policies, learner, BaseModelNLL(Path(base.hf_dir)),
                                optima, out_dir, on_conversation=lambda s: progress.update(
                                    bar, advance=1, description=f"conversations · last score {s.score:.0f}"))  # fmt: skip
        if trainer.resumed:
            err.print(f"[yellow]resuming[/] {out_dir} after iteration {trainer.completed}/{optima.iterations}")
        final = trainer.fit(lambda m: err.print(f"iteration {m.iteration} ({m.mode}): score {m.score:.3f} · tokens "
                                                f"{m.tokens:.1f} · reward {m.reward:+.3f} · {m.rows} rows · {m.train}")).details  # fmt: skip
        evaluations = []
        if eval_limit > 0:
            eval_task, eval_items = load_items(ItemsConfig(items.task, eval_split, eval_limit), _task_config(data, optima.seed))
            run = RunConfig(task=items.task, split=eval_split, limit=eval_limit, concurrency=optima.concurrency,
                            team=replace(team, topology="chain", decision="last_agent", early_stop=True, temporal="complete",
                                         temperature=0.0, seed=optima.seed), engine=serve.engine)  # fmt: skip
            with RunStore(store_path) as store:
                evaluations = asyncio.run(evaluate_before_after(
                    policies, [("before", base), ("after", final)], dialogue, eval_task, eval_items, store, run,
                    out_dir / "eval-runs.json", lambda label, p: progress.update(bar, description=f"evaluating {label} ({p.name})")))  # fmt: skip
    report_path = write_report(out_dir / "report.md", optima, trainer.metrics(), evaluations, " ".join(sys.argv))
    out.print(report_path.read_text(), highlight=False)
    out.print(f"report: {report_path}\nfinal policy: {final.gguf or final.adapter or final.hf_dir}", highlight=False)


@command(name="optimize", items=Group(ItemsConfig, panel="Data", exclude=("limit",), defaults={"split": "train"}),
         team=Group(TeamConfig, panel="Team", helps={"topology": "A fixed shape (learned ones are trained by `train`)."}),
         trace=TraceConfig, opt=Group(OptoPrimeConfig, prefix="optimizer_", panel="Optimiser"),
         serve=SERVE, client=CLIENT, data=DATA)  # fmt: skip
def optimize(
    items: ItemsConfig, team: TeamConfig, trace: TraceConfig, opt: OptoPrimeConfig, serve: ServeConfig,
    client: ClientConfig, data: TaskConfig,
    params: Annotated[str, typer.Option("--params", "-p", help="Comma-separated parameter groups to train: prompts, decision, rounds, temperature, extract.")] = "prompts",
    train: Annotated[int, typer.Option("--train", help="Training items the minibatches are drawn from.")] = 16,
    val: Annotated[int, typer.Option("--val", help="Validation items every proposal is scored on.")] = 16,
    max_rounds: Annotated[int, typer.Option(help="Upper bound for a trained `rounds`.")] = 4,
    optimizer_base_url: Annotated[str | None, typer.Option(help="A separate (stronger) server for the optimiser; default: the team's.")] = None,
    out_dir: OutOpt = Path("trace-run"),
) -> None:  # fmt: skip
    """Optimise the team's prompts and parameters from execution traces (Trace / OptoPrime).

    Each step runs the team on a minibatch, shows the optimiser LLM the trace and feedback,
    scores its proposal on the validation items and keeps it only if it is better (score
    first, then tokens). Every proposal is checkpointed and listed in OUT/report.md.
    """
    import os

    from agentnet.assembly import agents_for, decision_for
    from agentnet.llm import OpenAIBackend
    from agentnet.tasks import make_task
    from agentnet.topologies.fixed import FIXED
    from agentnet.training.trace import OPTIMIZERS, TeamSpec, TraceLoop, team_parameters

    if team.topology not in FIXED:
        raise ConfigError(f"--topology {team.topology!r}: optimize trains fixed shapes ({', '.join(FIXED)})")
    the_task = make_task(items.task, _task_config(data, team.seed))
    train_items, val_items = train_val_split(the_task, items.split, train, val, team.seed)
    spec = TeamSpec(team.topology, agents_for(team, the_task), team.rounds, decision_for(team, the_task))
    trainable = team_parameters(spec, [p.strip() for p in params.split(",") if p.strip()], max_rounds=max_rounds)
    with connect(serve, client) as (server, backend):
        _announce(server)
        opt_backend = backend if optimizer_base_url is None else OpenAIBackend(
            optimizer_base_url, model=opt.model, api_key=os.environ.get(serve.api_key_env), name="optimizer",
            timeout_s=client.timeout)  # fmt: skip
        loop = TraceLoop(spec, trainable, the_task, train_items, val_items, backend,
                         OPTIMIZERS["optoprime"](opt_backend, opt), trace, out_dir)  # fmt: skip
        if loop.resume():
            err.print(f"[yellow]resuming[/] {out_dir} at step {loop.step}/{trace.steps}")
        with err.status("scoring the initial parameters on the validation items…"):
            base = loop.ensure_baseline()
        err.print(f"baseline: score {base.score:.3f} at {base.tokens:.0f} tokens/item on {base.items} items")

        def on_step(r: Any) -> None:
            val_text = "–" if r.val_score is None else f"{r.val_score:.3f} ({r.val_tokens:.0f} tok)"
            best = loop.best.score if loop.best else 0.0
            err.print(f"step {r.step}: {r.verdict:<9} val {val_text} · best {best:.3f} · "
                      f"{', '.join(r.changes) or '–'} · {r.reason}", highlight=False)  # fmt: skip

        result = loop.fit(on_step).details
    out.print(f"baseline {result.baseline.score:.3f} ({result.baseline.tokens:.0f} tok/item) → "
              f"best {result.best.score:.3f} ({result.best.tokens:.0f} tok/item)", highlight=False)  # fmt: skip
    out.print(f"report: {result.report}\nbest parameters: {loop.best_path}", highlight=False)


topo_app = typer.Typer(help="Inspect topologies.", no_args_is_help=True)
app.add_typer(topo_app, name="topo")


@command(topo_app, "show")
def topo_show(
    spec: Annotated[str, typer.Argument(help="A trained topology (KIND:PATH), a graph .json file or a fixed shape.")],
    query: Annotated[str, typer.Option(help="The query to design a graph for.")] = "What is 12+7?",
    out_png: Annotated[Path, typer.Option("--out", "-o", help="Where to write the drawing.")] = Path("topology.png"),
    agents: Annotated[int, typer.Option("--agents", "-n", help="Agents, for a fixed shape.")] = 4,
    rounds: Annotated[int, typer.Option("--rounds", "-r", help="Rounds, for a fixed shape.")] = 2,
) -> None:
    """Print and draw (PNG) the graph a topology designs for QUERY."""
    from agentnet.assembly import agents_for, decision_for
    from agentnet.display import render_graph
    from agentnet.report import draw_topology

    team = TeamConfig(topology=spec, agents=agents, rounds=rounds, roles=("math_solver",))
    chosen, _ = resolve(spec, agents_for(team), rounds, decision_for(team))
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
