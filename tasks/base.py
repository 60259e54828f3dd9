"""What every task shares: its options, finding its data, its splits, numeric scoring.

The registry of tasks by name is `agentnet.tasks.registry` (it imports every task module,
which import this one, so this module imports none of them).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from agentnet.answers import normalise_number
from agentnet.checks import check_fields
from agentnet.errors import ConfigError
from agentnet.tasks.hub import HubSource, hub_records
from agentnet.tasks.records import DataNotFoundError, MalformedDataError, Parse, T, read_records

DATA_ENV = "AGENTNET_DATA_DIR"

__all__ = [
    "DATA_ENV",
    "DataDirError",
    "DataNotFoundError",
    "FileTask",
    "HubSource",
    "MalformedDataError",
    "TaskConfig",
    "check_split",
    "data_roots",
    "find_data",
    "numbers_match",
    "to_number",
]


class DataDirError(ConfigError):
    """A `--data-dir` that is not an existing directory."""


@dataclass(frozen=True)
class TaskConfig:
    """Options every task accepts. Parsed from CLI flags at the edge."""

    data_dir: Path | None = field(
        default=None,
        metadata={"help": f"directory of benchmark files (DIR/<task>/...), searched before ${DATA_ENV}"},
    )
    strict: bool = field(
        default=False,
        metadata={"help": "a malformed data line is an error naming its file and line, not skipped with a count"},
    )
    seed: int = field(default=0, metadata={"help": "seed of generated tasks (asymmetric)"})
    hub: bool = field(
        default=True,
        metadata={"help": "with no data file found, fetch the split from the Hugging Face hub (needs `datasets`)"},
    )
    math_verify: bool = field(
        default=False,
        metadata={
            "help": "MATH-500: also accept answers HF's math-verify proves algebraically equal "
            "(e.g. 1/sqrt(3) = sqrt(3)/3); needs the `math` extra of agentnet"
        },
    )

    def __post_init__(self) -> None:
        check_fields(self)
        # checked here, not when the first item is read: a mistyped --data-dir must not fall
        # through silently to $AGENTNET_DATA_DIR and be recorded with the run
        if self.data_dir is None:
            return
        path = Path(self.data_dir).expanduser()
        if not path.is_dir():
            what = "is not a directory" if path.exists() else "does not exist"
            raise DataDirError(
                f"data directory {path} {what}; pass --data-dir an existing directory laid out as "
                f"DIR/<task>/<file>, or leave it out to use ${DATA_ENV}"
            )
        object.__setattr__(self, "data_dir", path)


def data_roots(config: TaskConfig) -> list[Path]:
    """Where data files are looked for, in order: --data-dir, then $AGENTNET_DATA_DIR."""
    roots = []
    if config.data_dir is not None:
        roots.append(Path(config.data_dir))
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


def check_split(task: str, split: str, splits: Iterable[str], aliases: Mapping[str, str] | None = None) -> str:
    """The canonical name of `split` (aliases resolved), or an error listing the task's splits."""
    aliases = aliases or {}
    known = list(splits)
    canonical = aliases.get(split, split)
    if canonical not in known:
        listed = ", ".join([*known, *(f"{alias} (= {target})" for alias, target in aliases.items())])
        raise ConfigError(f"{task} has no split {split!r}; splits: {listed}")
    return canonical


@dataclass
class FileTask:
    """A task whose splits are data files under the data directory, or hub datasets.

    Subclasses name their `splits` (split -> candidate paths relative to a data root, first
    found wins), optional `aliases` (another name -> a split), optional `hub` copies of
    splits, and read records with `self.records(split, parse)`.
    """

    config: TaskConfig = field(default_factory=TaskConfig)
    name: ClassVar[str] = ""
    splits: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    aliases: ClassVar[Mapping[str, str]] = {}
    hub: ClassVar[Mapping[str, HubSource]] = {}
    container_key: ClassVar[str | None] = None  # a JSON file holding {container_key: [records]}

    def canonical_split(self, split: str) -> str:
        return check_split(self.name, split, self.splits, self.aliases)

    def data_path(self, split: str) -> Path:
        """The split's data file (`split` canonical)."""
        return find_data(self.config, self.name, *self.splits[split])

    def records(self, split: str, parse: Parse[T]) -> Iterator[T]:
        """`parse(number, record)` over the split's file, else its hub copy (see `read_records`)."""
        try:
            path = self.data_path(split)
        except DataNotFoundError as missing:
            source = self.hub.get(split)
            if source is None or not self.config.hub:
                raise
            yield from hub_records(source, self.config, parse, missing)
            return
        yield from read_records(path, self.config, parse, container_key=self.container_key)


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
