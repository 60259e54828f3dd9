"""What a held-out headline table says about its learned team: the Pareto front of accuracy vs
cost, the issue's targets checked one by one, the learned team's branches (stopped after the
cheap round, or escalated) read from its trajectories, and the items it lost to a baseline.

Reads the row JSONs `benchmarks/rows.py` keeps (per-item scores, costs and rounds run); writes
Markdown lines and one plot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentnet.run_stats import non_dominated, wilson_interval
from benchmarks.rows import paired


def cost(row: Mapping) -> float:
    return float(row.get("cost_per_query") or 0.0)


def front(rows: Mapping[str, Mapping]) -> list[str]:
    """Names of the rows no other row dominates (at least as accurate and no more costly, better in one)."""
    return non_dominated(list(rows), lambda n: (rows[n]["accuracy"], cost(rows[n])))


@dataclass(frozen=True)
class Target:
    name: str
    met: bool
    why: str

    def line(self) -> str:
        return f"- **({self.name}) {'met' if self.met else 'missed'}**: {self.why}"


def _pts(x: float) -> str:
    return f"{100 * x:+.1f} points"


def targets(
    learned: str,
    rows: Mapping[str, Mapping],
    *,
    best_single: str,
    strongest: str,
    cascades: Sequence[str],
    sc: Sequence[str],
) -> list[Target]:
    """Issue 33's targets (a)-(d) for `learned` against the named rows of the same slice; a
    missed target says by how much."""
    me = rows[learned]
    out = []
    dominators = [n for n in rows if n != learned and learned not in front({learned: me, n: rows[n]})]
    out.append(
        Target(
            "a",
            not dominators,
            "on the Pareto front"
            if not dominators
            else "dominated by "
            + ", ".join(
                f"{n} ({_pts(rows[n]['accuracy'] - me['accuracy'])}, cost {cost(rows[n]) - cost(me):+.3f})"
                for n in dominators
            ),
        )
    )
    b = rows[best_single]
    p = paired(me, b)
    ratio = cost(me) / cost(b) if cost(b) else float("inf")
    met = p.diff >= 0.03 and p.ci[0] > 0 and ratio <= 1.5
    out.append(
        Target(
            "b",
            met,
            f"vs {best_single}: {_pts(p.diff)} (95% CI {_pts(p.ci[0])}…{_pts(p.ci[1])}, McNemar p "
            f"{p.p:.3f}) at {ratio:.2f}× its cost (needs ≥ +3 points, CI above 0, ≤ 1.5×)",
        )
    )
    parts, met = [], True
    for n in cascades:
        d, c = me["accuracy"] - rows[n]["accuracy"], cost(me) - cost(rows[n])
        met &= d >= 0 and c <= 0
        parts.append(f"vs {n}: {_pts(d)}, cost {c:+.3f}")
    s = rows[strongest]
    ratio_s = cost(me) / cost(s) if cost(s) else float("inf")
    met &= me["accuracy"] >= s["accuracy"] and ratio_s <= 0.6
    parts.append(
        f"vs {strongest}: {_pts(me['accuracy'] - s['accuracy'])} at {ratio_s:.2f}× its cost (needs ≥ 0, ≤ 0.6×)"
    )
    out.append(Target("c", met, "; ".join(parts)))
    parts, met = [], True
    for n in sc:
        r = rows[n]
        lo, _ = wilson_interval(r["accuracy"], r["items"])
        better = me["accuracy"] > r["accuracy"] and cost(me) < cost(r)
        close = me["accuracy"] >= lo and cost(me) <= cost(r) / 2
        met &= better or close
        parts.append(
            f"vs {n}: {_pts(me['accuracy'] - r['accuracy'])} at {cost(me) / cost(r) if cost(r) else 0:.2f}× its cost"
            f" ({'more accurate and cheaper' if better else 'within its CI at ≤ ½ its cost' if close else 'neither'})"
        )
    out.append(Target("d", met, "; ".join(parts)))
    return out


def branches(row: Mapping) -> list[str]:
    """The learned team's branches from its trajectories: items it settled after the opening round
    (1 round run) and items it escalated (2+), each with its accuracy and cost."""
    rounds = row.get("rounds_run") or {}
    groups: dict[str, list[str]] = {"stopped after the opening round": [], "escalated": []}
    for item, n in rounds.items():
        groups["escalated" if (n or 1) > 1 else "stopped after the opening round"].append(item)
    lines = ["| branch | items | accuracy | cost/query |", "|---|---|---|---|"]
    for name, items in groups.items():
        if items:
            acc = sum(row["scores"][i] >= 1 for i in items) / len(items)
            c = sum(row["costs"].get(i) or 0 for i in items) / len(items)
            lines.append(f"| {name} | {len(items)} | {100 * acc:.1f}% | {c:.3f} |")
    return lines


def losses(row: Mapping, baseline: Mapping, store: Path | None = None, limit: int = 20) -> list[str]:
    """Items the baseline solved and the learned team did not, with the command that shows each."""
    lost = sorted(
        i for i in set(row["scores"]) & set(baseline["scores"]) if baseline["scores"][i] >= 1 > row["scores"][i]
    )
    where = f" --store {store}" if store else ""
    shown = [
        f"- `{i}`: `agentnet show {row['run']} {i}{where}` (beside the baseline: `--compare {baseline['run']}`)"
        for i in lost[:limit]
    ]
    more = [f"- … and {len(lost) - limit} more"] if len(lost) > limit else []
    return shown + more or ["- none"]


def plot(rows: Mapping[str, Mapping], path: Path, title: str) -> Path:
    """Accuracy (Wilson 95% CI as bars) against cost per query, one point per row, the front joined."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, r in rows.items():
        lo, hi = wilson_interval(r["accuracy"], r["items"])
        learned = r.get("group") == "learned"
        ax.errorbar(
            cost(r),
            r["accuracy"],
            yerr=[[r["accuracy"] - lo], [hi - r["accuracy"]]],
            fmt="*" if learned else "o",
            markersize=11 if learned else 6,
            capsize=3,
            color="tab:red" if learned else "tab:blue",
        )
        ax.annotate(
            name.split("-", 1)[-1], (cost(r), r["accuracy"]), textcoords="offset points", xytext=(4, 4), fontsize=7
        )
    on = sorted((cost(rows[n]), rows[n]["accuracy"]) for n in front(rows))
    ax.plot([c for c, _ in on], [a for _, a in on], "--", color="gray", linewidth=1, label="Pareto front")
    ax.set_xlabel("cost per query (price per 1,000 tokens × tokens)")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
