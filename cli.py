"""The `agentnet` command: Typer wiring only. Installed as `agentnet.cli`.

Options come from the config dataclasses (`agentnet.options`): their fields' defaults and help
texts are the single source of truth, and their validation is the CLI's. Teams are built by
`agentnet.assembly`, the same way the library and the trainers build them.
"""

from __future__ import annotations

import functools
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agentnet.assembly.endpoint_config import TEAMS_HELP, EndpointConfig
from agentnet.assembly.server import ClientConfig
from agentnet.adversaries import AttackConfig
from agentnet.configs import RUN_DEFAULTS, ItemsConfig, TeamConfig
from agentnet.options import Group
from agentnet.options import command as options_command
from agentnet.outputs import check_target
from agentnet.run_report import Prices
from agentnet.serving import ServeConfig, default_cache_dir
from agentnet.store import RunConfig, RunStore
from agentnet.tasks import TaskConfig
from agentnet.topologies.registry import LEARNED, topology_help
from agentnet.training.optima.finetune import FinetuneConfig
from agentnet.training.optima.loop import OptimaConfig
from agentnet.training.topology import TopologyTrainConfig
from agentnet.training.trace.loop import TraceConfig
from agentnet.training.trace.optimizer import OptoPrimeConfig

app = typer.Typer(
    name="agentnet",
    help="Teams of LLM agents that communicate over learnable graphs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# piped output (logs, CI) gets room for the wide tables instead of rich's 80-column default
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
command = functools.partial(options_command, console=err)  # options from configs, user errors as one line

# option groups shared by the commands (panels in --help)
TEAM = Group(
    TeamConfig, panel="Team", helps={"topology": topology_help()}
)  # with the attack's options (--adversaries …)
RUN_TEAM = replace(TEAM, defaults=RUN_DEFAULTS)  # `agentnet run`: agents side by side, a majority vote
SERVE = Group(ServeConfig, panel="Server", exclude=("extra_args", "host", "port"))
CLIENT = Group(ClientConfig, panel="Server")
DATA = Group(TaskConfig, panel="Data", exclude=("seed",))  # the seed is the team's
StoreOpt = Annotated[
    Path, typer.Option("--store", envvar="AGENTNET_STORE", help="SQLite file holding evaluation runs.")
]
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
def models(
    cache_dir: Annotated[
        Path | None, typer.Option(help="Cache dir (default $AGENTNET_CACHE_DIR or ~/.cache/agentnet).")
    ] = None,
) -> None:
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
    from agentnet.assembly.query import run_query

    run_query(query, crew, serve, client, out, err, stream, show_graph, save, checkpoint, thread_id)


@command(app)
def roles() -> None:
    """List the role library (with each role's default tool)."""
    from agentnet.display import roles_table

    out.print(roles_table())


@command(
    app, run=Group(RunConfig, panel="Team", helps={"topology": topology_help()}), serve=SERVE, client=CLIENT, data=DATA
)
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
    from agentnet.assembly.runs import run_bench, run_settings

    config, serve, client, data = run_settings(run, serve, client, data, task, resume, store_path)
    run_bench(config, serve, client, data, resume, store_path, out, err)


@command(app)
def runs(
    run_id: Annotated[str | None, typer.Argument(help="Only this run (see the list without it).")] = None,
    config_out: Annotated[
        Path | None,
        typer.Option(help="Write RUN_ID's configuration here (YAML); `agentnet bench --config FILE` reruns it."),
    ] = None,
    store_path: StoreOpt = DEFAULT_STORE,
) -> None:
    """List evaluation runs with their accuracy and tokens per query; --config-out writes one's configuration to rerun it."""
    from agentnet.assembly.runs import list_runs

    list_runs(store_path, run_id, config_out, out)


@command(app, prices=Prices)
def report(
    run_ids: Annotated[list[str], typer.Argument(help="Run ids to compare (see `agentnet runs`).")],
    prices: Prices,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory for report.md, report.html and PNGs.")] = Path(
        "report"
    ),
    store_path: StoreOpt = DEFAULT_STORE,
) -> None:
    """Write a Markdown + HTML report: accuracy vs tokens (with the Pareto front) and topology drawings."""
    from agentnet.run_report import write_report

    with RunStore.existing(store_path) as store:
        files = write_report(store, run_ids, out_dir, prices=prices)
    for path in files.paths:
        out.print(str(path), highlight=False)


@command(app)
def show(
    run_id: Annotated[str, typer.Argument(help="The run to see (see `agentnet runs`).")],
    item: Annotated[str | None, typer.Argument(help="Only this item's page (default: every item).")] = None,
    compare: Annotated[
        list[str] | None, typer.Option(help="Another run to show beside it, item by item (repeatable).")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Directory for the pages (default show/RUN_ID).")
    ] = None,
    store_path: StoreOpt = DEFAULT_STORE,
) -> None:
    """Write HTML pages to see a run in the browser: each item's team as it ran, every message a click away."""
    from agentnet.viewer import write_viewer

    with RunStore.existing(store_path) as store:
        pages = out_dir or Path("show") / "-vs-".join([run_id, *(compare or [])])
        out.print(str(write_viewer(store, run_id, pages, item=item, compare=tuple(compare or ()))), highlight=False)


@command(
    app,
    name="serve-team",
    crew=Group(TeamConfig, panel="Team", exclude=("team",), helps={"topology": topology_help()}),
    api=Group(EndpointConfig, panel="Endpoint"),
    serve=SERVE,
    client=CLIENT,
    data=DATA,
)
def serve_teams(
    crew: TeamConfig,
    api: EndpointConfig,
    serve: ServeConfig,
    client: ClientConfig,
    data: TaskConfig,
    team: Annotated[list[str] | None, typer.Option(help=TEAMS_HELP)] = None,
    store_path: StoreOpt = DEFAULT_STORE,
) -> None:
    """Serve teams as models behind an OpenAI-compatible endpoint (/v1/chat/completions, /v1/models) until Ctrl-C."""
    from agentnet.assembly.endpoint import serve_teams

    serve_teams(replace(api, teams=tuple(team or ())), crew, serve, client, data, store_path, err)


@command(app)
def tasks() -> None:
    """List the benchmark tasks."""
    from agentnet.assembly.items import tasks_table

    out.print(tasks_table())


train_app = typer.Typer(
    help="Train learned topologies (REINFORCE) or the agents themselves (Optima).", no_args_is_help=True
)
app.add_typer(train_app, name="train")
OutOpt = Annotated[Path, typer.Option("--out", help="Run directory; a run found there is resumed.")]
TRAIN_TEAM = Group(
    TeamConfig, panel="Team", exclude=("topology", "early_stop", "temporal"), defaults={"agents": 4, "rounds": 2}
)
TRAIN_ITEMS = Group(ItemsConfig, panel="Data", defaults={"split": "train"})


def _train_topology(kind: str) -> None:
    learned = LEARNED[kind]

    @command(
        train_app,
        name=kind,
        help=f"Train {kind} with REINFORCE on a task's training items (resumable per step). {learned.help}.",
        items=TRAIN_ITEMS,
        crew=TRAIN_TEAM,
        train=TopologyTrainConfig,
        topo=Group(learned.config_class, panel=kind),
        serve=SERVE,
        client=CLIENT,
        data=DATA,
    )
    def train_topology(
        items: ItemsConfig,
        crew: TeamConfig,
        train: TopologyTrainConfig,
        topo: object,
        serve: ServeConfig,
        client: ClientConfig,
        data: TaskConfig,
        out_dir: OutOpt = Path("topology-run"),
    ) -> None:
        from agentnet.training.topology_session import train_learned

        train_learned(kind, items, crew, train, topo, serve, client, data, out_dir, out, err)


for _kind in LEARNED:
    _train_topology(_kind)


@command(
    train_app,
    name="optima",
    items=Group(ItemsConfig, panel="Data", defaults={"task": "asymmetric", "split": "train", "limit": 16}),
    optima=OptimaConfig,
    tune=Group(FinetuneConfig, panel="Fine-tuning", exclude=("lora_alpha",)),
    team=Group(
        TeamConfig,
        panel="Team",
        exclude=("topology", "agents", "team", "prices", "decision", "early_stop", "temporal", "temperature", "attack"),
        defaults={"rounds": 2, "max_tokens": 128},
    ),
    serve=Group(ServeConfig, panel="Server", exclude=("extra_args", "host", "port", "base_url", "api_key_env")),
    client=CLIENT,
    data=DATA,
)
def train_optima(
    items: ItemsConfig,
    optima: OptimaConfig,
    tune: FinetuneConfig,
    team: TeamConfig,
    serve: ServeConfig,
    client: ClientConfig,
    data: TaskConfig,
    eval_limit: Annotated[
        int, typer.Option(help="Evaluate before and after on the first N items of --eval-split (0: skip).")
    ] = 20,
    eval_split: Annotated[str, typer.Option(help="Split to evaluate on.")] = "test",
    out_dir: OutOpt = Path("optima-run"),
    store_path: StoreOpt = DEFAULT_STORE,
) -> None:
    """Optima: train the agents on their own best conversations (SFT / DPO with LoRA), then compare."""
    from agentnet.training.optima.session import OptimaSession, run_optima

    session = OptimaSession(items, optima, tune, team, serve, data, client.timeout, eval_limit, eval_split)
    run_optima(session, out_dir, store_path, " ".join(sys.argv), out, err)


@command(
    app,
    name="optimize",
    items=Group(ItemsConfig, panel="Data", exclude=("limit",), defaults={"split": "train"}),
    team=Group(
        TeamConfig,
        panel="Team",
        exclude=("attack", "team", "prices"),
        helps={"topology": "A fixed shape (learned ones are trained by `train`)."},
    ),
    trace=TraceConfig,
    opt=Group(OptoPrimeConfig, prefix="optimizer_", panel="Optimiser"),
    serve=SERVE,
    client=CLIENT,
    data=DATA,
)
def optimize(
    items: ItemsConfig,
    team: TeamConfig,
    trace: TraceConfig,
    opt: OptoPrimeConfig,
    serve: ServeConfig,
    client: ClientConfig,
    data: TaskConfig,
    params: Annotated[
        str,
        typer.Option(
            "--params",
            "-p",
            help="Comma-separated parameter groups to train: prompts, decision, rounds, temperature, extract.",
        ),
    ] = "prompts",
    train: Annotated[int, typer.Option("--train", help="Training items the minibatches are drawn from.")] = 16,
    val: Annotated[int, typer.Option("--val", help="Validation items every proposal is scored on.")] = 16,
    max_rounds: Annotated[int, typer.Option(help="Upper bound for a trained `rounds`.")] = 4,
    optimizer_base_url: Annotated[
        str | None, typer.Option(help="A separate (stronger) server for the optimiser; default: the team's.")
    ] = None,
    out_dir: OutOpt = Path("trace-run"),
) -> None:
    """Optimise the team's prompts and parameters from execution traces (Trace / OptoPrime).

    Each step runs the team on a minibatch, shows the optimiser LLM the trace and feedback,
    scores its proposal on the validation items and keeps it only if it is better (score
    first, then tokens). Every proposal is checkpointed and listed in OUT/report.md.
    """
    from agentnet.training.trace.session import TraceSession, run_trace

    check_target(out_dir)  # before any server starts
    groups = tuple(p.strip() for p in params.split(",") if p.strip())
    session = TraceSession(
        items,
        team,
        trace,
        opt,
        data,
        groups,
        train,
        val,
        max_rounds,
        optimizer_base_url,
        serve.api_key_env,
        client.timeout,
    )
    run_trace(session, serve, client, out_dir, out, err)


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
    from agentnet.assembly.query import show_topology

    show_topology(spec, attack, query, out_png, agents, rounds, out)


def main() -> None:
    # SIGTERM unwinds like Ctrl-C does: every command's `with start_server(...)` stops its
    # server instead of leaving it running, and results written so far stay resumable
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    app()


if __name__ == "__main__":
    main()
