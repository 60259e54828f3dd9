"""Benchmark items for a command: the task, its items, and disjoint reproducible splits."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

from rich.table import Table

from agentnet.configs import ItemsConfig
from agentnet.errors import ConfigError
from agentnet.task_types import Item, Task
from agentnet.tasks import REGISTRY, TaskConfig, make_task


def load_items(items: ItemsConfig, task_config: TaskConfig) -> tuple[Task, list[Item]]:
    task = make_task(items.task, task_config)
    stop = None if items.limit is None else items.offset + items.limit
    return task, list(itertools.islice(task.items(items.split), items.offset, stop))


def tasks_table() -> Table:
    """Every registered task with its default roles and decision (`agentnet tasks`)."""
    table = Table("task", "default roles", "decision")
    for name, factory in sorted(REGISTRY.items()):
        t = factory(TaskConfig())
        table.add_row(name, ", ".join(t.roles), t.decision)
    return table


def train_val_split(task: Task, split: str, train: int, val: int, seed: int) -> tuple[list[Item], list[Item]]:
    """Disjoint training and validation items, drawn reproducibly from the first train+val of `split`."""
    if train < 1 or val < 1:
        raise ConfigError(f"--train {train} and --val {val} must be at least 1")
    items: Sequence[Item] = list(itertools.islice(task.items(split), train + val))
    if len(items) < train + val:
        raise ConfigError(
            f"{task.name}/{split} has {len(items)} items; --train {train} + --val {val} need {train + val}"
        )
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    return shuffled[:train], shuffled[train:]
