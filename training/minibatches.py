"""Minibatches for step-based trainers: the items in one seeded shuffled order, cycled, so
step N's batch is the same after a resume."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Minibatches(Generic[T]):
    def __init__(self, items: Sequence[T], size: int, seed: int):
        self.items, self.size = list(items), size
        self._order = list(range(len(self.items)))
        random.Random(seed).shuffle(self._order)

    def at(self, step: int) -> list[T]:
        """Step `step`'s batch: the next `size` items of the cycled order."""
        start = step * self.size
        return [self.items[self._order[(start + k) % len(self._order)]] for k in range(self.size)]
