"""Team runs behind the endpoint (`agentnet serve-team`): admission through a bounded queue, a
timeout per run, one stored result per request, and a drain on shutdown.

Every admitted request becomes a job the service owns (not the HTTP handler), so a client that
hangs up, a timeout or a shutdown never loses a run: each job ends with exactly one result in the
run store — the team's trajectory, or an empty one saying why it has none. Runs are one per served
team and server session (`RunConfig.split` is `serve-team:NAME`); a request is an item of it, its id
the completion id, so `agentnet show RUN ITEM` opens that request's trajectory.

The store lives on its own thread (SQLite connections belong to the thread that opened them), so a
write never blocks the event loop; a write in progress is finished even when its job is cancelled.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import math
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agentnet.configs import TeamConfig
from agentnet.errors import AgentNetError, BackendError, ConfigError, StoreError
from agentnet.evaluation import result_row
from agentnet.llm import LLMBackend
from agentnet.runtime import Team
from agentnet.runtime.team import TeamEvent
from agentnet.store import RunConfig, RunStore
from agentnet.task_types import Item
from agentnet.trajectory import Trajectory
from agentnet.types import Completion, GenerationSettings, Message

# the request's max_tokens, read by every agent call of its run (contextvars follow LangGraph's tasks)
_MAX_TOKENS: contextvars.ContextVar[int | None] = contextvars.ContextVar("agentnet_request_max_tokens", default=None)


class RequestError(AgentNetError):
    """A request the endpoint refuses or cannot answer: an HTTP status and an OpenAI-style error."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.kind, self.code, self.param = status, kind, code, param
        self.headers = dict(headers or {})

    def body(self) -> dict[str, object]:
        return {"error": {"message": str(self), "type": self.kind, "param": self.param, "code": self.code}}


class CappedBackend:
    """A backend whose calls ask for at most the current request's max_tokens (the agent's own
    setting applies when it is lower)."""

    def __init__(self, inner: LLMBackend):
        self.inner = inner
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:  # model, max_concurrency, list_models … of the wrapped backend
        return getattr(self.inner, name)

    async def complete(self, messages: Sequence[Message], settings: GenerationSettings, **kwargs: Any) -> Completion:
        cap = _MAX_TOKENS.get()
        if cap is not None and settings.max_tokens > cap:
            settings = replace(settings, max_tokens=cap)
        return await self.inner.complete(messages, settings, **kwargs)


def capped(backends: Mapping[str, LLMBackend]) -> dict[str, LLMBackend]:
    return {name: CappedBackend(b) for name, b in backends.items()}


@dataclass
class ServedTeam:
    """One model name of the endpoint: a team, how it was configured, and its run in the store."""

    name: str
    team: Team
    config: TeamConfig
    extract: Callable[[str], str]
    task: str = ""  # the task whose roles, decision and extraction it uses ("" free-form)
    models: tuple[str, ...] = ()
    run_id: str = ""

    def describe(self) -> dict[str, object]:
        return {
            "topology": self.config.topology,
            "agents": self.config.agents,
            "rounds": self.config.rounds,
            "task": self.task or None,
            "models": list(self.models),
            "run_id": self.run_id or None,
        }


@dataclass(frozen=True)
class Limits:
    concurrency: int = 4  # team runs at once
    queue: int = 16  # admitted requests waiting for a run past `concurrency`
    timeout_s: float = 600.0  # per request, waiting included
    drain_s: float = 30.0  # on shutdown: how long admitted requests get to finish

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.queue < 0 or not self.timeout_s > 0 or not self.drain_s >= 0:
            raise ConfigError(f"limits {self} are out of range: concurrency >= 1, queue >= 0, timeout > 0, drain >= 0")


@dataclass
class Outcome:
    """What a job ended with: its trajectory, the extracted answer and the HTTP status it maps to."""

    team: ServedTeam
    item_id: str
    trajectory: Trajectory
    answer: str
    status: int = 200
    recorded: bool = False
    store_error: str | None = None


@dataclass
class Job:
    team: ServedTeam
    query: str
    item_id: str
    position: int
    max_tokens: int | None
    events: asyncio.Queue[TeamEvent] | None  # streaming: the team's events as they happen
    outcome: asyncio.Future[Outcome] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    async def stream(self, keepalive_s: float) -> AsyncIterator[TeamEvent | None]:
        """The team's events until the job ends; None every `keepalive_s` of silence."""
        assert self.events is not None
        while not (self.outcome.done() and self.events.empty()):
            getter = asyncio.ensure_future(self.events.get())
            waiters: set[asyncio.Future[Any]] = {getter, self.outcome}
            done, _ = await asyncio.wait(waiters, timeout=keepalive_s, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                yield getter.result()
                continue
            getter.cancel()
            if not done:
                yield None


class Recorder:
    """The run store on one thread of its own: a run per served team, a result per request."""

    def __init__(self, path: Path):
        self.path = path
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="agentnet-store")
        self._store: RunStore = self._pool.submit(RunStore, path).result()

    def open_run(self, config: RunConfig) -> str:
        return self._pool.submit(self._store.create_run, config, 0).result()

    async def add(self, run_id: str, job: Job, trajectory: Trajectory, extracted: str) -> None:
        row = result_row(job.position, Item(job.item_id, job.query, ""), trajectory, 0.0, extracted)
        future = asyncio.wrap_future(self._pool.submit(self._store.add_result, run_id, row, grow=True))
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait({future})  # a write under way is finished, never left half-made
            raise

    def close(self, statuses: Mapping[str, tuple[str, str | None]]) -> None:
        def finish() -> None:
            for run_id, (status, reason) in statuses.items():
                self._store.set_status(run_id, status, reason)
            self._store.close()

        try:
            self._pool.submit(finish).result()
        finally:
            self._pool.shutdown()


class TeamService:
    """Admits, runs and records requests for the served teams (see the module docstring)."""

    def __init__(self, teams: Sequence[ServedTeam], limits: Limits = Limits(), recorder: Recorder | None = None):
        self.teams = {t.name: t for t in teams}
        self.limits = limits
        self.recorder = recorder
        self._slots: asyncio.Semaphore | None = None
        self._jobs: dict[asyncio.Task[None], Job] = {}
        self._waiting = self._running = 0
        self._closing = False
        self._positions = {t.name: itertools.count() for t in teams}
        self._durations: deque[float] = deque(maxlen=32)
        self.interrupted = 0  # jobs a shutdown cut short (each recorded with the reason)

    @property
    def load(self) -> tuple[int, int]:
        """(running, waiting) requests."""
        return self._running, self._waiting

    def team(self, name: str) -> ServedTeam:
        served = self.teams.get(name)
        if served is None:
            raise RequestError(
                404,
                f"model {name!r} is not served here; served teams: {', '.join(self.teams)}",
                code="model_not_found",
                param="model",
            )
        return served

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: the recent mean run time per queue turn."""
        mean = sum(self._durations) / len(self._durations) if self._durations else 1.0
        turns = math.ceil((self._waiting + 1) / self.limits.concurrency)
        return max(1, min(600, math.ceil(mean * turns)))

    def submit(self, served: ServedTeam, query: str, max_tokens: int | None = None, *, stream: bool = False) -> Job:
        """Admit a request (429 past the queue, 503 while shutting down) and start its job."""
        if self._closing:
            raise RequestError(
                503,
                "the server is shutting down; retry on another server",
                kind="server_error",
                code="server_shutting_down",
            )
        if self._running + self._waiting >= self.limits.concurrency + self.limits.queue:
            raise RequestError(
                429,
                f"{self._running} requests are running and {self._waiting} waiting (the most this "
                "server queues); retry after the Retry-After seconds",
                kind="rate_limit_exceeded",
                code="rate_limit_exceeded",
                headers={"Retry-After": str(self.retry_after())},
            )
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limits.concurrency)
        job = Job(
            served,
            query,
            f"chatcmpl-{uuid.uuid4().hex[:24]}",
            next(self._positions[served.name]),
            max_tokens,
            asyncio.Queue() if stream else None,
        )
        self._waiting += 1  # counted now: the next request sees this one even before its task starts
        task = asyncio.get_running_loop().create_task(self._run(job, self._slots))
        self._jobs[task] = job
        task.add_done_callback(self._jobs.pop)
        return job

    async def _run(self, job: Job, slots: asyncio.Semaphore) -> None:
        started = time.perf_counter()
        waiting, trajectory, status = True, None, 200
        try:
            async with asyncio.timeout(self.limits.timeout_s), slots:  # the wait for a slot counts too
                self._waiting, self._running, waiting = self._waiting - 1, self._running + 1, False
                try:
                    trajectory = await self._execute(job)
                    self._durations.append(time.perf_counter() - started)
                finally:
                    self._running -= 1
        except TimeoutError:
            trajectory, status = (
                _failed(
                    job, f"the team did not answer within {self.limits.timeout_s:g} s (the server's --request-timeout)"
                ),
                504,
            )
        except asyncio.CancelledError:
            self.interrupted += 1
            trajectory, status = _failed(job, "the server shut down before the team answered"), 503
        except ConfigError as e:  # a configuration the team cannot run with (e.g. an agent's tool on this query)
            trajectory, status = _failed(job, str(e)), 400
        except AgentNetError as e:  # the models or a tool failed past what the run records itself
            trajectory, status = _failed(job, str(e)), 502
        except Exception as e:  # noqa: BLE001 - a bug: recorded and answered as one line, never a traceback
            trajectory, status = _failed(job, f"{type(e).__name__}: {e}"), 500
        finally:
            if waiting:
                self._waiting -= 1
        assert trajectory is not None
        if status == 200 and trajectory.error and not trajectory.answer.strip():
            status = 502  # every call the answer needed failed: the models', not the request's, fault
        answer = job.team.extract(trajectory.answer) if trajectory.answer.strip() else ""
        outcome = Outcome(job.team, job.item_id, trajectory, answer, status)
        try:
            if self.recorder is not None and job.team.run_id:
                try:
                    await self.recorder.add(job.team.run_id, job, trajectory, answer)
                    outcome.recorded = True
                except StoreError as e:
                    outcome.store_error = str(e)
        finally:
            if not job.outcome.done():
                job.outcome.set_result(outcome)

    async def _execute(self, job: Job) -> Trajectory:
        token = _MAX_TOKENS.set(job.max_tokens)
        try:
            if job.events is None:
                return await job.team.team.arun_or_fail(job.query)
            try:
                async for event in job.team.team.astream(job.query):
                    if event.trajectory is not None:
                        return event.trajectory
                    job.events.put_nowait(event)
            except BackendError as e:
                return _failed(job, str(e))
            raise AgentNetError("the team's stream ended without a result")
        finally:
            _MAX_TOKENS.reset(token)

    async def drain(self, deadline_s: float | None = None) -> None:
        """Admit nothing more; give admitted requests `deadline_s` (default: the limit's) to finish,
        then cut the rest short — each is recorded, with the reason, before this returns."""
        self._closing = True
        tasks = set(self._jobs)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self.limits.drain_s if deadline_s is None else deadline_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def statuses(self) -> dict[str, tuple[str, str | None]]:
        """What each served run is marked when the server stops."""
        reason = f"the server stopped with {self.interrupted} request(s) unanswered (recorded as failed)"
        status = ("interrupted", reason) if self.interrupted else ("finished", None)
        return {t.run_id: status for t in self.teams.values() if t.run_id}


def _failed(job: Job, why: str) -> Trajectory:
    """A result for a request whose team gave none: the graph it would have run, no messages."""
    return Trajectory(job.query, job.team.team.topology.graph_for(job.query), [], "", 0, error=why)
