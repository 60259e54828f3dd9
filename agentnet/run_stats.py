"""One evaluation run's numbers, as reports show them: accuracy with its Wilson interval, tokens,
the graphs it used, what its adaptive team skipped, and whom planted adversaries reached; and the
Pareto front of several runs (accuracy up, tokens per query down)."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agentnet.adversaries import adversaries_of
from agentnet.errors import AgentNetError
from agentnet.graph import CommGraph
from agentnet.store import ResultRow, RunStore, RunSummary
from agentnet.trajectory import heard_from, skipped_calls

MAX_FAILURES = 5  # example failures a run keeps for its report
T = TypeVar("T")


@dataclass(frozen=True)
class RunStats:
    """One run's numbers, as the report shows them. Failed items count as scored and wrong (0), and
    the tables say how many beside the accuracy; `summary` also holds the call ledger."""

    summary: RunSummary
    prompt_tokens: int  # totals over the run
    completion_tokens: int
    interval: tuple[float, float]  # 95% Wilson interval of the accuracy
    graph: CommGraph | None  # the most common graph, None when no result has a readable one
    graph_items: int  # items that used `graph`
    distinct_graphs: int
    mean_edges: float
    graph_error: str
    failures: tuple[tuple[ResultRow, str], ...]  # (row, question excerpt)
    skipped: Counter[str] = field(default_factory=Counter)  # "a1@0", "round 1", "decision": items that skipped it
    scores: dict[str, float] = field(default_factory=dict)  # item id -> score
    adversaries: dict[str, str] = field(default_factory=dict)  # planted agent -> kind (from the stored graphs)
    reached: Counter[str] = field(default_factory=Counter)  # who heard an adversary directly: items

    @property
    def id(self) -> str:
        return self.summary.run.id


def wilson_interval(accuracy: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval: unlike the normal approximation it stays inside [0, 1] and is
    honest at the small n and extreme accuracies that quick runs produce."""
    if n <= 0:
        return (0.0, 1.0)
    denom = 1 + z * z / n
    centre = (accuracy + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(accuracy * (1 - accuracy), 0.0) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def non_dominated(items: Sequence[T], point: Callable[[T], tuple[float, float]]) -> list[T]:
    """The items no other item beats: `point` is (accuracy, cost); another item dominates one when it is
    at least as accurate and no more costly, and better in one of the two. Equal points both stay."""
    points = [point(i) for i in items]

    def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] >= b[0] and a[1] <= b[1] and a != b

    return [i for i, p in zip(items, points) if not any(dominates(o, p) for o in points)]


def pareto_front(stats: Sequence[RunStats]) -> list[RunStats]:
    """Runs no other run beats on both axes (accuracy up, tokens/query down), cheapest first."""
    front = non_dominated(
        [s for s in stats if s.summary.scored], lambda s: (s.summary.accuracy, s.summary.tokens_per_query)
    )
    return sorted(front, key=lambda s: (s.summary.tokens_per_query, -s.summary.accuracy))


def run_stats(store: RunStore, run_id: str, rows: Sequence[ResultRow] | None = None) -> RunStats:
    """`rows`: the run's results with trajectories, when the caller has read them already."""
    summary = store.summary(run_id)  # unknown id: the store's UnknownNameError
    if rows is None:
        rows = store.results(run_id, with_trajectories=True)  # the question text lives in the trajectory
    parsed, parse_error = _parse_graphs(rows)
    graph, used, distinct, mean_edges, error = _graph_stats(rows, parsed, parse_error)
    failures = [r for r in rows if r.error or r.score < 1.0][:MAX_FAILURES]
    skipped: Counter[str] = Counter()
    adversaries: dict[str, str] = {}
    reached: Counter[str] = Counter()
    for r in rows:  # graphs parsed once per distinct document; rounds_run from the trajectory
        g, rounds_run = parsed.get(_key(r.edges)) if r.edges else None, r.trajectory.get("rounds_run")
        if g is not None and isinstance(rounds_run, int):
            skipped.update(skipped_calls(g, rounds_run))
        if g is not None and (planted := adversaries_of(g)):
            adversaries.update(planted)
            reached.update(heard_from(r.trajectory.get("messages", ()), set(planted)))
    return RunStats(
        summary,
        sum(r.prompt_tokens for r in rows),
        sum(r.completion_tokens for r in rows),
        wilson_interval(summary.accuracy, summary.scored),
        graph,
        used,
        distinct,
        mean_edges,
        error,
        tuple((r, str(r.trajectory.get("query", ""))) for r in failures),
        skipped,
        {r.item_id: r.score for r in rows},
        adversaries,
        reached,
    )


def _parse_graphs(rows: Sequence[ResultRow]) -> tuple[dict[str, CommGraph], str]:
    """Each distinct graph document, parsed once (learned topologies give every item its own
    dict, but most runs repeat one graph), and the last parse error."""
    parsed: dict[str, CommGraph] = {}
    error = ""
    for key in dict.fromkeys(_key(r.edges) for r in rows if r.edges):
        try:
            parsed[key] = CommGraph.from_json(key)
        except AgentNetError as e:  # e.g. a role this version lacks: report it, draw nothing
            error = f"{type(e).__name__}: {e}"
    return parsed, error


def _graph_stats(
    rows: Sequence[ResultRow], parsed: dict[str, CommGraph], error: str
) -> tuple[CommGraph | None, int, int, float, str]:
    """The most common graph, its item count, the distinct count and the mean edge count."""
    keys = Counter(_key(r.edges) for r in rows if r.edges)
    graphs: Counter[CommGraph] = Counter()
    for key, n in keys.items():
        if key in parsed:
            graphs[parsed[key]] += n
    if not graphs:
        return None, 0, 0, 0.0, error or ("no results yet" if not rows else "no result recorded a graph")
    (top, used), total = graphs.most_common(1)[0], sum(graphs.values())
    mean_edges = sum(g.edge_count() * n for g, n in graphs.items()) / total
    return top, used, len(graphs), mean_edges, error


def _key(edges: dict[str, Any]) -> str:
    return json.dumps(edges, sort_keys=True)
