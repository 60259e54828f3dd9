"""Reports that compare evaluation runs by accuracy versus tokens: Markdown, HTML and PNGs.

One document model feeds both the Markdown and the HTML, so the two never disagree.
matplotlib is imported only when drawing (Agg canvas, no pyplot state), so `import
agentnet` stays light and reports render on machines without a display.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agentnet.adversaries import AttackConfig
from agentnet.errors import ConfigError
from agentnet.document import Block, Link, to_html, to_markdown
from agentnet.drawing import draw_topology, figure
from agentnet.ledger import cut_off_cell, failed_cell, hit_rate_cell, served_cell, truncation_warning
from agentnet.store import ResultRow, RunStore
from agentnet.checks import check_fields
from agentnet.outputs import moved, staged
from agentnet.viewer import write_pages
from agentnet.viewer.data import file_name
from agentnet.run_stats import RunStats, pareto_front, run_stats, wilson_interval
from agentnet.run_table import topology_cell

EXCERPT_CHARS = 160


@dataclass(frozen=True)
class Prices:
    """USD per 1M prompt and completion tokens. Defaults: gpt-4o-mini list prices, for a rough
    scale; pass your own (local models cost electricity, not list prices)."""

    prompt_per_m: float = field(
        default=0.15,
        metadata={"help": "USD per 1M prompt tokens, for the cost estimate.", "flags": ("--prompt-price",), "ge": 0},
    )
    completion_per_m: float = field(
        default=0.60, metadata={"help": "USD per 1M completion tokens.", "flags": ("--completion-price",), "ge": 0}
    )

    def __post_init__(self) -> None:
        check_fields(self)

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.prompt_per_m + completion_tokens * self.completion_per_m) / 1e6


@dataclass(frozen=True)
class ReportFiles:
    """Every file `write_report` wrote; `topologies` maps run id to its drawing (runs with a graph)."""

    markdown: Path
    html: Path
    scatter: Path
    topologies: dict[str, Path] = field(default_factory=dict)

    @property
    def paths(self) -> list[Path]:
        return [self.markdown, self.html, self.scatter, *self.topologies.values()]


# -- formatting -------------------------------------------------------------------------------
def _usd(x: float) -> str:
    """Up to three significant digits in fixed notation: per-query costs are often below a cent."""
    if x <= 0:
        return "$0"
    text = f"{x:.{max(2, 2 - math.floor(math.log10(x)))}f}"
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents[:2] + cents[2:].rstrip('0')}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _short(run_id: str) -> str:
    tail = run_id.rsplit("-", 1)[-1]
    return tail if 0 < len(tail) < len(run_id) else run_id[-6:]


def _viewer_dir(run_id: str) -> str:
    return f"show/{_file_safe(run_id)}"


def _file_safe(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", run_id)


# -- the document -----------------------------------------------------------------------------
def _document(stats: Sequence[RunStats], prices: Prices, store: RunStore, topo: dict[str, str]) -> list[Block]:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc: list[Block] = [
        ("h1", "AgentNet report: accuracy versus tokens"),
        ("p", f"Generated at {now} from {store.path}."),
        (
            "p",
            f"Costs use {_usd(prices.prompt_per_m)} / {_usd(prices.completion_per_m)} per 1M prompt / completion "
            "tokens (defaults: gpt-4o-mini list prices, for a rough scale). Failed items count as wrong (score 0): "
            "the failed column beside the accuracy says how many. Cut off: calls that stopped at max_tokens. "
            "Tokens are those the team spent, cache hits included; cache hits: calls the response cache "
            "answered.",
        ),
        ("h2", "Runs"),
        ("table", (_RUN_HEAD, [_run_row(s, prices) for s in stats])),
    ]
    notes = [note for s in stats for note in (_note(s), truncation_warning(s.summary)) if note]
    if notes:
        doc.append(("ul", notes))
    doc.append(("img", ("accuracy_vs_tokens.png", "accuracy versus tokens per query")))
    front = pareto_front(stats)
    doc += [
        ("h2", "Pareto front"),
        ("p", "Runs no other run beats on both higher accuracy and fewer tokens per query:"),
        (
            "ul",
            [
                f"{s.id} ({s.summary.run.config.topology}): {_pct(s.summary.accuracy)}% at "
                f"{s.summary.tokens_per_query:,.1f} tokens/query"
                for s in front
            ]
            or ["(no scored runs)"],
        ),
    ]
    doc += _robustness(stats)
    for s in stats:
        doc += _run_section(s, topo.get(s.id))
    return doc


def _clean_twin(attacked: RunStats, stats: Sequence[RunStats]) -> RunStats | None:
    """The report's clean run of the same team, task, split, items and model."""
    a = attacked.summary.run.config
    want = replace(a, team=replace(a.team, attack=AttackConfig()))
    same = [s for s in stats if replace(s.summary.run.config, concurrency=a.concurrency, base_url=a.base_url) == want]
    return same[0] if same else None


def _robustness(stats: Sequence[RunStats]) -> list[Block]:
    """Clean and attacked runs of one team side by side: accuracy on the items both scored, the
    drop, and whom the adversary's messages reached."""
    attacked = [s for s in stats if s.summary.run.config.team.attack.active]
    if not attacked:
        return []
    rows = []
    for a in attacked:
        attack, clean = a.summary.run.config.team.attack, _clean_twin(a, stats)
        n = max(a.summary.scored, 1)
        heard = ", ".join(f"{k} {c / n:.0%}" for k, c in sorted(a.reached.items())) or "nobody"
        who = (
            ", ".join(f"{k} ({v})" for k, v in a.adversaries.items()) or f"{attack.adversaries} {attack.adversary_role}"
        )
        who += f", seed {attack.adversary_seed}"
        if clean is None:
            rows.append(
                [
                    a.summary.run.config.topology,
                    who,
                    "—",
                    "—",
                    a.id,
                    _acc(a.summary.accuracy, a.interval),
                    "— (no clean run of this team here)",
                    str(a.summary.scored),
                    heard,
                ]
            )
            continue
        common = sorted(set(a.scores) & set(clean.scores))
        acc_c, acc_a = (sum(s.scores[i] for i in common) / max(len(common), 1) for s in (clean, a))
        rows.append(
            [
                a.summary.run.config.topology,
                who,
                clean.id,
                _acc(acc_c, wilson_interval(acc_c, len(common))),
                a.id,
                _acc(acc_a, wilson_interval(acc_a, len(common))),
                f"{100 * (acc_c - acc_a):+.1f}",
                str(len(common)),
                heard,
            ]
        )
    return [
        ("h2", "Robustness: clean versus attacked"),
        (
            "p",
            "Each attacked run beside the clean run of the same team, task, items and model; accuracies over "
            "the items both scored. Drop: clean minus attacked, in points. Heard by: the share of items on "
            "which an agent (or the decision call) read an adversary's message directly.",
        ),
        (
            "table",
            (
                (
                    "topology",
                    "adversaries",
                    "clean run",
                    "clean accuracy % (95% CI)",
                    "attacked run",
                    "attacked accuracy % (95% CI)",
                    "drop (points)",
                    "items",
                    "adversary heard by",
                ),
                rows,
            ),
        ),
    ]


def _acc(accuracy: float, interval: tuple[float, float]) -> str:
    return f"{_pct(accuracy)} ({_pct(interval[0])}–{_pct(interval[1])})"


_RUN_HEAD = (
    "run",
    "task/split",
    "topology",
    "agents×rounds",
    "model",
    "scored/selected",
    "accuracy % (95% CI)",
    "failed",
    "solved",
    "cut off",
    "cache hits",
    "calls/query",
    "prompt tok/query",
    "completion tok/query",
    "total tokens",
    "model cost/query",
    "cost/query",
    "cost/run",
    "latency/query",
)


def _run_row(s: RunStats, prices: Prices) -> list[str]:
    sm, c = s.summary, s.summary.run.config
    head = [
        s.id,
        f"{c.task}/{c.split}",
        topology_cell(c),
        f"{c.team.agents}×{c.team.rounds}",
        c.model,
        f"{sm.scored}/{sm.run.total_items}",
    ]
    if not sm.scored:
        return head + ["—"] * (len(_RUN_HEAD) - len(head))
    return head + [
        _acc(sm.accuracy, s.interval),
        failed_cell(sm),
        f"{sm.solved}/{sm.scored}",
        cut_off_cell(sm),
        hit_rate_cell(sm),
        f"{sm.calls_per_query:.2f}" if sm.calls_per_query is not None else "—",
        f"{sm.prompt_tokens_per_query:,.1f}",
        f"{sm.completion_tokens_per_query:,.1f}",
        f"{s.prompt_tokens + s.completion_tokens:,}",
        f"{sm.cost_per_query:.3f}" if sm.cost_per_query is not None else "—",
        _usd(prices.cost(sm.prompt_tokens_per_query, sm.completion_tokens_per_query)),
        _usd(prices.cost(s.prompt_tokens, s.completion_tokens)),
        f"{sm.latency_s_per_query:.2f} s",
    ]


def _note(s: RunStats) -> str:
    sm = s.summary
    if not sm.scored:
        return f"{s.id}: no results yet (0 scored, status {sm.run.status}); no point on the scatter."
    if sm.run.status != "finished" or sm.scored < sm.run.total_items:
        return f"{s.id}: {sm.run.status}, {sm.scored} of {sm.run.total_items} items scored; figures cover those."
    return ""


def _run_section(s: RunStats, drawing: str | None) -> list[Block]:
    run = s.summary.run
    config = {k: _value(v) for k, v in run.config.settings().items()}
    status = f"{run.status} ({run.reason})" if run.reason else run.status  # why a failed or interrupted run stopped
    meta = {
        "status": status,
        "created": _when(run.created),
        "items selected": str(run.total_items),
        "failed items (scored 0)": str(s.summary.failed),
        "calls cut off at max_tokens": cut_off_cell(s.summary),
        "response cache hits": hit_rate_cell(s.summary),
        "tokens served/query": served_cell(s.summary),
    }
    blocks: list[Block] = [
        ("h2", f"Run {run.id}"),
        ("table", (("setting", "value"), [[k, v] for k, v in {**meta, **config}.items()])),
    ]
    if s.graph is None:
        blocks.append(("p", f"No topology drawing: {s.graph_error}."))
    else:
        g = s.graph
        text = f"Graph: {len(g.agents)} agents, {g.rounds} rounds, {g.edge_count()} edges, decision {g.decision.kind}."
        if s.distinct_graphs > 1:
            text += (
                f" Per-query graphs differ: {s.distinct_graphs} distinct graphs, mean {s.mean_edges:.1f} edges;"
                f" the drawing shows the most common ({s.graph_items} items)."
            )
        if s.graph_error:
            text += f" Some stored graphs could not be read ({s.graph_error})."
        blocks.append(("p", text))
        if s.skipped:
            blocks.append(("p", skipped_text(s)))
        if drawing:
            blocks.append(("img", (drawing, f"communication graph of run {run.id}")))
    blocks.append(
        (
            "link",
            Link(
                f"Every item of {run.id}, as the team ran it (messages, edges, tokens)",
                f"{_viewer_dir(run.id)}/index.html",
            ),
        )
    )
    if s.failures:
        pages = f"{_viewer_dir(run.id)}/items"
        rows = [
            [Link(r.item_id, f"{pages}/{file_name(r.item_id)}"), _excerpt(q, 100), r.gold, r.extracted, _output(r)]
            for r, q in s.failures
        ]
        blocks += [
            ("h3", f"Example failures of {run.id}"),
            ("table", (("question id", "question", "gold", "extracted", "output"), rows)),
        ]
    return blocks


def skipped_text(s: RunStats) -> str:
    """What the team did not run, per query: agents' calls, rounds a stop cut, the decision call."""
    n = max(s.summary.scored, 1)
    agents = sum(c for k, c in s.skipped.items() if "@" in k)
    rounds = sum(c for k, c in s.skipped.items() if k.startswith("round "))
    common = ", ".join(f"{k} ({c})" for k, c in s.skipped.most_common(4))
    return (
        f"Skipped per query: {agents / n:.2f} agent calls, {rounds / n:.2f} rounds, the decision call on "
        f"{s.skipped['decision'] / n:.0%} of queries. Most often skipped (items): {common}."
    )


def _output(r: ResultRow) -> str:
    parts = ([f"error: {r.error}"] if r.error else []) + ([r.answer] if r.answer.strip() else [])
    return _excerpt(" / ".join(parts))


def _value(v: Any) -> str:
    if v is None:
        return "none"
    if v == "" or v == ():
        return "(task default)"
    return ", ".join(map(str, v)) if isinstance(v, (tuple, list)) else str(v)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- figures ----------------------------------------------------------------------------------
def plot_accuracy_vs_tokens(stats: Sequence[RunStats], path: Path) -> Path:
    fig, ax = figure(8, 5)
    points = [s for s in stats if s.summary.scored]
    for s in points:
        x, y = s.summary.tokens_per_query, 100 * s.summary.accuracy
        lo, hi = (100 * v for v in s.interval)
        ax.errorbar([x], [y], yerr=[[y - lo], [hi - y]], fmt="o", capsize=4)
        ax.annotate(
            f"{s.summary.run.config.topology} {_short(s.id)}",
            (x, y),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=8,
        )
    front = pareto_front(points)
    if front:
        xs = [s.summary.tokens_per_query for s in front]
        ax.step(
            xs,
            [100 * s.summary.accuracy for s in front],
            where="post",
            color="grey",
            linestyle="-",
            alpha=0.7,
            label="Pareto front",
        )
        ax.legend(loc="lower right")
    xs = [s.summary.tokens_per_query for s in points]
    if xs and min(xs) > 0 and max(xs) > 10 * min(xs):
        ax.set_xscale("log")
    if not points:
        ax.text(0.5, 0.5, "no scored runs yet", ha="center", va="center", transform=ax.transAxes)
    ax.set(
        xlabel="tokens per query (prompt + completion)",
        ylabel="accuracy (%, 95% Wilson interval)",
        ylim=(-3, 108),
        title="Accuracy versus tokens per query",
    )
    ax.grid(alpha=0.3)
    ax.margins(x=0.12)  # room for the point labels
    fig.savefig(path, format="png")
    return path


# -- entry points -----------------------------------------------------------------------------
def write_report(store: RunStore, run_ids: Sequence[str], out_dir: Path, *, prices: Prices = Prices()) -> ReportFiles:
    """Compare runs: report.md, report.html, accuracy_vs_tokens.png and one topology_<run>.png each.

    Every id is checked before anything is written, and the files are written into a temporary
    directory moved into `out_dir` once complete: a typo or a failure leaves no half-written report."""
    ids = list(dict.fromkeys(run_ids))
    if not ids:
        raise ConfigError("no run ids given; pass one or more (`agentnet runs` lists them)")
    for run_id in ids:
        store.run(run_id)  # an unknown id raises UnknownNameError listing recent runs
    out_dir = Path(out_dir)
    with staged(out_dir) as tmp:
        files = _write(store, ids, tmp, prices)
    return ReportFiles(
        moved(files.markdown, tmp, out_dir),
        moved(files.html, tmp, out_dir),
        moved(files.scatter, tmp, out_dir),
        {k: moved(p, tmp, out_dir) for k, p in files.topologies.items()},
    )


def _write(store: RunStore, ids: Sequence[str], out_dir: Path, prices: Prices) -> ReportFiles:
    stats = []
    for run_id in ids:  # each run's results read once: its numbers, and its browsable items the report links
        rows = store.results(run_id, with_trajectories=True)
        stats.append(run_stats(store, run_id, rows))
        write_pages(store, run_id, out_dir / _viewer_dir(run_id), rows=rows)
    topologies: dict[str, Path] = {}
    for s in stats:
        if s.graph is not None:
            title = f"{s.id}: {s.summary.run.config.topology}"
            if s.distinct_graphs > 1:
                title += f" (most common of {s.distinct_graphs} graphs, {s.graph_items} items)"
            topologies[s.id] = draw_topology(s.graph, out_dir / f"topology_{_file_safe(s.id)}.png", title)
    scatter = plot_accuracy_vs_tokens(stats, out_dir / "accuracy_vs_tokens.png")
    doc = _document(stats, prices, store, {k: p.name for k, p in topologies.items()})
    md, page = out_dir / "report.md", out_dir / "report.html"
    md.write_text(to_markdown(doc), encoding="utf-8")
    page.write_text(to_html(doc), encoding="utf-8")
    return ReportFiles(md, page, scatter, topologies)
