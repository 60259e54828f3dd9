"""What the viewer shows, as plain data read from the run store: per item, the team as it ran
(calls, skipped agents, edges that carried a message, were gated off or stayed silent, tokens
per edge and agent, the decision) and the item's question, gold, answer, score and errors.

It reads stored rows as they are: a result written by an older version (no `active` lists, no
finish reasons, no trajectory at all) still shows what it has; nothing here raises on a
missing key."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from agentnet.errors import ConfigError
from agentnet.graph import CommGraph
from agentnet.store import ResultRow
from agentnet.trajectory import DECISION


class ViewTool(TypedDict):
    """A call's tool execution as the page shows it."""

    tool: str
    status: str
    code: str
    output: str
    result: str
    time_s: float


class PromptPart(TypedDict):
    role: str
    content: str


class Call(TypedDict):
    """One LLM call (an agent's in one round, or the decision's)."""

    id: str  # agent@round
    agent: str
    round: int
    kind: str  # "agent" or "decision"
    prompt: list[PromptPart]
    output: str
    tokens: list[int]  # [prompt, completion]
    latency_s: float
    error: object  # as stored: a message, or null
    finish: str
    cached: bool
    spatial_from: list[str]
    temporal_from: list[str]
    gated_from: list[str]
    model: str
    cost: float
    tool: ViewTool | None
    logprob: float | None
    warnings: list[str]


# "from" is a keyword, so the functional form
ViewEdge = TypedDict("ViewEdge", {"kind": str, "from": str, "to": str, "state": str, "tokens": int})


class ViewAgent(TypedDict):
    name: str
    title: str
    role: str
    adversary: str
    model: str
    tool: str
    active: list[bool]  # per round


class _ItemView(TypedDict):
    run: str
    item: str
    file: str
    question: str
    gold: str
    extracted: str
    score: float
    answer: str
    error: str | None
    latency_s: float
    tokens: list[int]  # [prompt, completion]
    rounds_run: int
    calls: list[Call]
    decision: Call | None
    stored_trajectory: bool
    graph: bool | None  # None: the row stores no readable graph
    rounds: int
    decide: bool
    agents: list[ViewAgent]
    edges: list[ViewEdge]


class ItemView(_ItemView, total=False):
    """One item of one run, as its page draws it."""

    decision_kind: str  # with a graph only
    answering: str


def file_name(item_id: str) -> str:
    """A file name for an item id: readable, and distinct for ids that differ only in punctuation."""
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", item_id).strip("_")[:60] or "item"
    return f"{readable}-{hashlib.sha1(item_id.encode()).hexdigest()[:6]}.html"


def _graph(row: ResultRow) -> CommGraph | None:
    for doc in (row.trajectory.get("graph"), row.edges):
        if isinstance(doc, Mapping) and doc:
            try:
                return CommGraph.from_dict(dict(doc))
            except ConfigError:
                continue
    return None


def _usage(m: Mapping[str, Any]) -> tuple[int, int]:
    u = m.get("usage") or {}
    return int(u.get("prompt_tokens", 0) or 0), int(u.get("completion_tokens", 0) or 0)


def _call(m: Mapping[str, Any]) -> Call:
    prompt, completion = _usage(m)
    return {
        "id": f"{m.get('agent', '?')}@{m.get('round', 0)}",
        "agent": str(m.get("agent", "?")),
        "round": int(m.get("round", 0) or 0),
        "kind": str(m.get("kind", "agent")),
        "prompt": [
            {"role": str(p.get("role", "")), "content": str(p.get("content", ""))}
            for p in m.get("prompt", ())
            if isinstance(p, Mapping)
        ],
        "output": str(m.get("output", "")),
        "tokens": [prompt, completion],
        "latency_s": float(m.get("latency_s", 0.0) or 0.0),
        "error": m.get("error"),
        "finish": str(m.get("finish_reason", "unknown")),
        "cached": bool(m.get("cached", False)),
        "spatial_from": list(m.get("spatial_from", ())),
        "temporal_from": list(m.get("temporal_from", ())),
        "gated_from": list(m.get("gated_from", ())),
        "model": str(m.get("model", "") or ""),
        "cost": float(m.get("cost", 0.0) or 0.0),
        "tool": _tool(m.get("tool")),
        "logprob": m.get("logprob"),
        "warnings": [str(w) for w in m.get("warnings", ()) or ()],
    }


def _tool(run: object) -> ViewTool | None:
    """A call's tool execution (code, output, status, time), or None."""
    if not isinstance(run, Mapping):
        return None
    return {
        "tool": str(run.get("tool", "")),
        "status": str(run.get("status", "")),
        "code": str(run.get("code", "")),
        "output": str(run.get("output", "")),
        "result": str(run.get("result", "")),
        "time_s": float(run.get("time_s", 0.0) or 0.0),
    }


def _edges(graph: CommGraph, calls: Mapping[str, Call], rounds_run: int) -> list[ViewEdge]:
    """Every edge of the graph in the rounds that ran: carried (with the sender's completion
    tokens), gated (a receive gate shut it out: the tokens it saved) or silent (nothing sent)."""
    out: list[ViewEdge] = []
    for t in range(min(rounds_run, graph.rounds)):
        planned = [("spatial", u, v, t) for u, v in graph.spatial[t]]
        planned += [("temporal", u, v, t - 1) for u, v in graph.temporal[t - 1]] if t > 0 else []
        for kind, u, v, sent_round in planned:
            receiver, sender = calls.get(f"{v}@{t}"), calls.get(f"{u}@{sent_round}")
            heard = receiver is not None and u in receiver["spatial_from" if kind == "spatial" else "temporal_from"]
            gated = receiver is not None and f"{u}@{sent_round}" in receiver["gated_from"]
            state = "carried" if heard else "gated" if gated else "silent"
            tokens = sender["tokens"][1] if sender is not None and state != "silent" else 0
            out.append({"kind": kind, "from": f"{u}@{sent_round}", "to": f"{v}@{t}", "state": state, "tokens": tokens})
    return out


def item_data(row: ResultRow, run_id: str) -> ItemView:
    """One item of one run, for its page."""
    t = row.trajectory
    messages = [m for m in t.get("messages", ()) if isinstance(m, Mapping)]
    parsed = [_call(m) for m in messages]
    calls = {c["id"]: c for c in parsed if c["kind"] == "agent"}
    decision = next((c for c in parsed if c["kind"] == "decision" or c["agent"] == DECISION), None)
    graph = _graph(row)
    stored = t.get("rounds_run")
    rounds_run: int = stored if isinstance(stored, int) else (graph.rounds if graph else 0)
    data: ItemView = {
        "run": run_id,
        "item": row.item_id,
        "file": file_name(row.item_id),
        "question": str(t.get("query", "")),
        "gold": row.gold,
        "extracted": row.extracted,
        "score": row.score,
        "answer": row.answer,
        "error": row.error,
        "latency_s": row.latency_s,
        "tokens": [row.prompt_tokens, row.completion_tokens],
        "rounds_run": rounds_run,
        "calls": list(calls.values()),
        "decision": decision,
        "stored_trajectory": bool(messages),
        "graph": None,
        "rounds": 0,
        "decide": decision is not None,
        "agents": [],
        "edges": [],
    }
    if graph is None:
        return data
    data["graph"] = True
    data["rounds"] = graph.rounds
    data["decide"] = graph.decide
    data["decision_kind"] = graph.decision.kind
    data["answering"] = graph.last_agent(max(min(rounds_run, graph.rounds) - 1, 0))
    data["agents"] = [
        {
            "name": a.name,
            "title": a.title,
            "role": a.role,
            "adversary": a.adversary,
            "model": a.model,
            "tool": a.tool,
            "active": [graph.is_active(a.name, r) for r in range(graph.rounds)],
        }
        for a in graph.agents
    ]
    data["edges"] = _edges(graph, calls, rounds_run)
    return data


def index_data(rows: Sequence[ResultRow]) -> list[dict[str, object]]:
    """One line per item for the run's index: small, so thousands of items stay responsive."""
    return [
        {
            "item": r.item_id,
            "file": file_name(r.item_id),
            "score": r.score,
            "tokens": r.prompt_tokens + r.completion_tokens,
            "calls": r.calls if r.calls is not None else len(r.trajectory.get("messages", ())),
            "latency_s": r.latency_s,
            "failed": bool(r.error),
            "gold": r.gold,
            "extracted": r.extracted,
        }
        for r in rows
    ]
