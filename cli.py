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
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from agentnet.assembly import team_for, topology_for
from agentnet.assembly.team import RUN_DEFAULTS
from agentnet.assembly.endpoint import TEAMS_HELP, EndpointConfig
from agentnet.assembly.items import load_items
from agentnet.assembly.models import preflight, serve_team
from agentnet.assembly.server import ClientConfig, connect
from agentnet.adversaries import AttackConfig
from agentnet.configs import ItemsConfig, TeamConfig
from agentnet.errors import ConfigError
from agentnet.graph import CommGraph
from agentnet.options import Group
from agentnet.options import command as options_command
from agentnet.outputs import check_file_target, check_target, staged_file
from agentnet.report import Prices
from agentnet.display import announce, announce_all
from agentnet.serving import ServeConfig, default_cache_dir
from agentnet.store import RunConfig, RunStore
from agentnet.tasks import TaskConfig
from agentnet.topologies.registry import LEARNED, topology_help
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
command = functools.partial(options_command, console=err)  # options from configs, user errors as one line

# option groups shared by the commands (panels in --help)
TEAM = Group(TeamConfig, panel="Team", helps={"topology": topology_help()})  # with the attack's options (--adversaries …)
RUN_TEAM = replace(TEAM, defaults=RUN_DEFAULTS)  # `agentnet run`: agents side by side, a majority vote
SERVE = Group(ServeConfig, panel="Server", exclude=("extra_args", "host", "port"))
CLIENT = Group(ClientConfig, panel="Server")
DATA = Group(TaskConfig, panel="Data", exclude=("seed",))  # the seed is the team's
StoreOpt = Annotated[Path, typer.Option("--store", envvar="AGENTNET_STORE", help="SQLite file holding evaluation runs.")]
DEFAULT_STORE = Path("agentnet_runs.sqlite")


@command(app, serve=Group(ServeConfig, exclude=("extra_args", "base_url", "api_key_env")))
def serve(
    serve: ServeConfig,
    extra: Annotated[list[str] | None, typer.Argument(help="Extra engine flags, after `--`.")] = None,
) -> None:
    """Start a model server and keep it running until Ctrl-C."""
    from agentnet.assembly.server import serve_until_interrupted

    serve_until_interrupted(replace(serve, extra_args=tuple(extra or ())), out, err)


@command(app)
def models(cache_dir: Annotated[Path | None, typer.Option(help="Cache dir (default $AGENTNET_CACHE_DIR or ~/.cache/agentnet).")] = None) -> None:
    """List the named local models, whether they are installed, and their default price."""
    from agentnet.display import models_table

    out.print(models_table(cache_dir or default_cache_dir()))


@command(app, crew=RUN_TEAM, serve=SERVE, client=CLIENT)
def run(
    query: Annotated[str, typer.Argument(help="The task for the team.")],
    crew: TeamConfig,
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
    from agentnet.display import print_result, print_stream, render_graph

    if not query.strip():
        raise ConfigError("the query is empty; ask the team something, e.g. agentnet run \"What is 12+7?\"")
    topology = topology_for(crew)
    if show_graph:
        out.print(render_graph(topology if isinstance(topology, CommGraph) else topology.graph_for(query)))
    with serve_team(topology, crew, serve, client) as served:
        announce_all(served, err)
        the_team = team_for(None, topology, served.backends, crew, checkpoint=checkpoint, model=served.model)
        if stream:
            trajectory = print_stream(the_team.stream(query, thread_id=thread_id), out)
        else:
            with err.status(f"{crew.topology} team on {', '.join(s.model or '?' for s in served.servers)}…"):
                trajectory = the_team.run(query, thread_id=thread_id)
    print_result(trajectory, out, err, checkpointed=checkpoint is not None, save=save, reasoning=not stream)


@command(app)
def roles() -> None:
    """List the role library (with each role's default tool)."""
    from agentnet.display import roles_table

    out.print(roles_table())


@command(app, run=Group(RunConfig, panel="Team", helps={"topology": topology_help()}), serve=SERVE, client=CLIENT, data=DATA)
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
    from agentnet.evaluation import bench_run, evaluate
    from agentnet.ledger import truncation_warning
    from agentnet.report import summary_table

    from agentnet.assembly.runs import run_settings

    config, serve, data = run_settings(run, serve, data, task, resume, store_path)
    the_task, items = load_items(ItemsConfig(config.task, config.split, config.limit, config.offset), data)
    topology = topology_for(config.team, the_task)  # every input is checked before the store is touched
    preflight(topology, config.team, serve, client)
    with RunStore(store_path) as store, bench_run(store, config, len(items), resume) as run_id:  # never left "running"
        todo = len(items) - len(store.finished_items(run_id))
        t = config.team
        err.print(f"[bold]run {run_id}[/]: {config.task}/{config.split} · {len(items)} items ({todo} to go) · "
                  f"{t.topology} × {t.agents} agents × {t.rounds} round(s){' · ' * t.attack.active}{t.attack.describe()}")  # fmt: skip
        with serve_team(topology, t, serve, client, concurrency=config.concurrency) as served:
            announce_all(served, err)
            the_team = team_for(the_task, topology, served.backends, t, model=served.model)
            with BenchProgress(len(items), len(items) - todo, store.summary(run_id), err) as progress:
                try:
                    asyncio.run(evaluate(the_team, the_task, items, store, run_id, concurrency=config.concurrency,
                                         on_result=progress.update, health=served.health))  # fmt: skip
                except KeyboardInterrupt:
                    err.print(f"\n[yellow]interrupted[/]: resume with `agentnet bench --resume {run_id}`")
                    raise typer.Exit(130) from None
        summary = store.summary(run_id)
    out.print(summary_table([summary]))
    if warning := truncation_warning(summary):
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if summary.failed:
        err.print(f"[yellow]{summary.failed} item(s) failed[/] and count as 0 in the accuracy; "
                  f"see `agentnet report {run_id}`", highlight=False)  # fmt: skip
        raise typer.Exit(1)


@command(app)
def runs(
    run_id: Annotated[str | None, typer.Argument(help="Only this run (see the list without it).")] = None,
    config_out: Annotated[Path | None, typer.Option(help="Write RUN_ID's configuration here (YAML); `agentnet bench --config FILE` reruns it.")] = None,
    store_path: StoreOpt = DEFAULT_STORE,
) -> None:
    """List evaluation runs with their accuracy and tokens per query; --config-out writes one's configuration to rerun it."""
    from agentnet.assembly.runs import list_runs

    list_runs(store_path, run_id, config_out, out)


@command(app, prices=Prices)
def report(
    run_ids: Annotated[list[str], typer.Argument(help="Run ids to compare (see `agentnet runs`).")],
    prices: Prices,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory for report.md, report.html and PNGs.")] = Path("report"),
    store_path: StoreOpt = DEFAULT_STORE,
) -> None:
    """Write a Markdown + HTML report: accuracy vs tokens (with the Pareto front) and topology drawings."""
    from agentnet.report import write_report

    with RunStore.existing(store_path) as store:
        files = write_report(store, run_ids, out_dir, prices=prices)
    for path in files.paths:
        out.print(str(path), highlight=False)


@command(app)
def show(
    run_id: Annotated[str, typer.Argument(help="The run to see (see `agentnet runs`).")],
    item: Annotated[str | None, typer.Argument(help="Only this item's page (default: every item).")] = None,
    compare: Annotated[list[str] | None, typer.Option(help="Another run to show beside it, item by item (repeatable).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Directory for the pages (default show/RUN_ID).")] = None,
    store_path: StoreOpt = DEFAULT_STORE,
) -> None:
    """Write HTML pages to see a run in the browser: each item's team as it ran, every message a click away."""
    from agentnet.viewer import write_viewer

    with RunStore.existing(store_path) as store:
        pages = out_dir or Path("show") / "-vs-".join([run_id, *(compare or [])])
        out.print(str(write_viewer(store, run_id, pages, item=item, compare=tuple(compare or ()))), highlight=False)


@command(app, name="serve-team", crew=Group(TeamConfig, panel="Team", exclude=("team",), helps={"topology": topology_help()}),
         api=Group(EndpointConfig, panel="Endpoint"), serve=SERVE, client=CLIENT, data=DATA)  # fmt: skip
def serve_teams(crew: TeamConfig, api: EndpointConfig, serve: ServeConfig, client: ClientConfig, data: TaskConfig,
                team: Annotated[list[str] | None, typer.Option(help=TEAMS_HELP)] = None, store_path: StoreOpt = DEFAULT_STORE) -> None:  # fmt: skip
    """Serve teams as models behind an OpenAI-compatible endpoint (/v1/chat/completions, /v1/models) until Ctrl-C."""
    from agentnet.assembly.endpoint import serve_teams

    serve_teams(replace(api, teams=tuple(team or ())), crew, serve, client, data, store_path, err)


@command(app)
def tasks() -> None:
    """List the benchmark tasks."""
    from agentnet.assembly.items import tasks_table

    out.print(tasks_table())


train_app = typer.Typer(help="Train learned topologies (REINFORCE) or the agents themselves (Optima).", no_args_is_help=True)
app.add_typer(train_app, name="train")
OutOpt = Annotated[Path, typer.Option("--out", help="Run directory; a run found there is resumed.")]
TRAIN_TEAM = Group(TeamConfig, panel="Team", exclude=("topology", "early_stop", "temporal"), defaults={"agents": 4, "rounds": 2})
TRAIN_ITEMS = Group(ItemsConfig, panel="Data", defaults={"split": "train"})


def _train_topology(kind: str) -> None:
    learned = LEARNED[kind]

    @command(train_app, name=kind, help=f"Train {kind} with REINFORCE on a task's training items (resumable per step). {learned.help}.",
             items=TRAIN_ITEMS, crew=TRAIN_TEAM, train=TopologyTrainConfig,
             topo=Group(learned.config_class, panel=kind), serve=SERVE, client=CLIENT, data=DATA)  # fmt: skip
    def train_topology(items: ItemsConfig, crew: TeamConfig, train: TopologyTrainConfig, topo: Any,
                       serve: ServeConfig, client: ClientConfig, data: TaskConfig,
                       out_dir: OutOpt = Path("topology-run")) -> None:  # fmt: skip
        check_target(out_dir)  # before any model loads or server starts
        from rich.progress import Progress

        from agentnet.assembly import agents_for, decision_for
        from agentnet.topologies.embeddings import MiniLMEmbedder
        from agentnet.training.topology import TopologyTrainer, check_screen

        the_task, the_items = load_items(items, replace(data, seed=crew.seed))
        topology = learned.model_class()(agents_for(crew, the_task), crew.rounds, decision_for(crew, the_task),
                                         topo, MiniLMEmbedder())  # fmt: skip
        check_screen(topology, len(the_items), train)
        with serve_team(topology, crew, serve, client, concurrency=train.concurrency) as served:
            announce_all(served, err)
            trainer = TopologyTrainer(topology, the_task, the_items, served.backends, train, out_dir, attack=crew.attack)
            if trainer.resume():
                err.print(f"[yellow]resuming[/] {out_dir} at step {trainer.step}/{train.steps}")
            with Progress(console=err) as progress:
                bar = progress.add_task(f"train {kind}", total=train.steps, completed=trainer.step)

                def on_step(m: Any) -> None:
                    progress.update(bar, advance=1, description=f"train {kind} · reward {m.reward:+.3f} · "
                                    f"acc {m.accuracy:.2f} · tok {m.tokens:.0f} · density {m.edge_density:.2f}")  # fmt: skip

                artefact = trainer.fit(on_step)
        out.print(f"model: {artefact.path}\nmetrics: {trainer.metrics_path}\nuse it: {artefact.use}", highlight=False)



for _kind in LEARNED:
    _train_topology(_kind)


@command(train_app, name="optima", items=Group(ItemsConfig, panel="Data", defaults={"task": "asymmetric", "split": "train", "limit": 16}),
         optima=OptimaConfig, tune=Group(FinetuneConfig, panel="Fine-tuning", exclude=("lora_alpha",)),
         team=Group(TeamConfig, panel="Team", exclude=("topology", "agents", "team", "prices", "decision", "early_stop", "temporal", "temperature", "attack"),
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

    from agentnet.training.optima.report import write_report
    from agentnet.training.optima.session import OptimaSession, run_session

    session = OptimaSession(items, optima, tune, team, serve, data, client.timeout, eval_limit, eval_split)
    with Progress(console=err) as progress:
        bar = progress.add_task("optima", total=None)
        done = run_session(
            session, out_dir, store_path, announce=lambda line: err.print(line, highlight=False),
            on_conversation=lambda c: progress.update(bar, advance=1, description=f"conversations · last score {c.score:.0f}"),
            on_iteration=lambda m: err.print(f"iteration {m.iteration} ({m.mode}): score {m.score:.3f} · tokens {m.tokens:.1f}"
                                             f" · reward {m.reward:+.3f} · {m.rows} rows · {m.train}"),
            on_evaluation=lambda label, p: progress.update(bar, description=f"evaluating {label} ({p.name})"))  # fmt: skip
    report_path = write_report(out_dir / "report.md", optima, done.trainer.metrics(), done.evaluations, " ".join(sys.argv))
    out.print(report_path.read_text(), highlight=False)
    out.print(f"report: {report_path}\nfinal policy: {done.final.gguf or done.final.adapter or done.final.hf_dir}", highlight=False)


@command(app, name="optimize", items=Group(ItemsConfig, panel="Data", exclude=("limit",), defaults={"split": "train"}),
         team=Group(TeamConfig, panel="Team", exclude=("attack", "team", "prices"), helps={"topology": "A fixed shape (learned ones are trained by `train`)."}),
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
    from agentnet.training.trace.session import TraceSession, trace_loop

    check_target(out_dir)  # before any server starts
    session = TraceSession(items, team, trace, opt, data, tuple(p.strip() for p in params.split(",") if p.strip()),
                           train, val, max_rounds, optimizer_base_url, serve.api_key_env, client.timeout)  # fmt: skip
    with connect(serve, client) as (server, backend):
        announce(server, err)
        loop = trace_loop(session, backend, out_dir)
        if loop.resume():
            err.print(f"[yellow]resuming[/] {out_dir} at step {loop.step}/{trace.steps}")
        with err.status("scoring the initial parameters on the validation items…"):
            base = loop.ensure_baseline()
        err.print(f"baseline: score {base.score:.3f} at {base.tokens:.0f} tokens/item on {base.items} items")

        def on_step(r: Any) -> None:
            val_text = "–" if r.val_score is None else f"{r.val_score:.3f} ({r.val_tokens:.0f} tok)"
            err.print(f"step {r.step}: {r.verdict:<9} val {val_text} · best {loop.best.score if loop.best else 0:.3f} · "
                      f"{', '.join(r.changes) or '–'} · {r.reason}", highlight=False)  # fmt: skip

        result = loop.fit(on_step).details
    out.print(f"baseline {result.baseline.score:.3f} ({result.baseline.tokens:.0f} tok/item) → "
              f"best {result.best.score:.3f} ({result.best.tokens:.0f} tok/item)", highlight=False)  # fmt: skip
    out.print(f"report: {result.report}\nbest parameters: {loop.best_path}", highlight=False)


topo_app = typer.Typer(help="Inspect topologies.", no_args_is_help=True)
app.add_typer(topo_app, name="topo")


@command(topo_app, name="show", attack=Group(AttackConfig, panel="Adversaries"))
def topo_show(
    spec: Annotated[str, typer.Argument(help="A trained topology (KIND:PATH), a graph .json file or a fixed shape.")],
    attack: AttackConfig,
    query: Annotated[str, typer.Option(help="The query to design a graph for.")] = "What is 12+7?",
    out_png: Annotated[Path, typer.Option("--out", "-o", help="Where to write the drawing.")] = Path("topology.png"),
    agents: Annotated[int, typer.Option("--agents", "-n", help="Agents, for a fixed shape.")] = 4,
    rounds: Annotated[int, typer.Option("--rounds", "-r", help="Rounds, for a fixed shape.")] = 2,
) -> None:
    """Print and draw (PNG) the graph a topology designs for QUERY."""
    from agentnet.display import render_graph
    from agentnet.drawing import draw_topology

    check_file_target(out_png)  # before anything is printed or drawn
    chosen = topology_for(TeamConfig(topology=spec, agents=agents, rounds=rounds, roles=("math_solver",), attack=attack))
    graph = chosen if isinstance(chosen, CommGraph) else chosen.graph_for(query)
    stop = chosen.inference_stop_gate is not None
    out.print(render_graph(graph, stop="a learned stop head decides from this round's outputs" if stop else ""))
    with staged_file(out_png) as tmp:  # a directory, /proc or a path under a file: one line, nothing half-written
        draw_topology(graph, tmp, title=f"{spec} · {query[:60]}", stop=stop)
    out.print(str(out_png), highlight=False)


def main() -> None:
    # SIGTERM unwinds like Ctrl-C does: every command's `with start_server(...)` stops its
    # server instead of leaving it running, and results written so far stay resumable
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    app()


if __name__ == "__main__":
    main()
