"""An evaluation run from a command: its settings (a new run's, or a stored one's for `--resume`),
the run itself as `agentnet bench` shows it, and a stored run's settings written as a config file
(`agentnet runs RUN --config-out run.yaml`)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import cast

import typer
from rich.console import Console

from agentnet.assembly.items import load_items
from agentnet.assembly.models import preflight, serve_team
from agentnet.assembly.server import ClientConfig
from agentnet.assembly.team import team_for, topology_for
from agentnet.cache import CacheConfig, CacheMode
from agentnet.configfile import settings_of, write
from agentnet.configs import ItemsConfig
from agentnet.display import announce_all
from agentnet.errors import ConfigError
from agentnet.agents import DEFAULT_MODEL_KEY
from agentnet.graph import Topology
from agentnet.serving import ServeConfig
from agentnet.store import RunConfig, RunStore
from agentnet.tasks import TaskConfig


def run_settings(
    run: RunConfig,
    serve: ServeConfig,
    client: ClientConfig,
    data: TaskConfig,
    task: str | None,
    resume: str | None,
    store_path: Path,
) -> tuple[RunConfig, ServeConfig, ClientConfig, TaskConfig]:
    """The run config, the server, the client and the data to use. A resumed run keeps its stored
    team, task, engine and model (a `--base-url` given now may point at its server's new address),
    and its response cache unless `--cache` names another (or the file is gone)."""
    if resume:
        if not store_path.exists():
            raise ConfigError(f"no run store at {store_path}; pass the --store that holds run {resume}")
        with RunStore(store_path) as store:
            config = store.run(resume).config
        serve = replace(serve, engine=config.engine, model=config.model, base_url=serve.base_url or config.base_url)
        if client.cache.path is None and config.cache and Path(config.cache).is_file():
            client = replace(client, cache=CacheConfig(Path(config.cache), cast(CacheMode, config.cache_mode)))
    elif task is None:
        raise ConfigError("name a task (e.g. `agentnet bench gsm8k --limit 20`) or pass --resume RUN_ID")
    else:
        cache = client.cache
        config = replace(
            run,
            task=task,
            engine=serve.engine,
            model=serve.model,
            base_url=serve.base_url,
            data_dir=str(data.data_dir) if data.data_dir else None,
            cache=str(Path(cache.path).resolve()) if cache.path is not None else None,
            cache_mode=cache.mode,
        )
    data = replace(data, data_dir=Path(config.data_dir) if config.data_dir else None, seed=config.team.seed)
    return config, serve, client, data


def list_runs(store_path: Path, run_id: str | None, config_out: Path | None, out: Console) -> None:
    """The runs table (or one run's row); with `config_out`, that run's configuration written as a
    config file that `agentnet bench --config` replays."""
    from agentnet.run_table import summary_table

    if config_out is not None and not run_id:
        raise ConfigError(
            "--config-out writes one run's configuration; name it: agentnet runs RUN_ID --config-out run.yaml"
        )
    with RunStore.existing(store_path) as store:
        chosen = [store.run(run_id)] if run_id else store.runs()
        if config_out is not None:
            header = f"run {run_id} from {store_path}; rerun it with: agentnet bench --config {config_out}"
            write(config_out, settings_of(chosen[0].config), header)
        out.print(summary_table([store.summary(r.id) for r in chosen]))
    if config_out is not None:
        out.print(str(config_out), highlight=False)


def run_bench(
    config: RunConfig,
    serve: ServeConfig,
    client: ClientConfig,
    data: TaskConfig,
    resume: str | None,
    store_path: Path,
    out: Console,
    err: Console,
) -> None:
    """Evaluate the team on the run's items, each result stored as it is scored; prints the progress
    and the summary. Exits 1 when items failed, 130 when interrupted (resumable)."""
    from agentnet.display import BenchProgress
    from agentnet.evaluation import bench_run, evaluate
    from agentnet.ledger import truncation_warning
    from agentnet.run_table import summary_table

    the_task, items = load_items(ItemsConfig(config.task, config.split, config.limit, config.offset), data)
    topology = topology_for(config.team, the_task)  # every input is checked before the store is touched
    preflight(topology, config.team, serve, client)
    with RunStore(store_path) as store, bench_run(store, config, len(items), resume) as run_id:  # never left "running"
        todo = len(items) - len(store.finished_items(run_id))
        t = config.team
        err.print(
            f"[bold]run {run_id}[/]: {config.task}/{config.split} · {len(items)} items ({todo} to go) · "
            f"{team_line(t.topology, topology)}{' · ' * t.attack.active}{t.attack.describe()}"
        )
        with serve_team(topology, t, serve, client, concurrency=config.concurrency) as served:
            announce_all(served, err)
            the_team = team_for(the_task, topology, served.backends, t, model=served.model)
            with BenchProgress(len(items), len(items) - todo, store.summary(run_id), err) as progress:
                try:
                    asyncio.run(
                        evaluate(
                            the_team,
                            the_task,
                            items,
                            store,
                            run_id,
                            concurrency=config.concurrency,
                            on_result=progress.update,
                            health=served.health,
                        )
                    )
                except KeyboardInterrupt:
                    err.print(f"\n[yellow]interrupted[/]: resume with `agentnet bench --resume {run_id}`")
                    raise typer.Exit(130) from None
        summary = store.summary(run_id)
    out.print(summary_table([summary]))
    if warning := truncation_warning(summary):
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if summary.failed:
        err.print(
            f"[yellow]{summary.failed} item(s) failed[/] and count as 0 in the accuracy; "
            f"see `agentnet report {run_id}`",
            highlight=False,
        )
        raise typer.Exit(1)


def team_line(spec: str, topology: Topology) -> str:
    """The team as a run's header shows it, read from the topology: a learned topology or a graph
    file brings its own agents and rounds (not the command's --agents/--rounds)."""
    models = dict.fromkeys(a.model for a in topology.agents if a.model != DEFAULT_MODEL_KEY)
    on = f" on {', '.join(models)}" if models else ""
    return f"{spec} × {len(topology.agents)} agents{on} × {topology.rounds} round(s)"
