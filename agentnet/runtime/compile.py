"""Compile a `CommGraph` into a LangGraph `StateGraph`.

One node per active (agent, round), named `agent@round` (an inactive agent has no node, so
it makes no call); an agent waits for its spatial senders (a LangGraph join), so each
topological layer runs as one concurrent superstep. A barrier node `round@t` closes each
round and routes to the next round's source agents, or to `decide` when the team stops
there: every agent already agrees (early stop) or a learned stop gate says so. Without a
decision step (`graph.decide=False`) `decide` passes on the last active agent's output. Every state key written in
parallel has a reducer. State holds plain data only, so any checkpointer can store it.

What a run needs besides its state — backends, extraction, gates, tools — is LangGraph's run
context (`context_schema=RunContext`, read by each node from its `Runtime`), not closed into
the nodes: a compiled graph depends on its `CommGraph` alone, so one compiled graph serves every
team, and `COMPILED` keeps the most recent of them within a node budget (a learned topology
designs a graph per query; an unbounded cache grew by ~95 KB per graph).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from agentnet.agents import PeerOutput, build_messages
from agentnet.graph import CommGraph
from agentnet.runtime.decide import Decided, decider_for
from agentnet.runtime.node import RunContext, RunState, call_agent, key, spoken

if TYPE_CHECKING:
    from langgraph.graph import StateGraph
    from langgraph.graph.state import CompiledStateGraph

    Compiled = CompiledStateGraph[RunState, RunContext, RunState, RunState]


def _agent_node(graph: CommGraph, name: str, round: int) -> Callable[..., Awaitable[dict]]:
    agent = graph.agent(name)
    spatial = tuple(graph.spatial_preds(name, round))
    temporal = tuple(graph.temporal_preds(name, round))

    async def node(state: RunState, config: RunnableConfig, runtime: Runtime[RunContext]) -> dict:
        ctx = runtime.context
        outputs = state.get("outputs", {})

        def peers(names: tuple[str, ...], r: int) -> list[PeerOutput]:
            said = ((n, outputs.get(key(n, r), "")) for n in names)
            return [PeerOutput(n, graph.agent(n).role, text) for n, text in said if text.strip()]

        private = state.get("context", {}).get(name, "")
        heard_s, heard_t = peers(spatial, round), peers(temporal, round - 1)
        gated: tuple[str, ...] = ()
        if ctx.receive_gate and (heard_s or heard_t):
            own_last = outputs.get(key(name, round - 1), "")
            if not ctx.receive_gate(name, round, own_last, state["query"]):
                gated = tuple(key(p.name, round) for p in heard_s) + tuple(key(p.name, round - 1) for p in heard_t)
                heard_s, heard_t = [], []
        messages = build_messages(agent, state["query"], heard_s, heard_t, private=private)
        stream = bool(config.get("configurable", {}).get("stream"))
        text, record = await call_agent(
            ctx,
            agent=name,
            round=round,
            kind="agent",
            model=agent.model,
            messages=messages,
            settings=agent.settings,
            spatial_from=tuple(p.name for p in heard_s),
            temporal_from=tuple(p.name for p in heard_t),
            gated_from=gated,
            stream=stream,
            tool=agent.tool,
            query=state["query"],
        )
        return {"outputs": {key(name, round): text}, "records": [record]}

    return node


def _barrier(graph: CommGraph, round: int) -> Callable[..., dict]:
    def node(state: RunState, runtime: Runtime[RunContext]) -> dict:
        ctx = runtime.context
        if round == graph.rounds - 1 or not (ctx.early_stop or ctx.stop_gate):
            return {}
        said = spoken(graph, ctx, state, round)
        if ctx.early_stop:
            answers = {s.answer for s in said.values()}
            if len(answers) == 1 and "" not in answers:
                return {"stop_after": round}
        if ctx.stop_gate is not None and ctx.stop_gate(round, said, state["query"]):
            return {"stop_after": round}
        return {}

    return node


def _decide_node(graph: CommGraph) -> Callable[..., Awaitable[dict]]:
    decider = decider_for(graph)

    async def node(state: RunState, config: RunnableConfig, runtime: Runtime[RunContext]) -> dict:
        last = state.get("stop_after", graph.rounds - 1)
        stream = bool(config.get("configurable", {}).get("stream"))
        decided: Decided = await decider(graph, runtime.context, state, last, stream)
        return {"answer": decided.answer, "records": decided.records}

    return node


def build(graph: CommGraph) -> StateGraph[RunState, RunContext, RunState, RunState]:
    """The uncompiled StateGraph; run its compiled form with `context=` a `RunContext`."""
    from langgraph.graph import END, START, StateGraph

    builder = StateGraph(RunState, context_schema=RunContext)
    for t in range(graph.rounds):
        for name in graph.active[t]:
            builder.add_node(key(name, t), _agent_node(graph, name, t))
        barrier: Any = _barrier(graph, t)  # a plain state -> update function; LangGraph's overloads miss it
        builder.add_node(key("round", t), barrier)
    builder.add_node("decide", _decide_node(graph))

    def sources(t: int) -> list[str]:
        return [key(n, t) for n in graph.active[t] if not graph.spatial_preds(n, t)]

    for t in range(graph.rounds):
        for name in graph.active[t]:
            preds = [key(p, t) for p in graph.spatial_preds(name, t)]
            if preds:
                builder.add_edge(preds if len(preds) > 1 else preds[0], key(name, t))
            elif t == 0:
                builder.add_edge(START, key(name, t))
        # an agent runs in the superstep of its topological layer, so the last layer finishes
        # last: its edges close the round (a join on every agent named a channel after all of
        # them, stored with each of their writes: checkpoints grew with the team squared)
        for name in graph.layers(t)[-1]:
            builder.add_edge(key(name, t), key("round", t))
        if t < graph.rounds - 1:
            nxt = sources(t + 1)

            def route(state: RunState, t: int = t, nxt: list[str] = nxt) -> list[str] | str:
                return "decide" if state.get("stop_after") == t else nxt

            builder.add_conditional_edges(key("round", t), route, [*nxt, "decide"])
        else:
            builder.add_edge(key("round", t), "decide")
    builder.add_edge("decide", END)
    return builder


def step_limit(graph: CommGraph) -> int:
    """LangGraph's recursion limit counts supersteps; a chain needs one per agent per round."""
    return graph.rounds * (len(graph.agents) + 1) + 2 * graph.decision.max_fixes + 10


class CompiledGraphs:
    """Compiled graphs by `CommGraph`, the most recently used kept while their nodes add up to
    at most `max_nodes` (thread-safe; the newest is kept whatever its size).

    A compiled graph holds no run context and no checkpointer (a run with one uses a copy that
    binds it), so the same one serves every team and every run of its graph. Its memory grows
    with its nodes (~7 KB each: ~70 KB at 4 agents x 2 rounds, ~0.9 MB at 64), so the bound is
    on nodes, not graphs: ~7 MB whatever the team size. A fixed topology needs one entry; a
    learned one designs a new graph per query and rarely meets it again, so a larger cache
    would only hold memory (at 256 graphs of 4 agents RSS still grew 14% after 1,000 queries)."""

    def __init__(self, max_nodes: int = 1024):
        self.max_nodes = max_nodes
        self._graphs: OrderedDict[CommGraph, tuple[Compiled, int]] = OrderedDict()
        self._nodes = 0
        self._lock = threading.Lock()

    def get(self, graph: CommGraph) -> Compiled:
        with self._lock:
            found = self._graphs.get(graph)
            if found is not None:
                self._graphs.move_to_end(graph)
                return found[0]
        compiled = build(graph).compile()  # outside the lock: compiling takes milliseconds
        size = len(compiled.nodes)
        with self._lock:
            if graph not in self._graphs:  # another thread may have compiled it meanwhile
                self._graphs[graph] = (compiled, size)
                self._nodes += size
            while self._nodes > self.max_nodes and len(self._graphs) > 1:
                self._nodes -= self._graphs.popitem(last=False)[1][1]
        return compiled

    def __len__(self) -> int:
        return len(self._graphs)

    @property
    def nodes(self) -> int:
        return self._nodes


# one process-wide memo: its values are pure functions of immutable keys, bounded in number
COMPILED = CompiledGraphs()


@functools.cache
def state_reader() -> Compiled:
    """A compiled graph of `RunState` alone, to read a thread's saved state (`aget_state` on a
    copy bound to the checkpointer) before the graph that ran, part of that state, is known:
    the values depend on the state's channels, not on the nodes."""
    from langgraph.graph import START, StateGraph

    def nothing(state: RunState) -> dict:
        return {}

    builder = StateGraph(RunState, context_schema=RunContext)
    builder.add_node("read", nothing)
    builder.add_edge(START, "read")
    return builder.compile()
