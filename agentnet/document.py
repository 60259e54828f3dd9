"""A report as plain blocks — `(kind, payload)` with kind h1 h2 h3 p ul table img link; a table
cell or a `link` block may be a `Link` — and its two
renderings: Markdown (model output made inert: no raw HTML, no table-breaking pipes) and one
self-contained, escaped HTML page."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Block = tuple[str, Any]


@dataclass(frozen=True)
class Link:
    text: str
    href: str  # relative to the report's directory


def _md_cell(c: Any) -> str:
    return f"[{_md_text(c.text)}]({c.href.replace(' ', '%20')})" if isinstance(c, Link) else _md_text(c)


def _html_cell(c: Any) -> str:
    return f'<a href="{html.escape(c.href)}">{html.escape(c.text)}</a>' if isinstance(c, Link) else html.escape(str(c))


def _md_text(text: str) -> str:
    """Cells hold model output: no raw HTML, no table-breaking pipes or newlines."""
    return " ".join(str(text).replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|").split())


def to_markdown(doc: Sequence[Block]) -> str:
    out: list[str] = []
    for kind, payload in doc:
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + _md_text(payload))
        elif kind == "p":
            out.append(_md_text(payload))
        elif kind == "ul":
            out.append("\n".join(f"- {_md_text(item)}" for item in payload))
        elif kind == "img":
            out.append(f"![{_md_text(payload[1])}]({payload[0]})")
        elif kind == "link":
            out.append(_md_cell(payload))
        elif kind == "table":
            head, rows = payload
            lines = [head, ["---"] * len(head), *rows]
            out.append("\n".join("| " + " | ".join(_md_cell(c) for c in line) + " |" for line in lines))
    return "\n\n".join(out) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}th{background:#f3f3f3}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
tr:nth-child(even) td{background:#fafafa}img{max-width:100%;border:1px solid #eee}"""


def to_html(doc: Sequence[Block], title: str = "AgentNet report") -> str:
    e = html.escape
    body: list[str] = []
    for kind, payload in doc:
        if kind in ("h1", "h2", "h3", "p"):
            body.append(f"<{kind}>{e(payload)}</{kind}>")
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{e(item)}</li>" for item in payload) + "</ul>")
        elif kind == "img":
            body.append(f'<p><img src="{e(payload[0])}" alt="{e(payload[1])}"></p>')
        elif kind == "link":
            body.append(f"<p>{_html_cell(payload)}</p>")
        elif kind == "table":
            head, rows = payload
            cells = "".join(f"<th>{e(h)}</th>" for h in head)
            trs = "".join("<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
            body.append(f"<table><thead><tr>{cells}</tr></thead><tbody>{trs}</tbody></table>")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
        f"<style>{_CSS}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
