"""`Team`: run a topology's graphs on LLM backends, one query or many, with streaming and resume."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from agentnet.answers import extract_answer
from agentnet.decisions import decision_info
from agentnet.errors import BackendError, ConfigError
from agentnet.graph import CommGraph, ReceiveGate, StopGate, Topology, named_models
from agentnet.agents import DEFAULT_MODEL_KEY
from agentnet.llm import LLMBackend
from agentnet.members import check_price
from agentnet.runtime.compile import COMPILED, state_reader, step_limit
from agentnet.runtime.node import Extract, RunContext, RunState
from agentnet.task_types import CodeCheck
from agentnet.tools import ToolRunner
from agentnet.trajectory import MessageRecord, Trajectory

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

Context = (
    Mapping[str, str | Sequence[str]] | Sequence[str | Sequence[str]]
)  # private facts per agent name, or by position


@dataclass(frozen=True)
class TeamEvent:
    """A streamed event: start / delta / finish of an agent call, then one `done`."""

    event: str
    agent: str = ""
    round: int = -1
    text: str = ""
    usage: tuple[int, int] = (0, 0)
    error: str | None = None
    status: str = ""  # a `tool` event: how the agent's tool ended (agentnet.tools.ToolStatus)
    trajectory: Trajectory | None = None


class Team:
    """A team of agents: a topology (or one fixed graph) plus the backends its agents name.

    `backends` is one backend (used for every agent, whatever model it names) or a mapping
    from the model names in the agents' specs; a mapping's `"default"` entry answers for the
    models it does not list. `prices` (per 1,000 tokens, by model name) turn
    each call's tokens into a cost; `tools` runs the agents' tools (`agentnet.tools`; the team
    assembly wires the sandbox-backed runner). With `checkpoint` (an SQLite path, or any LangGraph
    `BaseCheckpointSaver`), every superstep is saved under the run's thread id and a run
    killed mid-way resumes with `arun(query, thread_id=…)`, re-running only the agents that
    had not finished. `async with Team(...) as team:` opens the checkpointer once for every
    run inside it; a team used without `async with` opens it for each run. A `receive_gate`
    (CommFormer's temporal gating) decides per agent and round whether it reads its senders at
    all; a `stop_gate` (a learned stop head) decides after each round whether the team goes on.
    """

    def __init__(
        self,
        topology: CommGraph | Topology,
        backends: LLMBackend | Mapping[str, LLMBackend],
        *,
        extract: Extract = extract_answer,
        early_stop: bool = False,
        code_check: CodeCheck | None = None,
        checkpoint: str | Path | BaseCheckpointSaver | None = None,
        receive_gate: ReceiveGate | None = None,
        stop_gate: StopGate | None = None,
        prices: Mapping[str, float] | None = None,
        tools: ToolRunner | None = None,
    ):
        self.topology: Topology = topology  # a CommGraph is the topology of itself
        # a topology that brings its own gates (a trained one, a cascade's rule) runs with them unless told otherwise
        receive_gate = receive_gate or topology.inference_gate
        stop_gate = stop_gate or topology.inference_stop_gate
        self.backends = {DEFAULT_MODEL_KEY: backends} if not isinstance(backends, Mapping) else dict(backends)
        for model, price in (prices or {}).items():
            check_price(model, price)
        self.context = RunContext(
            self.backends,
            extract,
            early_stop,
            code_check,
            receive_gate,
            stop_gate,
            fallback=self.backends.get(DEFAULT_MODEL_KEY),
            prices=dict(prices or {}),
            tools=tools,
        )
        self.checkpoint = Path(checkpoint) if isinstance(checkpoint, (str, Path)) else None
        self.saver = checkpoint if checkpoint is not None and self.checkpoint is None else None
        self._open: AsyncExitStack | None = None  # inside `async with`: what closes the checkpointer
        self._held: BaseCheckpointSaver | None = None  # … and the checkpointer it opened

    async def __aenter__(self) -> Team:
        if self._open is not None:
            raise ConfigError("this Team is already open (async with); enter it once and share it")
        stack = AsyncExitStack()
        self._held = await stack.enter_async_context(self._connect())
        self._open = stack
        return self

    async def __aexit__(self, *exc: object) -> None:
        stack, self._open, self._held = self._open, None, None
        if stack is not None:
            await stack.aclose()

    # -- graphs ------------------------------------------------------------------------------
    def _check(self, graph: CommGraph) -> None:
        if self.context.fallback is None:
            missing = sorted(named_models(graph) - set(self.backends))
            if missing:
                raise ConfigError(
                    f"agents name model(s) {', '.join(missing)}; the team has backends for "
                    f"{', '.join(self.backends)}: give one per model"
                )
        tools = sorted({a.tool for a in graph.agents} - {"none"})
        if tools and self.context.tools is None:
            raise ConfigError(
                f"agents use the tool(s) {', '.join(tools)} and the team has no tool runner; "
                "pass tools= (agentnet.assembly wires the sandbox's)"
            )
        info = decision_info(graph.decision.kind)
        if graph.decide and info.needs_code_check and self.context.code_check is None:
            raise ConfigError(f"decision {info.kind!r} needs code_check= (the task's example tests)")

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[BaseCheckpointSaver | None]:
        """The checkpointer: the one given, or an SQLite one on the given path, or None."""
        if self.saver is not None or self.checkpoint is None:
            given: BaseCheckpointSaver | None = self.saver  # type: ignore[assignment]
            yield given
            return
        from agentnet.runtime.saver import open_sqlite  # langgraph's sqlite saver: only when used

        with open_sqlite(self.checkpoint) as saver:
            yield saver

    @asynccontextmanager
    async def _checkpointer(self) -> AsyncIterator[BaseCheckpointSaver | None]:
        """The checkpointer for one run: the team's open one inside `async with`, else opened
        for this run (once: its saved state is read and its steps written through it)."""
        if self._open is not None:
            yield self._held
            return
        async with self._connect() as saver:
            yield saver

    def _runnable(self, graph: CommGraph, saver: BaseCheckpointSaver | None) -> tuple[Any, dict[str, Any]]:
        """The compiled graph (shared, see `COMPILED`) and the keyword arguments to run it with."""
        self._check(graph)
        compiled = COMPILED.get(graph)
        if saver is None:
            return compiled, {"context": self.context}
        # "sync": each step is on disk before the next starts, so even SIGKILL loses at
        # most the calls in flight (LangGraph rejects durability without a checkpointer)
        return compiled.copy(update={"checkpointer": saver}), {"context": self.context, "durability": "sync"}

    @staticmethod
    async def _saved_state(saver: BaseCheckpointSaver | None, thread_id: str) -> RunState | None:
        """The thread's saved state, read with LangGraph's `aget_state` (which replays the
        state's delta channels), before the graph that ran is known (see `state_reader`)."""
        if saver is None:
            return None
        reader = state_reader().copy(update={"checkpointer": saver})
        snapshot = await reader.aget_state({"configurable": {"thread_id": thread_id}})
        state = cast(RunState, snapshot.values)  # LangGraph types a snapshot's values as a plain dict
        return state or None

    # -- running -----------------------------------------------------------------------------
    async def _prepare(
        self, query: str, thread_id: str | None, context: Context | None, saver: BaseCheckpointSaver | None
    ) -> tuple[CommGraph, Any, dict]:
        saved = await self._saved_state(saver, thread_id) if thread_id else None  # a new thread has none
        thread_id = thread_id or uuid.uuid4().hex
        if saved and saved.get("graph"):
            graph = CommGraph.from_dict(saved["graph"])
            start: Any = None  # resume: LangGraph continues from the last checkpoint
            if saved.get("query") != query:
                raise ConfigError(f"thread {thread_id} belongs to another query: {saved.get('query')!r}")
        else:
            graph = self.topology.graph_for(query)
            if context is not None and not isinstance(context, Mapping):  # by agent position
                if len(context) > len(graph.names):
                    raise ConfigError(f"{len(context)} private contexts for {len(graph.names)} agents; use more agents")
                context = dict(zip(graph.names, context))
            # an agent's private information may come as a list of facts: one per line
            context = {k: v if isinstance(v, str) else "\n".join(v) for k, v in (context or {}).items()}
            unknown = sorted(set(context) - set(graph.names))
            if unknown:
                raise ConfigError(
                    f"context names unknown agent(s) {', '.join(unknown)}; agents: {', '.join(graph.names)}"
                )
            start = {
                "query": query,
                "graph": graph.to_dict(),
                "context": dict(context or {}),
                "outputs": {},
                "records": [],
            }
        config = {"configurable": {"thread_id": thread_id}, "recursion_limit": step_limit(graph)}
        return graph, start, config

    async def arun(self, query: str, *, thread_id: str | None = None, context: Context | None = None) -> Trajectory:
        """Run the team on one query. With a checkpoint, pass `thread_id` to resume a run.

        `context` gives agents private information that only they see: agent name -> text,
        or a list of texts for the agents in order.
        """
        async with self._checkpointer() as saver:
            graph, start, config = await self._prepare(query, thread_id, context, saver)
            return await self._execute(query, graph, start, config, saver)

    async def _execute(
        self, query: str, graph: CommGraph, start: Any, config: dict, saver: BaseCheckpointSaver | None
    ) -> Trajectory:
        started = time.perf_counter()
        runnable, kwargs = self._runnable(graph, saver)
        state = await runnable.ainvoke(start, config, **kwargs)
        return self._trajectory(query, graph, state, config, time.perf_counter() - started)

    async def arun_or_fail(self, query: str, *, context: Context | None = None) -> Trajectory:
        """`arun`, but a run whose backend fails comes back as a trajectory with `error` set.
        (A failed agent call is already recorded on its message; this catches what a decider's
        backend raises past that.) Configuration errors are not swallowed: they propagate. The
        graph is designed once: a failed run's trajectory keeps the graph that ran."""
        async with self._checkpointer() as saver:
            graph, start, config = await self._prepare(query, None, context, saver)
            try:
                return await self._execute(query, graph, start, config, saver)
            except BackendError as e:
                return Trajectory(query, graph, [], "", 0, error=str(e))

    def run(self, query: str, *, thread_id: str | None = None, context: Context | None = None) -> Trajectory:
        return asyncio.run(self.arun(query, thread_id=thread_id, context=context))

    async def abatch(
        self,
        queries: Sequence[str],
        *,
        concurrency: int = 8,
        on_result: Callable[[int, Trajectory], None] | None = None,
    ) -> list[Trajectory]:
        """Many queries in flight at once (the backends' own limits still apply).

        A query whose run fails is returned as a trajectory with `error` set; the batch goes on.
        """
        if concurrency < 1:
            raise ConfigError(f"concurrency={concurrency} must be at least 1")
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int, query: str) -> Trajectory:
            async with gate:
                result = await self.arun_or_fail(query)
            if on_result:
                on_result(i, result)
            return result

        return list(await asyncio.gather(*(one(i, q) for i, q in enumerate(queries))))

    def batch(self, queries: Sequence[str], *, concurrency: int = 8) -> list[Trajectory]:
        return asyncio.run(self.abatch(queries, concurrency=concurrency))

    async def astream(
        self, query: str, *, thread_id: str | None = None, context: Context | None = None
    ) -> AsyncIterator[TeamEvent]:
        """Per-agent events as they happen (token deltas where the backend streams), then `done`."""
        async with self._checkpointer() as saver:
            graph, start, config = await self._prepare(query, thread_id, context, saver)
            config["configurable"]["stream"] = True
            started = time.perf_counter()
            state: dict = {}
            runnable, kwargs = self._runnable(graph, saver)
            async for mode, chunk in runnable.astream(start, config, stream_mode=["custom", "values"], **kwargs):
                if mode == "custom":
                    yield TeamEvent(**{**chunk, "usage": tuple(chunk.get("usage", (0, 0)))})
                else:
                    state = chunk
        yield TeamEvent("done", trajectory=self._trajectory(query, graph, state, config, time.perf_counter() - started))

    def stream(
        self, query: str, *, thread_id: str | None = None, context: Context | None = None
    ) -> Iterator[TeamEvent]:
        """`astream` for synchronous code (the run happens on a private event loop thread)."""
        events: queue.Queue[TeamEvent | BaseException | None] = queue.Queue()

        async def pump() -> None:
            async for event in self.astream(query, thread_id=thread_id, context=context):
                events.put(event)

        def target() -> None:
            try:
                asyncio.run(pump())
            except BaseException as e:  # handed to the consumer below
                events.put(e)
            finally:
                events.put(None)

        threading.Thread(target=target, daemon=True).start()
        while (item := events.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    # -- results -----------------------------------------------------------------------------
    def _trajectory(self, query: str, graph: CommGraph, state: dict, config: dict, wall: float) -> Trajectory:
        records = [MessageRecord.from_dict(r) for r in state.get("records", [])]
        rounds_run = state.get("stop_after", graph.rounds - 1) + 1
        stopped = rounds_run < graph.rounds
        saved = 0
        if stopped:  # estimate: the mean tokens of a round run, for each round skipped
            agent_tokens = sum(m.usage.total_tokens for m in records if m.kind == "agent")
            saved = round(agent_tokens / rounds_run * (graph.rounds - rounds_run))
        failed = [m for m in records if m.error]
        error = (
            f"{len(failed)} agent call(s) failed; first {failed[0].agent}@{failed[0].round}: {failed[0].error}"
            if failed
            else None
        )
        return Trajectory(
            query=query,
            graph=graph,
            messages=records,
            answer=state.get("answer", ""),
            rounds_run=rounds_run,
            stopped_early=stopped,
            tokens_saved_estimate=saved,
            thread_id=config["configurable"]["thread_id"],
            wall_s=wall,
            error=error,
        )
