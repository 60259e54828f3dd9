"""One episode: a team on one item, scored — the loop evaluation and every trainer share.

`run_episode` runs the team (the item's private facts go to the agents that hold them), scores
its answer with the task, and returns an `Episode` with what a learner or a report reads: the
trajectory, the score, tokens, cost and calls. Evaluation, the topology trainer, screening,
Optima and Trace all run their items through it; a loop that reads the answer in its own way
first (Trace runs its extraction code over a whole minibatch at once) uses its two halves,
`run_team` and `score_episode`. No other library code calls `task.score` (tests/test_architecture.py).

One place decides what a failure means (`score_episode`): a run whose backend failed is still
scored on what it answered (possibly nothing: the task scores that, usually 0), and
`Episode.failed` says it failed, so a benchmark can record it and a trainer can still learn
that the graph cost tokens for nothing; an answer reader's failure (`read_error`) scores
the answer it gave back (usually "").

`Episode.utility` is the reward every learner maximises: score − λ · what the episode paid /
scale, where it pays in tokens, or in tokens at each model's price (`pay="price"`: a call's cost
× 1,000, so a model priced 1 per 1,000 tokens pays its tokens, a 1.5B priced 1.5 pays 1.5× its
tokens — a learner then trades one strong call against cheap ones at their real price).
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from agentnet.task_types import Item, Score, Task
from agentnet.trajectory import Trajectory

if TYPE_CHECKING:  # a type only: importing the runtime loads LangGraph, which option-only imports skip
    from agentnet.runtime import Team

Pay = Literal["tokens", "price"]
PAY_UNITS: tuple[str, ...] = ("tokens", "price")


@dataclass(frozen=True)
class Episode:
    item: Item
    trajectory: Trajectory
    score: Score
    read_error: str | None = None  # why the answer could not be read from the output (Trace's extraction code)

    @property
    def tokens(self) -> int:
        return self.trajectory.usage.total_tokens

    @property
    def cost(self) -> float:
        return self.trajectory.cost

    @property
    def calls(self) -> int:
        return self.trajectory.calls

    @property
    def failed(self) -> bool:
        """The team's run failed (a backend error); the episode was scored all the same."""
        return self.trajectory.failed

    @property
    def error(self) -> str | None:
        """The run's failure, else the answer reader's, else None."""
        return self.trajectory.error or self.read_error

    def paid(self, pay: Pay = "tokens") -> float:
        """Tokens, or price-weighted tokens (cost × 1,000)."""
        return self.cost * 1000 if pay == "price" else float(self.tokens)

    def utility(self, lambda_tokens: float, token_scale: float, pay: Pay = "tokens") -> float:
        return self.score.value - lambda_tokens * self.paid(pay) / token_scale


async def run_team(team: Team, item: Item, *, gate: asyncio.Semaphore | None = None) -> Trajectory:
    """`team`'s run on `item`, each private fact going to the agent that holds it (a failed run
    comes back with `error` set, not raised); at most as many at once as `gate` allows."""
    slot: AbstractAsyncContextManager[object] = gate if gate is not None else nullcontext()
    async with slot:
        return await team.arun_or_fail(item.question, context=item.private or None)


async def score_episode(
    task: Task, item: Item, trajectory: Trajectory, *, answer: str | None = None, read_error: str | None = None
) -> Episode:
    """The episode of `trajectory` on `item`: the task scores `answer` (default: the run's answer).

    The one place a run becomes a score: a failed run is scored like any other, on whatever it
    answered, and the `Episode` says it failed."""
    output = trajectory.answer if answer is None else answer
    return Episode(item, trajectory, await task.score(item, output), read_error)


async def run_episode(team: Team, task: Task, item: Item, *, gate: asyncio.Semaphore | None = None) -> Episode:
    """Run `team` on `item` and score its answer, both inside `gate` (scoring may run code, so
    it counts against the same limit as the run)."""
    slot: AbstractAsyncContextManager[object] = gate if gate is not None else nullcontext()
    async with slot:
        return await score_episode(task, item, await run_team(team, item))
