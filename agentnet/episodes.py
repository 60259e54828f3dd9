"""One episode: a team on one item, scored — the loop evaluation and every trainer share.

`run_episode` runs the team (the item's private facts go to the agents that hold them), scores
its answer with the task, and returns an `Episode` with what a learner or a report reads: the
trajectory, the score, tokens, cost and calls. One place decides what a failure means: a run
whose backend failed is still scored (its answer may be empty: the task scores that, usually 0),
and `Episode.failed` says it failed, so a benchmark can record it and a trainer can still learn
that the graph cost tokens for nothing.

`Episode.utility` is the reward every learner maximises: score − λ · what the episode paid /
scale, where it pays in tokens, or in tokens at each model's price (`pay="price"`: a call's cost
× 1,000, so a model priced 1 per 1,000 tokens pays its tokens, a 1.5B priced 1.5 pays 1.5× its
tokens — a learner then trades one strong call against cheap ones at their real price).
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Literal

from agentnet.runtime import Team
from agentnet.task import Item, Score, Task
from agentnet.trajectory import Trajectory

Pay = Literal["tokens", "price"]
PAY_UNITS: tuple[str, ...] = ("tokens", "price")


@dataclass(frozen=True)
class Episode:
    item: Item
    trajectory: Trajectory
    score: Score

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
        return self.trajectory.failed

    def paid(self, pay: Pay = "tokens") -> float:
        """Tokens, or price-weighted tokens (cost × 1,000)."""
        return self.cost * 1000 if pay == "price" else float(self.tokens)

    def utility(self, lambda_tokens: float, token_scale: float, pay: Pay = "tokens") -> float:
        return self.score.value - lambda_tokens * self.paid(pay) / token_scale


async def run_episode(
    team: Team, task: Task, item: Item, *, gate: asyncio.Semaphore | None = None
) -> Episode:
    """Run `team` on `item` (at most as many at once as `gate` allows) and score its answer."""
    slot: AbstractAsyncContextManager[object] = gate if gate is not None else nullcontext()
    async with slot:
        trajectory = await team.arun_or_fail(item.question, context=item.meta.get("private"))
    return Episode(item, trajectory, await task.score(item, trajectory.answer))
