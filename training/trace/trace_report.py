"""The Markdown report of a trace run: every proposal, its scores, the verdict and why."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentnet.training.trace.params import ParameterSet
from agentnet.training.trace.records import Evaluation, ProposalRecord


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _num(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _block(value: Any, kind: str = "") -> str:
    text = str(value).rstrip()
    fence = "````" if "```" in text else "```"
    return f"{fence}{kind}\n{text}\n{fence}"


def render_report(
    task: str,
    initial: ParameterSet,
    best_params: ParameterSet,
    baseline: Evaluation | None,
    best: Evaluation | None,
    records: Sequence[ProposalRecord],
) -> str:
    accepted = sum(r.accepted for r in records)
    opt_tokens = sum(r.optimizer_tokens for r in records)
    lines = [f"# Trace optimisation on {task}", ""]
    if baseline and best:
        lines += [
            f"- validation: {baseline.items} items; baseline score {baseline.score:.3f} at {baseline.tokens:.0f} "
            f"tokens/item; best {best.score:.3f} at {best.tokens:.0f} tokens/item",
        ]
    lines += [
        f"- proposals: {len(records)}, accepted {accepted}; optimiser tokens {opt_tokens}",
        f"- trainable: {', '.join(p.name for p in initial.trainable)}",
        "",
        "| step | changed | train score | val score | val tokens/item | best before | verdict | reason |",
        "|---:|---|---:|---:|---:|---:|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r.step} | {_cell(', '.join(r.changes) or '–')} | {r.train_score:.3f} | {_num(r.val_score, '.3f')} | "
            f"{_num(r.val_tokens, '.0f')} | {r.best_score:.3f} | **{r.verdict}** | {_cell(r.reason)} |"
        )
    lines += ["", "## Best parameters", ""]
    changed = initial.changed(best_params)
    if not changed:
        lines.append("Unchanged from the initial values.")
    for name, value in changed.items():
        p = best_params[name]
        lines += [f"### {name} ({p.type_label})", "", _block(value, "python" if p.kind == "code" else ""), ""]
    lines += ["", "## Proposals", ""]
    for r in records:
        lines += [f"### Step {r.step}: {r.verdict}", "", f"{r.reason}.", ""]
        if r.error:
            lines += [f"Error: {r.error}", ""]
        if r.notes:
            lines += ["Notes: " + "; ".join(r.notes), ""]
        if r.reasoning:
            lines += ["Reasoning:", "", _block(r.reasoning), ""]
        for name, value in r.changes.items():
            kind = "python" if name in initial.names and initial[name].kind == "code" else ""
            lines += [f"`{name}` →", "", _block(value, kind), ""]
        if not r.changes and r.raw:
            lines += ["Reply:", "", _block(r.raw), ""]
    return "\n".join(lines).rstrip() + "\n"


def write_report(
    path: Path,
    task: str,
    initial: ParameterSet,
    best_params: ParameterSet,
    baseline: Evaluation | None,
    best: Evaluation | None,
    records: Sequence[ProposalRecord],
) -> Path:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render_report(task, initial, best_params, baseline, best, records))
    tmp.replace(path)
    return path
