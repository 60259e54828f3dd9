"""An evaluation run's settings from a command: a new run's, or a stored one's for `--resume`; and a
stored run's settings written as a config file (`agentnet runs RUN --config-out run.yaml`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console

from agentnet.configfile import settings_of, write
from agentnet.errors import ConfigError
from agentnet.serving import ServeConfig
from agentnet.store import RunConfig, RunStore
from agentnet.tasks import TaskConfig


def run_settings(
    run: RunConfig, serve: ServeConfig, data: TaskConfig, task: str | None, resume: str | None, store_path: Path
) -> tuple[RunConfig, ServeConfig, TaskConfig]:
    """The run config, the server and the data to use. A resumed run keeps its stored team, task,
    engine and model (a `--base-url` given now may point at its server's new address)."""
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
    data = replace(data, data_dir=Path(config.data_dir) if config.data_dir else None, seed=config.team.seed)
    return config, serve, data


def list_runs(store_path: Path, run_id: str | None, config_out: Path | None, out: Console) -> None:
    """The runs table (or one run's row); with `config_out`, that run's configuration written as a
    config file that `agentnet bench --config` replays."""
    from agentnet.report import summary_table

    if config_out is not None and not run_id:
        raise ConfigError("--config-out writes one run's configuration; "
                          "name it: agentnet runs RUN_ID --config-out run.yaml")
    with RunStore.existing(store_path) as store:
        chosen = [store.run(run_id)] if run_id else store.runs()
        if config_out is not None:
            header = f"run {run_id} from {store_path}; rerun it with: agentnet bench --config {config_out}"
            write(config_out, settings_of(chosen[0].config), header)
        out.print(summary_table([store.summary(r.id) for r in chosen]))
    if config_out is not None:
        out.print(str(config_out), highlight=False)
