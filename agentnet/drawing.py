"""Drawings on an explicit Agg canvas (no pyplot, no global backend): a communication graph
round by round — who runs, who is skipped, the edges, the decision and a learned stop."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentnet.decisions import decision_info
from agentnet.graph import CommGraph
from agentnet.prompts import load_role

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def figure(width: float, height: float) -> tuple[Any, Axes]:
    """A figure on an explicit Agg canvas: no pyplot, no global backend switch, no display."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


Point = tuple[float, float]


def _layout(graph: CommGraph) -> tuple[dict[tuple[str, int], Point], Point, float]:
    """Rounds are columns left to right; inside one, agents shift right by their topological
    layer so spatial edges read forward. Each agent keeps its row, so temporal self-edges are level."""
    width = max(len(graph.layers(t)) for t in range(graph.rounds))
    row = {n: -i for i, n in enumerate(graph.names)}
    pos = {
        (n, t): (t * (width + 1.0) + j, float(row[n]))
        for t in range(graph.rounds)
        for j, layer in enumerate(graph.layers(t))
        for n in layer
    }
    return pos, (graph.rounds * (width + 1.0) - 0.2, (len(graph.names) - 1) / -2), width


def _decision_label(graph: CommGraph) -> str:
    kind = graph.decision.kind
    if not graph.decide:
        return f"no decision call\n{graph.last_agent(graph.rounds - 1)} answers"
    return (
        f"decision\n{load_role(graph.decision.role).title if decision_info(kind).llm_call else kind.replace('_', ' ')}"
    )


def draw_topology(graph: CommGraph, path: Path, title: str = "", stop: bool = False) -> Path:
    """Spatial edges solid, temporal edges dashed, the decision at the right fed by the final
    round (every agent, or only the last one for last_agent or a skipped decision). Agents that
    do not run in a round are drawn grey and dotted; `stop` marks the learned stop decision
    between rounds. Arrows are clipped to the node boxes, so heads stay visible whatever the
    label widths. Planted adversaries are drawn red, their kind under their title."""
    pos, dec_xy, width = _layout(graph)
    fig, ax = figure(2.2 + 1.5 * graph.rounds * width, 1.6 + 0.9 * len(graph.names))
    llm = graph.decide and decision_info(graph.decision.kind).llm_call

    def label(name: str) -> str:
        agent = graph.agent(name)
        return f"{name}\n{agent.title}" + (f"\nadversary: {agent.adversary}" if agent.adversary else "")

    def box(name: str) -> dict:
        bad = bool(graph.agent(name).adversary)
        return dict(boxstyle="round,pad=0.4", fc="#fbe4e4" if bad else "#e8f0fb", ec="#b03030" if bad else "#1f5fa8")

    nodes = {
        key: ax.text(*xy, label(key[0]), ha="center", va="center", fontsize=8, bbox=box(key[0]))
        for key, xy in pos.items()
    }
    for t in range(graph.rounds):
        for i, n in enumerate(graph.names):
            if not graph.is_active(n, t):
                ax.text(
                    t * (width + 1.0),
                    float(-i),
                    f"{n}\nskipped",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="#999",
                    bbox=dict(boxstyle="round,pad=0.4", fc="#f4f4f4", ec="#bbb", ls=":"),
                )
    decision = ax.text(
        *dec_xy,
        _decision_label(graph),
        ha="center",
        va="center",
        fontsize=8,
        bbox=dict(boxstyle="round,pad=0.4", fc="#fdf1e0" if llm else "#eeeeee", ec="#555"),
    )

    def arrow(a: Any, b: Any, **style: Any) -> None:
        props = dict(arrowstyle="-|>", patchA=a.get_bbox_patch(), patchB=b.get_bbox_patch(), shrinkA=1, shrinkB=1)
        centre = (0.5, 0.5)  # of each box, in its own coordinates
        ax.annotate("", centre, centre, xycoords=b, textcoords=a, arrowprops={**props, **style})

    for t, edges in enumerate(graph.spatial):
        for u, v in edges:
            arrow(nodes[u, t], nodes[v, t], color="#1f5fa8", lw=1.4, connectionstyle="arc3,rad=0.25")
    for t, edges in enumerate(graph.temporal):
        for u, v in edges:
            arrow(nodes[u, t], nodes[v, t + 1], color="#a05a00", lw=1.1, ls="--", connectionstyle="arc3,rad=0.1")
    last = graph.rounds - 1
    one = decision_info(graph.decision.kind).reads_last_only or not graph.decide
    for n in [graph.last_agent(last)] if one else graph.active[last]:
        arrow(nodes[n, last], decision, color="#555", lw=0.9)
    for t in range(graph.rounds):
        ax.text(t * (width + 1.0) + (width - 1) / 2, 0.8, f"round {t + 1}", ha="center", fontsize=9, weight="bold")
        if stop and t < last:
            x = t * (width + 1.0) + width - 0.5
            ax.plot([x, x], [-len(graph.names) + 0.6, 0.6], color="#b03030", lw=1.0, ls=":")
            ax.text(x, -len(graph.names) + 0.45, "learned stop?", ha="center", fontsize=7, color="#b03030")
    ax.set(xlim=(-0.9, dec_xy[0] + 0.9), ylim=(-len(graph.names) + 0.3, 1.3))
    ax.text(
        0,
        0,
        "solid: spatial (inside a round)   dashed: temporal (to the next round)",
        fontsize=7,
        color="#666",
        transform=ax.transAxes,
    )
    ax.axis("off")
    ax.set_title(title or "communication graph", fontsize=10)
    fig.savefig(path, format="png")
    return path
