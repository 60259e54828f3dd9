"""One Optima session as the CLI runs it: train the agents on their own best conversations, then
evaluate the base and the final policy on the same items with the benchmark runner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from agentnet.outputs import check_target
from agentnet.assembly.team import agents_for
from agentnet.assembly.items import load_items
from agentnet.configs import ItemsConfig, TeamConfig
from agentnet.graph import Decision
from agentnet.serving import ServeConfig
from agentnet.store import RunConfig, RunStore, RunSummary
from agentnet.tasks import TaskConfig
from agentnet.training.optima.finetune import FinetuneConfig
from agentnet.training.optima.loop import OptimaConfig, OptimaTrainer, Policy


@dataclass(frozen=True)
class OptimaSession:
    items: ItemsConfig
    optima: OptimaConfig
    tune: FinetuneConfig
    team: TeamConfig  # roles, rounds and max tokens of the dialogue
    serve: ServeConfig  # engine and base model
    data: TaskConfig
    timeout: float = 120.0
    eval_limit: int = 20
    eval_split: str = "test"


@dataclass(frozen=True)
class OptimaOutcome:
    trainer: OptimaTrainer
    final: Policy
    evaluations: list[tuple[str, RunSummary]]


def run_session(
    s: OptimaSession,
    out_dir: Path,
    store_path: Path,
    *,
    announce: Callable[[str], None] = lambda line: None,
    on_conversation: Callable[[Any], None] | None = None,
    on_iteration: Callable[[Any], None] | None = None,
    on_evaluation: Callable[[str, Policy], None] | None = None,
) -> OptimaOutcome:
    from agentnet.training.optima.finetune import BaseModelNLL, quiet
    from agentnet.training.optima.generate import Dialogue
    from agentnet.training.optima.policy import LoRALearner, base_policy, serve_policies
    from agentnet.training.optima.optima_report import evaluate_before_after

    check_target(Path(out_dir))  # a file or /proc as --out: one line before any model loads or server starts
    tune = replace(s.tune, lora_alpha=2 * s.tune.lora_r)
    quiet()
    data = replace(s.data, seed=s.optima.seed)
    task, items = load_items(s.items, data)
    roles = s.team.roles or task.roles
    team = replace(s.team, roles=roles, agents=len(roles), temperature=s.optima.temperature)
    dialogue = Dialogue(agents_for(team, task), team.rounds, Decision("last_agent"))
    base = base_policy(s.serve.model)
    policies = serve_policies(s.serve.engine, lora_rank=tune.lora_r, timeout_s=s.timeout)
    learner = LoRALearner(base, tune, keep_merged=s.optima.mode != "sft")
    announce(
        f"optima {s.optima.mode} · {s.items.task}/{s.items.split} · {len(items)} items × {s.optima.samples} samples · "
        f"{s.optima.iterations} iteration(s) · {base.name} on {s.serve.engine} · {out_dir}"
    )
    trainer = OptimaTrainer(
        task,
        items,
        dialogue,
        base,
        policies,
        learner,
        BaseModelNLL(Path(base.hf_dir)),
        s.optima,
        out_dir,
        on_conversation=on_conversation,
    )
    if trainer.resumed:
        announce(f"resuming {out_dir} after iteration {trainer.completed}/{s.optima.iterations}")
    final: Policy = trainer.fit(on_iteration).details
    evaluations: list[tuple[str, RunSummary]] = []
    if s.eval_limit > 0:
        eval_task, eval_items = load_items(ItemsConfig(s.items.task, s.eval_split, s.eval_limit), data)
        run = RunConfig(
            task=s.items.task,
            split=s.eval_split,
            limit=s.eval_limit,
            concurrency=s.optima.concurrency,
            team=replace(
                team,
                topology="chain",
                decision="last_agent",
                early_stop=True,
                temporal="complete",
                temperature=0.0,
                seed=s.optima.seed,
            ),
            engine=s.serve.engine,
        )
        with RunStore(store_path) as store:
            evaluations = asyncio.run(
                evaluate_before_after(
                    policies,
                    [("before", base), ("after", final)],
                    dialogue,
                    eval_task,
                    eval_items,
                    store,
                    run,
                    out_dir / "eval-runs.json",
                    on_evaluation,
                )
            )
    return OptimaOutcome(trainer, final, evaluations)


def run_optima(s: OptimaSession, out_dir: Path, store_path: Path, command: str, out: Console, err: Console) -> None:
    """The session with its progress on `err`; writes OUT/report.md (`command`: the command line it
    names) and prints it, then where the final policy is."""
    from rich.progress import Progress

    from agentnet.training.optima.optima_report import write_report

    with Progress(console=err) as progress:
        bar = progress.add_task("optima", total=None)
        done = run_session(
            s,
            out_dir,
            store_path,
            announce=lambda line: err.print(line, highlight=False),
            on_conversation=lambda c: progress.update(
                bar, advance=1, description=f"conversations · last score {c.score:.0f}"
            ),
            on_iteration=lambda m: err.print(
                f"iteration {m.iteration} ({m.mode}): score {m.score:.3f} · tokens {m.tokens:.1f}"
                f" · reward {m.reward:+.3f} · {m.rows} rows · {m.train}"
            ),
            on_evaluation=lambda label, p: progress.update(bar, description=f"evaluating {label} ({p.name})"),
        )
    report_path = write_report(out_dir / "report.md", s.optima, done.trainer.metrics(), done.evaluations, command)
    out.print(report_path.read_text(), highlight=False)
    out.print(
        f"report: {report_path}\nfinal policy: {done.final.gguf or done.final.adapter or done.final.hf_dir}",
        highlight=False,
    )
