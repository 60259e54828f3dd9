"""The Trace loop: run the team on a minibatch, show the optimiser the trace and feedback, try
its proposal on a validation slice, keep it only if it is better.

"Better" is lexicographic: a higher mean validation score, or the same score with fewer
tokens per item. Candidates are always proposed from the best parameters so far (a
rejected edit is reverted), like a hill climb; the optimiser learns of rejections through
its memory. Every step is checkpointed (JSON) and logged (metrics.jsonl), and report.md
lists every proposal with its scores and the verdict, so a killed run resumes at the next
step and nothing it tried is lost.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agentnet.checks import check_fields
from agentnet.episodes import Episode, run_episode, run_team, score_episode
from agentnet.errors import AgentNetError, ConfigError, require_at_least_one
from agentnet.llm import LLMBackend
from agentnet.training.contract import Artefact
from agentnet.task_types import Item, Task
from agentnet.training.minibatches import Minibatches
from agentnet.training.trace.extract import resolve_suggestion
from agentnet.training.trace.optimizer import Optimizer, Stateful
from agentnet.training.trace.params import EXTRACT_FUNCTION, ParameterSet, TeamSpec, Value
from agentnet.training.trace.problem import build_problem, clip
from agentnet.training.trace.records import Evaluation, ProposalRecord
from agentnet.training.trace.trace_report import write_report
from agentnet.training.trace.sandboxed import CodeParamError, code_sandbox, run_function

if TYPE_CHECKING:
    from agentnet.runtime import Team

CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class TraceConfig:
    steps: int = field(default=10, metadata={"ge": 1, "help": "Proposals to make (one per step)."})
    batch: int = field(default=2, metadata={"ge": 1, "help": "Training items per step, shown to the optimiser."})
    concurrency: int = field(default=4, metadata={"ge": 1, "help": "Team runs in flight at once."})
    seed: int = field(default=0, metadata={"help": "Seed for the order of training items."})
    min_improvement: float = field(default=0.0, metadata={"help": "A score gain must exceed this to count."})
    max_value_chars: int = field(
        default=600, metadata={"ge": 1, "help": "Clip each intermediate value in the problem."}
    )
    show_expected: bool = field(default=True, metadata={"help": "Show the gold answer in #Feedback."})
    code_timeout_s: float = field(
        default=30.0, metadata={"gt": 0, "help": "Sandbox time for the extraction code per evaluation."}
    )

    def __post_init__(self) -> None:
        check_fields(self)
        require_at_least_one(self, "steps", "batch", "concurrency")
        if self.min_improvement < 0:
            raise ConfigError(f"min_improvement={self.min_improvement} must be 0 or more")


class CandidateError(AgentNetError):
    """A candidate parameter set that cannot be evaluated (bad team, crashing code)."""


def better(cand: Evaluation, best: Evaluation, min_improvement: float = 0.0) -> tuple[bool, str]:
    """Score first, then tokens; with the reason either way."""
    same = math.isclose(cand.score, best.score, abs_tol=1e-9)
    if not same and cand.score > best.score + min_improvement:
        return True, f"score {cand.score:.3f} > best {best.score:.3f}"
    if same and cand.tokens < best.tokens:
        return True, f"same score {cand.score:.3f}, tokens/item {cand.tokens:.0f} < best {best.tokens:.0f}"
    if same:
        return False, f"same score {cand.score:.3f}, tokens/item {cand.tokens:.0f} >= best {best.tokens:.0f}"
    if cand.score < best.score:
        return False, f"score {cand.score:.3f} < best {best.score:.3f}"
    return False, f"score gain {cand.score - best.score:.3f} is within min_improvement {min_improvement:g}"


@dataclass(frozen=True)
class TraceResult:
    params: ParameterSet
    spec: TeamSpec  # the best parameters applied
    baseline: Evaluation
    best: Evaluation
    records: list[ProposalRecord]
    report: Path


class TraceLoop:
    """Optimise `params` of the team `spec` on `task` with `optimizer`; state lives in `out_dir`."""

    def __init__(
        self,
        spec: TeamSpec,
        params: ParameterSet,
        task: Task,
        train_items: Sequence[Item],
        val_items: Sequence[Item],
        backend: LLMBackend,
        optimizer: Optimizer,
        config: TraceConfig,
        out_dir: str | Path,
    ):
        if not train_items:
            raise ConfigError("no training items; raise --train or check the task's split")
        if not val_items:
            raise ConfigError("no validation items; raise --val or check the task's split")
        if not params.trainable:
            raise ConfigError("no trainable parameters; choose groups such as prompts,rounds")
        params.apply(spec).graph()  # a bad spec or parameter fails here, not at step 0
        self.spec, self.initial, self.params = spec, params, params
        self.task, self.train_items, self.val_items = task, list(train_items), list(val_items)
        self.backend, self.optimizer, self.config = backend, optimizer, config
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.step = 0
        self.resumed = False
        self.baseline: Evaluation | None = None
        self.best: Evaluation | None = None
        self.records: list[ProposalRecord] = []
        self._batches = Minibatches(self.train_items, config.batch, config.seed)
        self._sandbox = code_sandbox(config.code_timeout_s)

    # -- files ---------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoint.json"

    @property
    def metrics_path(self) -> Path:
        return self.out_dir / "metrics.jsonl"

    @property
    def report_path(self) -> Path:
        return self.out_dir / "report.md"

    @property
    def best_path(self) -> Path:
        return self.out_dir / "best_params.json"

    def resume(self) -> bool:
        """Load out_dir's checkpoint, if any; True when one was found."""
        if not self.checkpoint_path.exists():
            return False
        data = json.loads(self.checkpoint_path.read_text())
        if data.get("version") != CHECKPOINT_VERSION:
            raise ConfigError(
                f"{self.checkpoint_path} has checkpoint version {data.get('version')}; "
                f"this agentnet writes {CHECKPOINT_VERSION}; use a new --out"
            )
        saved = ParameterSet.from_dict(data["initial"])
        if saved.names != self.initial.names or TeamSpec.from_dict(data["spec"]) != self.spec:
            raise ConfigError(
                f"{self.out_dir} holds a run of another team or parameters ({', '.join(saved.names)}); "
                "use another --out, or the same team and --params to resume"
            )
        self.step, self.params = data["step"], ParameterSet.from_dict(data["params"])
        self.baseline = Evaluation.from_dict(data["baseline"]) if data.get("baseline") else None
        self.best = Evaluation.from_dict(data["best"]) if data.get("best") else None
        self.records = [ProposalRecord(**r) for r in data["records"]]
        if isinstance(self.optimizer, Stateful) and data.get("optimizer"):
            self.optimizer.load_state_dict(data["optimizer"])
        self._trim_metrics()
        self.resumed = True
        return True

    def _trim_metrics(self) -> None:
        """Drop metrics lines of steps the checkpoint does not have (a crash between the writes)."""
        if not self.metrics_path.exists():
            return
        lines = [ln for ln in self.metrics_path.read_text().splitlines() if ln.strip()]
        keep = [ln for ln in lines if json.loads(ln).get("step", -1) < self.step]
        self.metrics_path.write_text("".join(ln + "\n" for ln in keep))

    def _save(self, record: ProposalRecord | None) -> None:
        data = {
            "version": CHECKPOINT_VERSION,
            "step": self.step,
            "spec": self.spec.to_dict(),
            "initial": self.initial.to_dict(),
            "params": self.params.to_dict(),
            "baseline": asdict(self.baseline) if self.baseline else None,
            "best": asdict(self.best) if self.best else None,
            "records": [asdict(r) for r in self.records],
            "config": asdict(self.config),
            "optimizer": self.optimizer.state_dict() if isinstance(self.optimizer, Stateful) else None,
        }
        tmp = self.checkpoint_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.checkpoint_path)
        if record is not None:
            with self.metrics_path.open("a") as f:
                f.write(json.dumps(record.metrics()) + "\n")
        self.best_path.write_text(json.dumps(self.params.to_dict(), indent=1))
        write_report(
            self.report_path,
            getattr(self.task, "name", "task"),
            self.initial,
            self.params,
            self.baseline,
            self.best,
            self.records,
        )

    # -- running -------------------------------------------------------------------------------
    def _team(self, spec: TeamSpec) -> Team:
        from agentnet.assembly.team import team_for  # the runtime (LangGraph) loads with the first run, not the CLI

        return team_for(self.task, spec.graph(), self.backend)

    async def run_items(self, params: ParameterSet, items: Sequence[Item], *, strict: bool = True) -> list[Episode]:
        """Run the team with `params` on `items` and score them.

        `CandidateError` when the team cannot be built or, if `strict` (validation), when the
        extraction code fails on any output; otherwise (training) such failures become the
        episodes' errors, which the optimiser sees as feedback.
        """
        try:
            spec = params.apply(self.spec)
            team = self._team(spec)
        except AgentNetError as e:
            raise CandidateError(f"the team cannot be built: {e}") from e
        gate = asyncio.Semaphore(self.config.concurrency)
        if spec.extract_code is None:
            return list(await asyncio.gather(*(run_episode(team, self.task, item, gate=gate) for item in items)))
        # the extraction code reads every output in one sandboxed process, between the runs and the scoring
        runs = await asyncio.gather(*(run_team(team, item, gate=gate) for item in items))
        answers = [t.answer for t in runs]
        code_errors: list[str | None] = [None] * len(items)
        try:
            result = await run_function(spec.extract_code, EXTRACT_FUNCTION, answers, self._sandbox)
            answers, code_errors = result.values, result.errors
        except CodeParamError as e:
            if strict:
                raise CandidateError(str(e)) from e
            answers, code_errors = [""] * len(items), [str(e)] * len(items)
        failed = [e for e in code_errors if e]
        if strict and failed:
            raise CandidateError(
                f"{EXTRACT_FUNCTION}() raised on {len(failed)}/{len(items)} outputs; first: {failed[0]}"
            )
        read = zip(items, runs, answers, code_errors)
        scored = (score_episode(self.task, item, t, answer=a, read_error=e) for item, t, a, e in read)
        return list(await asyncio.gather(*scored))

    @staticmethod
    def summarise(episodes: Sequence[Episode]) -> Evaluation:
        n = len(episodes)
        return Evaluation(
            score=sum(e.score.value for e in episodes) / n,
            tokens=sum(e.trajectory.usage.total_tokens for e in episodes) / n,
            items=n,
            failed_runs=sum(e.trajectory.failed for e in episodes),
        )

    async def evaluate(self, params: ParameterSet) -> Evaluation:
        return self.summarise(await self.run_items(params, self.val_items))

    async def _step(self) -> ProposalRecord:
        assert self.best is not None  # set by _ensure_baseline
        best = self.best
        episodes = await self.run_items(self.params, self._batches.at(self.step), strict=False)
        train = self.summarise(episodes)
        problem = build_problem(
            getattr(self.task, "name", "task"),
            self.spec,
            self.params,
            episodes,
            max_chars=self.config.max_value_chars,
            show_expected=self.config.show_expected,
        )
        proposal = await self.optimizer.propose(problem)
        record = ProposalRecord(
            step=self.step,
            verdict="error",
            reason="",
            changes={},
            reasoning=proposal.reasoning,
            notes=list(proposal.notes),
            error=proposal.error,
            train_score=train.score,
            train_tokens=train.tokens,
            best_score=best.score,
            best_tokens=best.tokens,
            optimizer_tokens=proposal.usage.total_tokens,
            raw=clip(proposal.raw, 4000),
        )
        if proposal.error:
            record.reason = "the optimiser gave no usable suggestion"
            return record
        changes, notes = resolve_suggestion(self.params, proposal.suggestion)
        record.changes, record.notes = changes, record.notes + notes
        if not changes:
            record.verdict = "no change"
            record.reason = "TERMINATE" if proposal.terminate else "the suggestion changes no trainable value"
            if notes:
                record.reason += f" ({len(notes)} value(s) unusable)"
            return record
        candidate = self.params.with_values(changes)
        try:
            val = await self.evaluate(candidate)
        except CandidateError as e:
            record.verdict, record.reason, record.error = "rejected", "the candidate failed to run", str(e)
            self._tell(changes, f"rejected: {e}")
            return record
        record.val_score, record.val_tokens = val.score, val.tokens
        ok, why = better(val, best, self.config.min_improvement)
        record.verdict, record.reason = ("accepted" if ok else "rejected"), why
        if ok:
            self.params, self.best = candidate, val
        else:
            self._tell(changes, f"rejected on validation: {why}")
        return record

    def _tell(self, changes: dict[str, Value], verdict: str) -> None:
        """Let a stateful optimiser remember a rejected proposal, so it does not repeat it."""
        if isinstance(self.optimizer, Stateful):
            self.optimizer.remember({**self.params.values(), **changes}, verdict)

    async def _ensure_baseline(self) -> None:
        if self.best is None:
            try:
                self.baseline = self.best = await self.evaluate(self.params)
            except CandidateError as e:
                raise ConfigError(f"the initial parameters do not run: {e}") from e
            self._save(None)

    def ensure_baseline(self) -> Evaluation:
        """The initial parameters' validation score (run once; a resumed run has it already)."""
        if self.best is None:
            asyncio.run(self._ensure_baseline())
        assert self.best is not None
        return self.best

    def train_step(self) -> ProposalRecord:
        """One proposal: minibatch → problem → propose → validate → accept or reject → checkpoint."""

        async def go() -> ProposalRecord:
            await self._ensure_baseline()
            return await self._step()

        record = asyncio.run(go())
        self.records.append(record)
        self.step += 1
        self._save(record)
        return record

    def run(self, on_step: Callable[[ProposalRecord], None] | None = None) -> TraceResult:
        """The remaining steps; then the best parameters, their scores and the report's path."""
        self.ensure_baseline()
        while self.step < self.config.steps:
            record = self.train_step()
            if on_step:
                on_step(record)
        assert self.baseline is not None and self.best is not None
        self._save(None)
        return TraceResult(
            self.params, self.params.apply(self.spec), self.baseline, self.best, list(self.records), self.report_path
        )

    def fit(self, on_step: Callable[[ProposalRecord], None] | None = None) -> Artefact:
        """Resume from out_dir if it holds a checkpoint, run the remaining steps; the best parameters."""
        if not self.resumed:
            self.resume()
        result = self.run(on_step)
        use = f"ParameterSet.from_dict(json.loads(Path({str(self.best_path)!r}).read_text())).apply(spec)"
        return Artefact("params", self.best_path, use, details=result)
