"""An evaluation run's settings from a command: a new run's, or a stored one's for `--resume`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

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
