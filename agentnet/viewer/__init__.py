"""See a run: static, self-contained HTML pages from the run store (`agentnet show`).

`write_viewer(store, run_id, out_dir)` writes `index.html` (every item, sortable, failures first,
paged) and `items/<item>.html` (the team drawn round by round as it ran, each call's prompt and
output a click away). With `compare=(other_run, …)` each item page shows the runs side by side
and the index puts their scores beside each other. With `item=` only that item's page (and the
index) is written. Pages open from disk: nothing is fetched at view time. The pages are written
into a temporary directory and moved into `out_dir` once complete (`agentnet.outputs.staged`): an
`out_dir` that is a file or cannot be written is one line, and a failure leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agentnet.errors import ConfigError
from agentnet.outputs import moved, staged
from agentnet.store import ResultRow, RunStore
from agentnet.viewer.data import file_name, index_data, item_data
from agentnet.viewer.page import index_page, item_page


def _rows(store: RunStore, run_id: str, rows: Sequence[ResultRow] | None = None) -> dict[str, ResultRow]:
    store.run(run_id)  # an unknown id: one line naming the recent ones
    return {r.item_id: r for r in (rows if rows is not None else store.results(run_id, with_trajectories=True))}


def _unknown_item(item: str, run_id: str, known: Sequence[str]) -> ConfigError:
    shown = ", ".join(list(known)[:5]) + (", …" if len(known) > 5 else "")
    return ConfigError(f"run {run_id} has no item {item!r}; its items: {shown or '(none yet)'}")


def write_viewer(
    store: RunStore,
    run_id: str,
    out_dir: Path,
    *,
    item: str | None = None,
    compare: Sequence[str] = (),
    rows: Sequence[ResultRow] | None = None,
) -> Path:
    """Write the pages; returns the page to open (the item's, or the index). `rows`: `run_id`'s
    results with trajectories, when the caller has read them already."""
    with staged(Path(out_dir)) as tmp:
        page = write_pages(store, run_id, tmp, item=item, compare=compare, rows=rows)
    return moved(page, tmp, out_dir)


def write_pages(
    store: RunStore,
    run_id: str,
    out_dir: Path,
    *,
    item: str | None = None,
    compare: Sequence[str] = (),
    rows: Sequence[ResultRow] | None = None,
) -> Path:
    """`write_viewer` straight into `out_dir` (for a caller that stages its own output, like the report)."""
    runs = [run_id, *compare]
    if len(set(runs)) < len(runs):
        raise ConfigError(f"--compare repeats a run ({', '.join(runs)}); compare different runs")
    results = {r: _rows(store, r, rows if r == run_id else None) for r in runs}  # all checked before a file is written
    main = results[run_id]
    if item is not None:
        for r in runs:
            if item not in results[r]:
                raise _unknown_item(item, r, list(results[r]))
    items = [item] if item is not None else list(main)
    (out_dir / "items").mkdir(parents=True, exist_ok=True)
    for i in items:
        views = [item_data(results[r][i], r) for r in runs if i in results[r]]
        (out_dir / "items" / file_name(i)).write_text(item_page(views), encoding="utf-8")
    index = out_dir / "index.html"
    index.write_text(_index(store, runs, results, set(items)), encoding="utf-8")
    return out_dir / "items" / file_name(item) if item is not None else index


def _index(store: RunStore, runs: list[str], results: dict[str, dict[str, ResultRow]], written: set[str]) -> str:
    main = index_data(list(results[runs[0]].values()))
    columns: list[dict[str, str]] = [
        {"key": "item", "label": "item", "link": "href"},
        {"key": "score", "label": "score", "fmt": "score"},
        {"key": "tokens", "label": "tokens", "fmt": "int"},
        {"key": "calls", "label": "calls", "fmt": "int"},
        {"key": "latency_s", "label": "latency", "fmt": "s"},
        {"key": "gold", "label": "gold"},
        {"key": "extracted", "label": "extracted"},
    ]
    for row in main:
        row["href"] = f"items/{row['file']}" if row["item"] in written else ""
    for k, other in enumerate(runs[1:], start=1):
        theirs = {r["item"]: r for r in index_data(list(results[other].values()))}
        for row in main:
            mine = theirs.get(row["item"], {})
            row[f"score_{k}"], row[f"tokens_{k}"] = mine.get("score"), mine.get("tokens")
        columns += [
            {"key": f"score_{k}", "label": f"score ({other})", "fmt": "score"},
            {"key": f"tokens_{k}", "label": f"tokens ({other})", "fmt": "int"},
        ]
    s = store.summary(runs[0])
    c = s.run.config
    summary = (
        f"{c.task}/{c.split} · {c.topology} · {c.model} · {s.scored} items scored · accuracy "
        f"{s.accuracy:.1%} · {s.tokens_per_query:,.0f} tokens/query · failures first; click a header to sort"
    )
    title = "agentnet run " + " vs ".join(runs)
    return index_page(title, summary, main, columns)


__all__ = ["write_pages", "write_viewer"]
