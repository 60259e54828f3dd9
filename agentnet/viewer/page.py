"""The viewer's HTML: an item page (the team drawn round by round as SVG, each call's prompt and
output a click away), a side-by-side comparison of runs on one item, and a run's index.

Every page is self-contained — CSS and JS inlined from the files beside this one, nothing
fetched at view time — and everything from the store is escaped (model output is data, never
markup). The SVG is laid out here, so the drawing needs no script; the script only opens a
clicked node's messages and sorts and pages the index."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentnet.viewer.data import Call, ItemView, ViewAgent, ViewEdge, ViewTool

e = html.escape
COL, ROW, BOX_W, BOX_H = 320, 86, 158, 58  # layout of the SVG, in px
STATE_STYLE = {
    "carried": ("#1f5fa8", ""),
    "gated": ("#999", "6 4"),
    "silent": ("#ccc", "2 4"),
}
TEMPORAL_COLOUR = "#a05a00"


@cache
def _asset(name: str) -> str:
    return (resources.files(__package__) / name).read_text(encoding="utf-8")


def _json(value: object) -> str:
    """JSON safe inside a <script> element (no `</script>` can end it early)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(title: str, body: str, script: bool = True) -> str:
    js = f"<script>{_asset('viewer.js')}</script>" if script else ""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
        f"<style>{_asset('viewer.css')}</style></head>\n<body>\n{body}\n{js}\n</body></html>\n"
    )


# -- the drawing ------------------------------------------------------------------------------
def _xy(d: ItemView, call_id: str) -> tuple[float, float]:
    names = [a["name"] for a in d["agents"]]
    name, _, r = call_id.rpartition("@")
    return 20 + int(r) * COL + BOX_W / 2, 30 + names.index(name) * ROW + BOX_H / 2


def _node(d: ItemView, agent: ViewAgent, r: int, calls: dict[str, Call], prefix: str) -> str:
    call_id = f"{agent['name']}@{r}"
    x, y = _xy(d, call_id)
    x0, y0 = x - BOX_W / 2, y - BOX_H / 2
    ran, call = r < d["rounds_run"], calls.get(call_id)
    if not agent["active"][r] or not ran:
        why = "skipped" if not agent["active"][r] else "not run (stopped)"
        return (
            f'<g class="idle" data-id="{e(call_id)}"><rect x="{x0}" y="{y0}" width="{BOX_W}" height="{BOX_H}" rx="8" '
            f'fill="#f4f4f4" stroke="#bbb" stroke-dasharray="2 3"/><text x="{x}" y="{y - 4}" text-anchor="middle" '
            f'fill="#999">{e(agent["name"])}</text><text x="{x}" y="{y + 12}" text-anchor="middle" fill="#999">'
            f"{why}</text></g>"
        )
    bad, failed = bool(agent["adversary"]), bool(call and call["error"])
    fill, stroke = ("#fbe4e4", "#b03030") if bad else ("#fff0f0", "#b00020") if failed else ("#e8f0fb", "#1f5fa8")
    tokens = f"{call['tokens'][0]}+{call['tokens'][1]} tok" if call else "no record"
    sub = f"adversary: {agent['adversary']}" if bad else ("failed" if failed else tokens)
    clickable = f' class="node" data-call="{e(call_id)}" data-prefix="{e(prefix)}"' if call else ' class="node-missing"'
    return (
        f'<g{clickable}><title>{e(call_id)}: {e(tokens)}</title><rect x="{x0}" y="{y0}" width="{BOX_W}" '
        f'height="{BOX_H}" rx="8" fill="{fill}" stroke="{stroke}"/>'
        f'<text x="{x}" y="{y - 12}" text-anchor="middle" font-weight="600">{e(agent["name"])}</text>'
        f'<text x="{x}" y="{y + 3}" text-anchor="middle">{e(agent["title"][:24])}</text>'
        f'<text x="{x}" y="{y + 18}" text-anchor="middle" fill="#555">{e(sub)}</text></g>'
    )


def _edge(d: ItemView, edge: ViewEdge) -> str:
    (x1, y1), (x2, y2) = _xy(d, edge["from"]), _xy(d, edge["to"])
    colour, dash = STATE_STYLE[edge["state"]]
    if edge["kind"] == "temporal" and edge["state"] == "carried":
        colour = TEMPORAL_COLOUR
    if edge["kind"] == "spatial":  # same column: bow out to the right of the boxes
        x1 = x2 = x1 + BOX_W / 2
        bend = 30 + abs(y2 - y1) / 6
        path = f"M{x1},{y1} C{x1 + bend},{y1} {x2 + bend},{y2} {x2},{y2}"
        lx, ly = x1 + bend * 0.75, (y1 + y2) / 2
    else:
        x1, x2 = x1 + BOX_W / 2, x2 - BOX_W / 2
        path = f"M{x1},{y1} L{x2},{y2}"
        lx, ly = x1 + (x2 - x1) * 0.78, y1 + (y2 - y1) * 0.78 - 4  # near the receiver: labels of a fan stay apart
    label = {"carried": f"{edge['tokens']} tok", "gated": f"gated ({edge['tokens']} saved)"}.get(
        edge["state"], "silent"
    )
    return (
        f'<g class="edge {e(edge["state"])} {e(edge["kind"])}" data-from="{e(edge["from"])}" data-to="{e(edge["to"])}">'
        f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.6" stroke-dasharray="{dash}" '
        f'marker-end="url(#arrow)"/><text x="{lx}" y="{ly}" text-anchor="middle" fill="{colour}">{e(label)}</text></g>'
    )


def svg(d: ItemView, prefix: str = "") -> str:
    """The team as it ran: a column per round, the decision at the right."""
    if not d["agents"]:
        return '<p class="muted">No readable graph was stored for this item.</p>'
    calls = {c["id"]: c for c in d["calls"]}
    width, height = 40 + d["rounds"] * COL + BOX_W + 40, 40 + len(d["agents"]) * ROW
    parts = [
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>'
    ]
    for r in range(d["rounds"]):
        parts.append(f'<text x="{20 + r * COL + BOX_W / 2}" y="16" text-anchor="middle" fill="#555">round {r}</text>')
    parts += [_edge(d, edge) for edge in d["edges"]]
    parts += [_node(d, a, r, calls, prefix) for a in d["agents"] for r in range(d["rounds"])]
    dx, dy = 20 + d["rounds"] * COL + BOX_W / 2, 30 + (len(d["agents"]) - 1) * ROW / 2 + BOX_H / 2
    dec = d["decision"]
    if dec is not None:
        for sender in dec["spatial_from"]:
            sx, sy = _xy(d, f"{sender}@{max(d['rounds_run'] - 1, 0)}")
            parts.append(
                f'<path d="M{sx + BOX_W / 2},{sy} L{dx - BOX_W / 2},{dy}" stroke="#555" fill="none" '
                'stroke-width="1" marker-end="url(#arrow)"/>'
            )
        label, sub, cls = (
            f"decision: {d.get('decision_kind', '')}",
            f"{dec['tokens'][0]}+{dec['tokens'][1]} tok",
            "node",
        )
        attrs = f' class="{cls}" data-call="decision" data-prefix="{e(prefix)}"'
    else:
        label = "no decision call" if not d["decide"] else f"decision: {d.get('decision_kind', '')}"
        sub = f"{d.get('answering', '?')}'s answer is the team's" if not d["decide"] else "no LLM call"
        attrs = ' class="decision-static"'
    parts.append(
        f'<g{attrs}><rect x="{dx - BOX_W / 2}" y="{dy - BOX_H / 2}" width="{BOX_W}" height="{BOX_H}" rx="8" '
        f'fill="#fdf1e0" stroke="#555"/><text x="{dx}" y="{dy - 4}" text-anchor="middle">{e(label)}</text>'
        f'<text x="{dx}" y="{dy + 12}" text-anchor="middle" fill="#555">{e(sub)}</text></g>'
    )
    return f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">{"".join(parts)}</svg>'


# -- pages ------------------------------------------------------------------------------------
def _facts(d: ItemView) -> str:
    rows = [
        ("question", d["question"] or "(not stored)"),
        ("gold", d["gold"]),
        ("extracted", d["extracted"]),
        ("score", f"{d['score']:.2f}"),
        ("answer", d["answer"]),
        ("tokens", f"{d['tokens'][0]:,} prompt + {d['tokens'][1]:,} completion"),
        ("calls", str(len(d["calls"]) + (d["decision"] is not None))),
        ("latency", f"{d['latency_s']:.1f} s"),
        ("rounds run", str(d["rounds_run"])),
    ]
    if d["error"]:
        rows.append(("error", d["error"]))
    cells = "".join(
        f"<tr><td>{e(k)}</td><td{' class=err' if k == 'error' else ''}>{e(str(v))}</td></tr>" for k, v in rows
    )
    return f'<table class="facts">{cells}</table>'


def _tool_run(run: ViewTool | None) -> str:
    """An agent's tool execution: what ran, how it ended, what it printed."""
    if not run:
        return ""
    head = f"tool {run['tool']}: {run['status']} in {run['time_s']:.2f} s" + (
        f" · result {run['result']}" if run["result"] else ""
    )
    code = f'<div class="role">code</div><pre>{e(run["code"])}</pre>' if run["code"] else ""
    return f'<div class="role">{e(head)}</div>{code}<div class="role">tool output</div><pre>{e(run["output"])}</pre>'


def _message(call: Call, prefix: str) -> str:
    model = f" · {call['model']}" if call.get("model") and call["model"] != "default" else ""
    head = (
        f"{call['agent']}{model} · round {call['round']} · {call['tokens'][0]}+{call['tokens'][1]} tokens · "
        f"cost {call.get('cost', 0.0):.3f} · {call['latency_s']:.1f} s · finish {call['finish']}"
        + (" · cached" if call["cached"] else "")
        + (f" · answer logprob {call['logprob']:.2f}" if isinstance(call.get("logprob"), (int, float)) else "")
    )
    heard = [*call["spatial_from"], *(f"{s} (last round)" for s in call["temporal_from"])]
    notes = f'<p class="muted">heard: {e(", ".join(heard) or "nobody")}'
    notes += f" · gated off: {e(', '.join(call['gated_from']))}" if call["gated_from"] else ""
    notes += "</p>"
    prompt = "".join(f'<div class="role">{e(m["role"])}</div><pre>{e(m["content"])}</pre>' for m in call["prompt"])
    error = f'<p class="err">error: {e(str(call["error"]))}</p>' if call["error"] else ""
    error += "".join(f'<p class="err">warning: {e(w)}</p>' for w in call.get("warnings", ()))
    return (
        f'<details id="{e(prefix)}call-{e(call["id"] if call["kind"] == "agent" else "decision")}">'
        f"<summary>{e(head)}</summary>{notes}{error}{prompt}"
        f'<div class="role">output</div><pre class="output">{e(call["output"])}</pre>'
        f"{_tool_run(call.get('tool'))}</details>"
    )


def pane(d: ItemView, prefix: str = "") -> str:
    """One run's view of one item."""
    calls = [*d["calls"], *([d["decision"]] if d["decision"] else [])]
    messages = (
        "".join(_message(c, prefix) for c in calls) or '<p class="muted">No messages were stored for this item.</p>'
    )
    legend = (
        '<p class="legend muted"><span>— carried (tokens)</span><span>- - gated off</span>'
        "<span>· · silent (nothing sent)</span><span>grey box: skipped / not run</span>"
        "<span>red box: adversary</span> · click an agent to open its messages</p>"
    )
    return (
        f'<section class="pane" data-run="{e(d["run"])}"><h2>run {e(d["run"])}</h2>{_facts(d)}{legend}'
        f"{svg(d, prefix)}<h2>Messages</h2>{messages}</section>"
    )


def item_page(views: Sequence[ItemView], index_href: str = "../index.html") -> str:
    """One item: one run's view, or several runs' side by side."""
    first = views[0]
    title = f"{first['item']} · " + " vs ".join(v["run"] for v in views)
    panes = "".join(pane(v, prefix=f"r{i}-") for i, v in enumerate(views))
    body = (
        f'<p><a href="{e(index_href)}">← all items</a></p><h1>{e(title)}</h1>'
        f'<div class="{"compare" if len(views) > 1 else "single"}">{panes}</div>'
    )
    return page(title, body)


def index_page(
    title: str, summary: str, rows: list[dict[str, object]], columns: list[dict[str, str]], page_size: int = 100
) -> str:
    """A run's items (or two runs' side by side): sortable, failures first, paged."""
    heads = "".join(f"<th>{e(c['label'])}</th>" for c in columns)
    data = _json({"rows": rows, "columns": columns, "page_size": page_size})
    body = (
        f"<h1>{e(title)}</h1><p>{e(summary)}</p>"
        '<p class="pager"><button id="prev">← previous</button><span id="page-info"></span>'
        '<button id="next">next →</button></p>'
        f'<table id="index"><thead><tr>{heads}</tr></thead><tbody></tbody></table>'
        f'<script type="application/json" id="index-data">{data}</script>'
        "<noscript>The index needs JavaScript; the item pages do not.</noscript>"
    )
    return page(title, body)
