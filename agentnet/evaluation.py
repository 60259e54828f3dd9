"""Evaluation runs: a team on a task's items, each result stored the moment it is scored.

Resuming a run skips every item already scored without error, so a killed run loses
nothing and duplicates nothing; items whose run had failed are tried again. With a
`health` check, an item that fails is first checked against the server: when the server
is dead the run stops as "interrupted" (that item unrecorded) and `ServerDiedError` says why.

`bench_run` holds a run from its creation: whatever stops it before `evaluate` finishes — a server
that never answers its first request, a failed start, Ctrl-C — leaves it "failed" or "interrupted"
with the reason, never "running".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from agentnet.episodes import run_episode
from agentnet.errors import AgentNetError, ConfigError, ServerDiedError, StoreError
from agentnet.replicas import calls_per_replica
from agentnet.runtime import Team
from agentnet.store import ResultRow, RunConfig, RunStore, RunSummary
from agentnet.task_types import Item, Task
from agentnet.trajectory import Trajectory


def result_row(position: int, item: Item, trajectory: Trajectory, score_value: float, extracted: str) -> ResultRow:
    """The stored result of one item: spent tokens (every call) plus the call ledger (cache hits,
    calls cut off at max_tokens, tokens the servers actually served)."""
    served = trajectory.served_usage
    return ResultRow(
        item_id=item.id,
        position=position,
        answer=trajectory.answer,
        gold=item.answer,
        extracted=extracted,
        score=score_value,
        prompt_tokens=trajectory.usage.prompt_tokens,
        completion_tokens=trajectory.usage.completion_tokens,
        agent_tokens={a: [u.prompt_tokens, u.completion_tokens] for a, u in trajectory.usage_by_agent().items()},
        latency_s=trajectory.wall_s,
        edges=trajectory.graph.to_dict(),
        error=trajectory.error,
        trajectory=trajectory.to_dict(),
        calls=trajectory.calls,
        cached_calls=trajectory.cached_calls,
        cut_off_calls=trajectory.cut_off_calls,
        unknown_finish_calls=trajectory.unknown_finish_calls,
        served_prompt_tokens=served.prompt_tokens,
        served_completion_tokens=served.completion_tokens,
        cost=trajectory.cost,
        replica_calls=calls_per_replica(m.replica for m in trajectory.messages if not m.cached) or None,
    )


def pending(items: Sequence[Item], store: RunStore, run_id: str) -> list[tuple[int, Item]]:
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise ConfigError("the task yielded duplicate item ids; a resumable run needs unique ids")
    done = store.finished_items(run_id)
    return [(pos, item) for pos, item in enumerate(items) if item.id not in done]


async def evaluate(
    team: Team,
    task: Task,
    items: Sequence[Item],
    store: RunStore,
    run_id: str,
    *,
    concurrency: int = 4,
    on_result: Callable[[ResultRow], None] | None = None,
    health: Callable[[], str | None] | None = None,
) -> RunSummary:
    """Run and score every not-yet-finished item, storing each result as it is produced.

    `health()` returns None while the server is fine, else why not (one line, then the log's
    tail); it is called, off the event loop, after an item's run fails. A dead server stops
    the run: it is marked "interrupted" and `ServerDiedError` is raised; items that failed
    because of it are not stored, so a resume runs them again.
    """
    if concurrency < 1:
        raise ConfigError(f"--concurrency {concurrency} must be at least 1")
    gate = asyncio.Semaphore(concurrency)
    server = _Health(health) if health is not None else None

    async def one(position: int, item: Item) -> None:
        episode = await run_episode(team, task, item, gate=gate)
        if episode.failed and server is not None and (reason := await server.check()):
            raise ServerDiedError(reason, run_id=run_id)
        row = result_row(position, item, episode.trajectory, episode.score.value, episode.score.extracted)
        store.add_result(run_id, row)
        if on_result:
            on_result(row)

    store.set_status(run_id, "running")
    tasks = [asyncio.ensure_future(one(pos, item)) for pos, item in pending(items, store, run_id)]
    try:
        await asyncio.gather(*tasks)
    except BaseException as e:
        for t in tasks:  # stop the rest: what finished is stored, the rest resumes later
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        store.set_status(run_id, "interrupted", reason=why(e))
        raise
    store.set_status(run_id, "finished")
    return store.summary(run_id)


class _Health:
    """One health probe at a time (concurrent failures share it); a dead server stays dead.

    A server that is dying may still accept a connection for a moment after the request that
    failed, so a healthy answer is checked once more after `settle_s` before the failure is
    recorded as the item's own."""

    def __init__(self, probe: Callable[[], str | None], settle_s: float = 1.0):
        self._probe, self._lock, self._settle_s = probe, asyncio.Lock(), settle_s
        self._dead: str | None = None

    async def check(self) -> str | None:
        async with self._lock:
            if self._dead is None:
                self._dead = await asyncio.to_thread(self._probe)
            if self._dead is None:
                await asyncio.sleep(self._settle_s)
                self._dead = await asyncio.to_thread(self._probe)
            return self._dead


def why(error: BaseException) -> str:
    """One line saying why a run stopped."""
    if isinstance(error, (KeyboardInterrupt, asyncio.CancelledError)):
        return "interrupted (Ctrl-C or cancelled)"
    if isinstance(error, SystemExit):
        return f"stopped (exit {error.code})"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if not isinstance(error, AgentNetError):  # a bug: its type says more than its message
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text[:500]


@contextmanager
def bench_run(store: RunStore, config: RunConfig, total_items: int, resume: str | None = None) -> Iterator[str]:
    """The run to evaluate: `resume`, or a new one for `config`. Whatever ends the block while the
    run is still "running" marks it: "interrupted" for Ctrl-C and signals (resume it), "failed" for
    anything else, both with the reason."""
    run_id = resume or store.create_run(config, total_items)
    try:
        yield run_id
    except BaseException as e:
        interrupted = isinstance(e, (KeyboardInterrupt, SystemExit, asyncio.CancelledError))
        try:
            if store.run(run_id).status == "running":  # evaluate marks what it stops itself
                store.set_status(run_id, "interrupted" if interrupted else "failed", reason=why(e))
        except StoreError:
            pass  # the store cannot be written either: the error that stopped the run is the one to show
        raise
