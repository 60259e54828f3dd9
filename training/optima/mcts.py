"""iDPO's MCTS-inspired pair generation over conversation turns (Optima, §3.3).

Each item's conversations form a tree: a node is a conversation prefix (its last turn's
message), its value the mean reward of every finished conversation through it (backed up
as conversations are added). Rounds: *select* nodes to expand — the top `top` by value,
drawn by softmax over values, skipping a node whose message is within normalised edit
distance `min_distance` of one already drawn — then *expand* each with `children` new
continuations rolled out to the end (the caller generates them), and back up. A DPO pair
comes from any node with two or more children whose best child's value exceeds
`min_best` and beats the worst child by more than `min_gap`: same prompt (the next turn's),
chosen = the best child's message, rejected = the worst's.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from agentnet.trajectory import MessageRecord
from agentnet.types import Message, Usage


@dataclass(eq=False)
class Node:
    depth: int
    agent: str = ""
    output: str = ""  # the turn that led here ("" at the root)
    prompt: tuple[Message, ...] = ()  # the prompt that produced `output`
    usage: Usage = field(default_factory=Usage)
    rewards: list[float] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None

    @property
    def value(self) -> float:
        return sum(self.rewards) / len(self.rewards) if self.rewards else 0.0

    def path(self) -> list[Node]:
        """The turns from the first to this one."""
        nodes, node = [], self
        while node.parent is not None:
            nodes.append(node)
            node = node.parent
        return nodes[::-1]


class Tree:
    """The conversations sampled for one item."""

    def __init__(self) -> None:
        self.root = Node(depth=0)

    def add(self, said: Sequence[MessageRecord], reward: float) -> Node:
        """Add a finished conversation (its turns in order) and back its reward up the path."""
        node = self.root
        node.rewards.append(reward)
        for turn in said:
            child = next((c for c in node.children if c.agent == turn.agent and c.output == turn.output), None)
            if child is None:
                child = Node(node.depth + 1, turn.agent, turn.output, turn.prompt, turn.usage, parent=node)
                node.children.append(child)
            child.rewards.append(reward)
            node = child
        return node

    def nodes(self) -> Iterator[Node]:
        stack = list(self.root.children)
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.children)


def edit_distance(a: str, b: str) -> float:
    """Levenshtein distance over characters, divided by the longer length (0 = same, 1 = nothing shared)."""
    if a == b:
        return 0.0
    if not a or not b:
        return 1.0
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1] / max(len(a), len(b))


def select(
    tree: Tree, k: int, rng: random.Random, *, top: int = 10, min_distance: float = 0.25, temperature: float = 1.0
) -> list[Node]:
    """Up to k expandable nodes (not conversation ends), drawn as described in the module doc."""
    pool = sorted((n for n in tree.nodes() if n.children), key=lambda n: -n.value)[:top]
    chosen: list[Node] = []
    while pool and len(chosen) < k:
        weights = [math.exp((n.value - pool[0].value) / temperature) for n in pool]
        node = rng.choices(pool, weights)[0]
        pool.remove(node)
        if all(edit_distance(node.output, c.output) >= min_distance for c in chosen):
            chosen.append(node)
    return chosen


@dataclass(frozen=True)
class Pair:
    agent: str
    prompt: tuple[Message, ...]
    chosen: str
    rejected: str
    chosen_value: float
    rejected_value: float


def pairs(tree: Tree, *, min_best: float = 0.2, min_gap: float = 0.45) -> list[Pair]:
    out = []
    for node in [tree.root, *tree.nodes()]:
        if len(node.children) < 2:
            continue
        ranked = sorted(node.children, key=lambda c: c.value)
        worst, best = ranked[0], ranked[-1]
        if best.value > min_best and best.value - worst.value > min_gap:
            out.append(Pair(best.agent, best.prompt, best.output, worst.output, best.value, worst.value))
    return out


def keep_top(found: Sequence[Pair], fraction: float) -> list[Pair]:
    ranked = sorted(found, key=lambda p: -p.chosen_value)
    return ranked[: math.ceil(len(ranked) * fraction)]
