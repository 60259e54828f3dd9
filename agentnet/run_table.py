"""The runs at a glance in the terminal (the end of `agentnet bench`, `agentnet runs`): one rich
table row per run, and the cells reports share with it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from agentnet.ledger import share_cell
from agentnet.store import RunConfig, RunSummary

if TYPE_CHECKING:
    from rich.table import Table


def topology_cell(c: RunConfig) -> str:
    """The run's topology, and its planted adversaries if any."""
    attack = c.team.attack.describe()
    return f"{c.topology} + {attack}" if attack else c.topology


def summary_table(summaries: Sequence[RunSummary]) -> Table:
    """The runs at a glance, for the end of a bench run and for `agentnet runs`. The cached column
    (response cache hit rate) appears once some run used the cache."""
    from rich import box
    from rich.table import Table

    cache = any(s.cached_calls for s in summaries)
    replicas = any(s.replica_calls for s in summaries)
    caption = "failed: items that errored, scored 0 in the accuracy; cut off: calls stopped at max_tokens"
    caption += "; cached: calls the response cache answered" if cache else ""
    table = Table(title="runs", caption=caption, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    names = [
        "run",
        "task",
        "topology",
        "model",
        "scored",
        "accuracy",
        "failed",
        "cut off",
        "cached",
        "calls/query",
        "tok/query",
        "cost/query",
        "replicas",
        "status",
    ]
    for name in [n for n in names if (n != "cached" or cache) and (n != "replicas" or replicas)]:
        numeric = name not in ("run", "task", "topology", "model", "replicas", "status")
        # ids and numbers are what people copy: never wrap or cut them; names fold, never vanish
        fixed = name == "run" or numeric
        table.add_column(
            name,
            justify="right" if numeric else "left",
            no_wrap=fixed,
            min_width=None if fixed else 5,
            overflow="ellipsis" if fixed else "fold",
        )
    for s in summaries:
        c = s.run.config
        figures = [f"{100 * s.accuracy:.1f}%", str(s.failed), share_cell(s.cut_off_share)]
        figures += [share_cell(s.hit_rate)] if cache else []
        calls = (
            f"{s.calls_per_query:.1f}" if s.calls_per_query is not None else "—"
        )  # adaptive teams make fewer calls per query
        cost = f"{s.cost_per_query:.3f}" if s.cost_per_query is not None else "—"  # at each model's price
        figures = figures + [calls, f"{s.tokens_per_query:,.0f}", cost] if s.scored else ["—"] * (len(figures) + 3)
        figures += [replica_cell(s.replica_calls)] if replicas else []
        table.add_row(
            s.run.id,
            f"{c.task}/{c.split}",
            topology_cell(c),
            c.model,
            f"{s.scored}/{s.run.total_items}",
            *figures,
            s.run.status,
        )
    return table


def replica_cell(calls: dict[str, int]) -> str:
    """Calls per replica, "gpu1:8000 9, gpu2:8000 9" (host:port of each base URL), "—" when none."""
    from urllib.parse import urlsplit

    return ", ".join(f"{urlsplit(url).netloc or url} {n}" for url, n in calls.items()) or "—"
