"""Before/after evaluation with the ordinary benchmark runner, and the run's Markdown report."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from agentnet.evaluation import evaluate
from agentnet.store import RunConfig, RunStore, RunSummary
from agentnet.task_types import Item, Task
from agentnet.training.optima.generate import Dialogue
from agentnet.training.optima.loop import OptimaConfig, Policy, Serve


async def evaluate_policy(
    serve: Serve,
    policy: Policy,
    dialogue: Dialogue,
    task: Task,
    items: Sequence[Item],
    store: RunStore,
    config: RunConfig,
    runs_file: Path,
) -> RunSummary:
    """Evaluate `policy` on `items` at the run config's temperature (0 unless set); the run id is kept in `runs_file`, so a
    killed evaluation resumes and a finished one is not repeated."""
    runs = json.loads(runs_file.read_text()) if runs_file.exists() else {}
    run_id = runs.get(policy.name)
    if run_id is None:
        run_id = runs[policy.name] = store.create_run(config, len(items))
        runs_file.write_text(json.dumps(runs, indent=1))
    if len(store.finished_items(run_id)) < len(items):
        async with serve(policy) as backend:
            team = dialogue.with_temperature(config.team.temperature).team(backend)
            await evaluate(team, task, items, store, run_id, concurrency=config.concurrency)
    return store.summary(run_id)


async def evaluate_before_after(
    serve: Serve,
    policies: Sequence[tuple[str, Policy]],
    dialogue: Dialogue,
    task: Task,
    items: Sequence[Item],
    store: RunStore,
    config: RunConfig,
    runs_file: Path,
    on_policy: Callable[[str, Policy], None] | None = None,
) -> list[tuple[str, RunSummary]]:
    """Each (label, policy) evaluated on the same items with the same run config (its model set to
    the policy's weights): Optima's before/after comparison, resumable through `runs_file`."""
    out = []
    for label, policy in policies:
        if on_policy:
            on_policy(label, policy)
        run = replace(config, model=policy.gguf or policy.hf_dir)
        summary = await evaluate_policy(serve, policy, dialogue, task, items, store, run, runs_file)
        out.append((f"{label}: {policy.name}", summary))
    return out


def _row(label: str, s: RunSummary) -> str:
    return (
        f"| {label} | {s.run.id} | {s.scored} | {s.accuracy:.3f} | {s.solved} | {s.completion_tokens_per_query:.1f} | "
        f"{s.tokens_per_query:.1f} | {s.failed} |"
    )


def write_report(
    path: Path,
    config: OptimaConfig,
    metrics: Sequence[dict[str, Any]],
    evaluations: Sequence[tuple[str, RunSummary]],
    command: str = "",
) -> Path:
    lines = ["# Optima run", ""]
    if command:
        lines += ["```", command, "```", ""]
    lines += [
        "## Iterations (training conversations, sampled at the iteration's policy)",
        "",
        "| iter | mode | policy | conversations | score | conv. tokens | reward | rows | train | next |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in metrics:
        train = m["train"]
        trained = (
            f"loss {train['loss_first']:.3f}→{train['loss_last']:.3f}, {train['seconds']}s"
            if train.get("loss_first") is not None
            else train.get("skipped", "")
        )
        lines.append(
            f"| {m['iteration']} | {m['mode']} | {m['policy']} | {m['conversations']} ({m['failed']} failed) | "
            f"{m['score']:.3f} | {m['tokens']:.1f} | {m['reward']:+.3f} | {m['rows']} | {trained} | {m['next_policy']} |"
        )
    if evaluations:
        lines += [
            "",
            "## Evaluation (temperature 0, the benchmark runner)",
            "",
            "| policy | run | items | score | solved | conv. tokens/item | all tokens/item | failed |",
            "|---|---|---|---|---|---|---|---|",
            *(_row(label, s) for label, s in evaluations),
        ]
        lines += [
            "",
            "*solved*: items with the full score (an F1 task's partial credit can rise from word overlap "
            "alone); *conv. tokens*: completion tokens, what the agents said; *all tokens*: prompt + completion.",
        ]
    lines += ["", "## Settings", "", "```json", json.dumps(asdict(config), indent=1), "```", ""]
    path.write_text("\n".join(lines))
    return path
