"""What every task shares: finding its data, reading it tolerantly, numeric scoring, the registry."""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentnet.answers import normalise_number
from agentnet.errors import ConfigError, UnknownNameError
from agentnet.task import Task

DATA_ENV = "AGENTNET_DATA_DIR"


class DataNotFoundError(ConfigError):
    """No data file where we looked; the message lists every path tried and how to point at one."""


class MalformedDataError(ConfigError):
    """A data line that does not parse, under --strict."""


@dataclass(frozen=True)
class TaskConfig:
    """Options every task accepts. Parsed from CLI flags at the edge."""

    data_dir: Path | None = None  # --data-dir; else $AGENTNET_DATA_DIR
    strict: bool = False  # malformed lines are errors (with their line number), not skipped
    seed: int = 0  # for generated tasks


def data_roots(config: TaskConfig) -> list[Path]:
    roots = []
    if config.data_dir is not None:
        roots.append(Path(config.data_dir).expanduser())
    if os.environ.get(DATA_ENV):
        roots.append(Path(os.environ[DATA_ENV]).expanduser())
    return roots


def find_data(config: TaskConfig, task: str, *relative: str) -> Path:
    """The first existing `root/relative` over the data roots, else an error naming each path tried."""
    tried = [root / rel for root in data_roots(config) for rel in relative]
    for path in tried:
        if path.exists():
            return path
    where = ", ".join(str(p) for p in tried) if tried else "(no data directory given)"
    raise DataNotFoundError(
        f"no {task} data: tried {where}; pass --data-dir DIR or set {DATA_ENV}=DIR "
        f"(DIR/{relative[0]} in the dataset's published layout)"
    )


def read_records(
    path: Path, config: TaskConfig, required: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for a JSON-lines file, or (position, record) for a JSON list.

    A line that does not parse, or a record missing a `required` key, is malformed: skipped
    with one warning that counts them, or an error naming its line under `strict`.
    """
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            lines: list[tuple[int, Any]] = list(enumerate(json.loads(text), start=1))
        except ValueError as e:
            raise MalformedDataError(f"{path} is not valid JSON ({e}); fix or replace the file") from e
    else:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    skipped: list[int] = []
    for number, raw in lines:
        try:
            record = json.loads(raw) if isinstance(raw, str) else raw
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            missing = [k for k in required if k not in record]
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
        except ValueError as e:
            if config.strict:
                raise MalformedDataError(f"{path}:{number}: malformed line ({e})") from e
            skipped.append(number)
            continue
        yield number, record
    if skipped:
        warnings.warn(
            f"{path}: skipped {len(skipped)} malformed line(s) (first: line {skipped[0]}); "
            "--strict makes this an error",
            stacklevel=2,
        )


@dataclass(frozen=True)
class HubSource:
    """Where the same records live on the Hugging Face hub (same field names as the files)."""

    path: str
    name: str | None
    split: str


def load_records(
    config: TaskConfig,
    task: str,
    relative: tuple[str, ...],
    required: tuple[str, ...] = (),
    hub: HubSource | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Records from the first data file found; else from the hub through `datasets`, where the
    network allows; else a `DataNotFoundError` naming every place tried."""
    try:
        path = find_data(config, task, *relative)
    except DataNotFoundError as missing:
        if hub is None:
            raise
        try:
            from datasets import load_dataset
        except ImportError:
            raise DataNotFoundError(f"{missing}; or `pip install datasets` to fetch {hub.path} from the hub") from None
        try:
            rows = load_dataset(hub.path, hub.name, split=hub.split)
        except Exception as e:  # datasets raises many kinds (connection, missing split…)
            raise DataNotFoundError(f"{missing}; the hub copy {hub.path} failed too: {str(e)[:200]}") from e
        for number, record in enumerate(rows, start=1):
            if all(k in record for k in required):
                yield number, dict(record)
        return
    yield from read_records(path, config, required)


def to_number(text: str) -> float | None:
    try:
        value = float(normalise_number(text.strip().lstrip("$").rstrip("%")))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def numbers_match(extracted: str, gold: str, rel_tol: float = 1e-6) -> bool:
    a, b = to_number(extracted), to_number(gold)
    if a is None or b is None:
        return False
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-9)


TaskFactory = Callable[[TaskConfig], Task]


def registry() -> dict[str, TaskFactory]:
    """Every task by name (imports each task module)."""
    from agentnet.tasks import REGISTRY

    return REGISTRY


def make_task(name: str, config: TaskConfig | None = None) -> Task:
    factories = registry()
    factory = factories.get(name)
    if factory is None:
        raise UnknownNameError("task", name, sorted(factories))
    return factory(config or TaskConfig())
