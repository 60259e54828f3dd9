"""Core task types: what a benchmark item is, how an answer scores, the `Task` protocol.

Tasks (in `agentnet.tasks`) load items, format prompts, extract answers and score them;
the runtime and the evaluation runner only see these types.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable, TypeGuard

from agentnet.errors import ConfigError
from agentnet.graph import DecisionKind


Private = tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Item:
    """One benchmark item.

    `private` holds facts only some agents see (an information-asymmetric task): `private[i]`
    is the list of facts of the team's i-th agent, shown to it alone (one per line, under
    "Your private information"); agents past the end of it get none, and more lists than the
    team has agents is an error when the team runs. Empty for ordinary tasks. Lists are
    accepted and stored as tuples.
    """

    id: str  # stable within the task and split (used to resume runs)
    question: str  # the full prompt the team receives
    answer: str  # the gold answer, as text
    meta: dict[str, Any] = field(default_factory=dict)  # choices, tests, the task's own facts…
    private: Private = ()  # per agent position: the facts only that agent sees

    def __post_init__(self) -> None:
        if "private" in self.meta:
            raise ConfigError(
                f"item {self.id}: private facts go in Item.private (per agent: a list of facts), not meta['private']"
            )
        if isinstance(self.private, (str, bytes)) or any(isinstance(p, (str, bytes)) for p in self.private):
            raise ConfigError(
                f"item {self.id}: private={self.private!r} must be one list of facts per agent, "
                "e.g. [['x = 4'], ['y = 2']]"
            )
        object.__setattr__(self, "private", tuple(tuple(str(f) for f in facts) for facts in self.private))


@dataclass(frozen=True)
class Score:
    value: float  # the task's metric in [0, 1] (accuracy, F1, pass@1)
    extracted: str  # what was read from the output
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def correct(self) -> bool:
        return self.value >= 1.0


@runtime_checkable
class Task(Protocol):
    # read-only, so a class attribute (the tasks' ClassVars) satisfies them as well as an instance's
    @property
    def name(self) -> str: ...

    @property
    def roles(self) -> tuple[str, ...]:
        """The default team roles for this task."""
        ...

    @property
    def decision(self) -> DecisionKind:
        """The default decision node."""
        ...

    def items(self, split: str = "test") -> Iterator[Item]:
        """Every item of the split, in a fixed order."""
        ...

    def extract(self, output: str) -> str:
        """The answer inside a team's output."""
        ...

    async def score(self, item: Item, output: str) -> Score:
        """Score a team's output (async: some tasks run code)."""
        ...


CodeCheck = Callable[[str, str], Awaitable[tuple[bool, str]]]  # (code, query) -> (passed, report)


@runtime_checkable
class CodeTask(Task, Protocol):
    """A task whose answers are code: it can check a candidate before the answer is final.

    The `code_writer` decision needs its `code_check()`; team assembly asks `is_code_task`.
    """

    def code_check(self) -> CodeCheck:
        """A check of (code, the query it answers) -> (passed, a report for the model)."""
        ...


def is_code_task(task: object) -> TypeGuard[CodeTask]:
    """Whether `task` is a `CodeTask` (has the Task members and a callable `code_check`)."""
    return isinstance(task, CodeTask) and callable(getattr(task, "code_check", None))
