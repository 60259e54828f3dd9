"""Benchmark items for a command: the task, its items, and disjoint reproducible splits."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

from agentnet.configs import ItemsConfig
from agentnet.errors import ConfigError
from agentnet.task import Item, Task
from agentnet.tasks import TaskConfig, make_task


def load_items(items: ItemsConfig, task_config: TaskConfig) -> tuple[Task, list[Item]]:
    task = make_task(items.task, task_config)
    stop = None if items.limit is None else items.offset + items.limit
    return task, list(itertools.islice(task.items(items.split), items.offset, stop))


def train_val_split(task: Task, split: str, train: int, val: int, seed: int) -> tuple[list[Item], list[Item]]:
    """Disjoint training and validation items, drawn reproducibly from the first train+val of `split`."""
    if train < 1 or val < 1:
        raise ConfigError(f"--train {train} and --val {val} must be at least 1")
    items: Sequence[Item] = list(itertools.islice(task.items(split), train + val))
    if len(items) < train + val:
        raise ConfigError(f"{task.name}/{split} has {len(items)} items; --train {train} + --val {val} need {train + val}")
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    return shuffled[:train], shuffled[train:]
