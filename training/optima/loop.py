"""The Optima loop: generate → rank → select → train, per iteration, resumable.

Each iteration serves the current policy, samples `samples` conversations per training item
(iteration 0 under the format pool), scores and rewards them, then either
  sft: keeps each item's best conversation (iSFT) and fine-tunes the *base* model on it, or
  dpo: grows each item's conversation tree (MCTS-style expansions), forms chosen/rejected
       pairs and runs DPO on top of the current policy,
and the result is exported as the next policy. Everything an iteration produces is under
`out_dir/iter-N/` (samples.jsonl is written as conversations finish, so a killed iteration
does not sample them again; iDPO's tree expansions are redrawn); `state.json` records finished iterations and the current policy;
`metrics.jsonl` has one row per iteration.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from agentnet.checks import check_fields
from agentnet.errors import ConfigError, require_at_least_one
from agentnet.llm import LLMBackend
from agentnet.task_types import Item, Task
from agentnet.training.contract import Artefact
from agentnet.training.optima.generate import Dialogue, check_formats, converse, formats
from agentnet.training.optima.mcts import Node, Tree, keep_top, pairs, select
from agentnet.training.optima.reward import NLL, RewardConfig, conversation_reward, conversation_tokens, turns
from agentnet.training.optima.select import Sample, plain_prompt, select_sft, sft_rows
from agentnet.types import Completion

Mode = Literal["sft", "dpo", "sft-dpo"]


@dataclass(frozen=True)
class OptimaConfig:
    mode: Mode = field(default="sft", metadata={"help": "sft (iSFT), dpo (iDPO) or sft-dpo (alternating)."})
    iterations: int = field(default=2, metadata={"ge": 1, "help": "Generate-rank-select-train iterations."})
    samples: int = field(default=4, metadata={"ge": 1, "help": "Conversations sampled per item (Optima: 15)."})
    temperature: float = field(
        default=0.8, metadata={"ge": 0, "le": 2, "help": "Sampling temperature while generating."}
    )
    formats: tuple[str, ...] = field(default=(), metadata={"help": "Iteration-0 format seeds; () = the whole pool."})
    sft_threshold: float = field(default=0.6, metadata={"help": "iSFT: an item's best must reach this reward."})
    sft_top: float = field(
        default=0.7, metadata={"gt": 0, "le": 1, "help": "iSFT: keep this fraction of the best conversations."}
    )
    dpo_rounds: int = field(default=2, metadata={"ge": 0, "help": "iDPO: select-expand rounds per item."})
    dpo_select: int = field(default=2, metadata={"ge": 0, "help": "iDPO: nodes expanded per item and round."})
    dpo_children: int = field(default=3, metadata={"ge": 1, "help": "iDPO: continuations sampled per expanded node."})
    dpo_min_best: float = field(default=0.2, metadata={"help": "iDPO: a pair's chosen value must exceed this."})
    dpo_min_gap: float = field(default=0.45, metadata={"help": "iDPO: chosen − rejected value must exceed this."})
    dpo_keep: float = field(
        default=0.5, metadata={"gt": 0, "le": 1, "help": "iDPO: keep this fraction of pairs (by chosen value)."}
    )
    concurrency: int = field(default=4, metadata={"ge": 1, "help": "Conversations in flight at once."})
    seed: int = field(default=0, metadata={"help": "Seed for generated tasks, sampling and item order."})
    reward: RewardConfig = field(default_factory=RewardConfig)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.mode not in ("sft", "dpo", "sft-dpo"):
            raise ConfigError(f"mode={self.mode!r}: use sft, dpo or sft-dpo")
        require_at_least_one(self, "iterations", "samples", "concurrency", "dpo_children")
        if self.mode != "sft" and self.samples < 2:
            raise ConfigError("DPO needs at least 2 samples per item to compare")
        check_formats(self.formats)

    def step_mode(self, iteration: int) -> Literal["sft", "dpo"]:
        if self.mode == "sft-dpo":
            return "sft" if iteration % 2 == 0 else "dpo"
        return self.mode


@dataclass(frozen=True)
class Policy:
    """A model the team can be served with: an HF dir (+ LoRA adapter) and, for llama.cpp, a GGUF."""

    name: str
    hf_dir: str  # the base weights the adapter (if any) applies to
    gguf: str | None = None  # base + adapter merged, for llama.cpp
    adapter: str | None = None
    merged_hf: str | None = None  # base + adapter as HF weights (what DPO trains on next)


Serve = Callable[[Policy], AbstractAsyncContextManager[LLMBackend]]


class Learner(Protocol):
    def learn(
        self, policy: Policy, mode: str, rows: list[dict[str, Any]], out_dir: Path
    ) -> tuple[Policy, dict[str, Any]]:
        """Train on rows; return the new policy and what to record (losses, seconds)."""
        ...


@dataclass
class IterationMetrics:
    iteration: int
    mode: str
    policy: str
    conversations: int
    score: float  # mean task score of the conversations sampled this iteration
    tokens: float  # mean conversation tokens
    reward: float
    failed: int
    rows: int  # training rows (SFT) or pairs (DPO) selected
    train: dict[str, object] = field(default_factory=dict)
    next_policy: str = ""


class OptimaTrainer:
    def __init__(
        self,
        task: Task,
        items: Sequence[Item],
        dialogue: Dialogue,
        base: Policy,
        serve: Serve,
        learner: Learner,
        nll: NLL,
        config: OptimaConfig,
        out_dir: Path,
        on_conversation: Callable[[Sample], None] | None = None,
    ):
        if not items:
            raise ConfigError("no training items; check --split/--limit")
        self.task, self.items, self.dialogue, self.base = task, list(items), dialogue, base
        self.serve, self.learner, self.nll, self.config = serve, learner, nll, config
        self.out_dir, self.on_conversation = out_dir, on_conversation
        self.state_path = out_dir / "state.json"
        self.metrics_path = out_dir / "metrics.jsonl"
        self.completed, self.policy = 0, base
        self.resumed = self.state_path.exists()
        if self.resumed:
            state = json.loads(self.state_path.read_text())
            self.completed, self.policy = state["completed"], Policy(**state["policy"])

    # -- generate ----------------------------------------------------------------------------
    async def _sample(self, backend: LLMBackend, iteration: int, path: Path) -> list[Sample]:
        done = _read_samples(path)
        have: dict[str, int] = {}
        for s in done:
            have[s.item_id] = have.get(s.item_id, 0) + 1
        pool = list(self.config.formats or sorted(formats())) if iteration == 0 else [""]
        jobs = [(item, k) for item in self.items for k in range(have.get(item.id, 0), self.config.samples)]
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(item: Item, k: int) -> None:
            fmt = pool[k % len(pool)]
            episode = await converse(self.dialogue, self.task, item, backend, fmt=fmt, gate=gate)
            sample = Sample(item.id, episode.trajectory, episode.score.value, fmt)
            with path.open("a") as f:
                f.write(json.dumps(sample.to_dict()) + "\n")
            done.append(sample)
            if self.on_conversation:
                self.on_conversation(sample)

        await asyncio.gather(*(one(item, k) for item, k in jobs))
        return done

    def _rewarded(self, samples: Sequence[Sample], scale: int) -> list[Sample]:
        speakers = self.dialogue.speakers()
        return [
            Sample(
                s.item_id,
                s.trajectory,
                s.score,
                s.format,
                conversation_reward(s.trajectory, s.score, scale, self.nll, self.config.reward, speakers),
            )
            for s in samples
        ]

    # -- iDPO ------------------------------------------------------------------------------
    async def _pairs(self, backend: LLMBackend, samples: Sequence[Sample], scale: int, iteration: int) -> list[dict]:
        rng = random.Random(self.config.seed * 1009 + iteration)
        by_id = {item.id: item for item in self.items}
        trees: dict[str, Tree] = {}
        for s in samples:
            if not s.trajectory.failed and s.reward is not None:
                trees.setdefault(s.item_id, Tree()).add(turns(s.trajectory), s.reward.total)
        gate = asyncio.Semaphore(self.config.concurrency)

        async def expand(item_id: str, node: Node) -> None:
            prefix = [Completion(n.output, "stop", n.usage, 0.0) for n in node.path()]
            episode = await converse(self.dialogue, self.task, by_id[item_id], backend, prefix=prefix, gate=gate)
            if episode.failed:
                return
            (rewarded,) = self._rewarded([Sample(item_id, episode.trajectory, episode.score.value)], scale)
            trees[item_id].add(turns(episode.trajectory), rewarded.total)
            if self.on_conversation:
                self.on_conversation(rewarded)

        for _ in range(self.config.dpo_rounds):
            jobs = [
                (item_id, node)
                for item_id, tree in trees.items()
                for node in select(tree, self.config.dpo_select, rng)
                for _ in range(self.config.dpo_children)
            ]
            await asyncio.gather(*(expand(item_id, node) for item_id, node in jobs))
        found = [
            p
            for tree in trees.values()
            for p in pairs(tree, min_best=self.config.dpo_min_best, min_gap=self.config.dpo_min_gap)
        ]
        systems = self.dialogue.systems()
        return [
            {
                "prompt": plain_prompt(p.prompt, systems, p.agent),
                "chosen": [{"role": "assistant", "content": p.chosen}],
                "rejected": [{"role": "assistant", "content": p.rejected}],
            }
            for p in keep_top(found, self.config.dpo_keep)
        ]

    # -- the loop --------------------------------------------------------------------------
    async def _iteration(self, iteration: int) -> IterationMetrics:
        mode = self.config.step_mode(iteration)
        folder = self.out_dir / f"iter-{iteration}"
        folder.mkdir(parents=True, exist_ok=True)
        async with self.serve(self.policy) as backend:
            raw = await self._sample(backend, iteration, folder / "samples.jsonl")
            ok = [s for s in raw if not s.trajectory.failed]
            scale = max((conversation_tokens(s.trajectory) for s in ok), default=1)
            samples = self._rewarded(ok, scale)
            if mode == "sft":
                rows = sft_rows(
                    select_sft(samples, self.config.sft_threshold, self.config.sft_top), self.dialogue.systems()
                )
            else:
                rows = await self._pairs(backend, samples, scale, iteration)
        (folder / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        metrics = IterationMetrics(
            iteration,
            mode,
            self.policy.name,
            len(raw),
            score=_mean([s.score for s in samples]),
            tokens=_mean([s.reward.tokens for s in samples if s.reward]),
            reward=_mean([s.total for s in samples]),
            failed=len(raw) - len(ok),
            rows=len(rows),
        )
        if rows:
            policy, metrics.train = self.learner.learn(self.policy, mode, rows, folder)
        else:  # nothing cleared the bar: keep the policy (and say so in the metrics)
            policy, metrics.train = self.policy, {"skipped": "no rows selected"}
        metrics.next_policy = policy.name
        with self.metrics_path.open("a") as f:
            f.write(json.dumps(asdict(metrics)) + "\n")
        self.policy, self.completed = policy, iteration + 1
        self.state_path.write_text(json.dumps({"completed": self.completed, "policy": asdict(policy)}, indent=1))
        return metrics

    async def atrain(self, on_iteration: Callable[[IterationMetrics], None] | None = None) -> Policy:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        while self.completed < self.config.iterations:
            metrics = await self._iteration(self.completed)
            if on_iteration:
                on_iteration(metrics)
        return self.policy

    def fit(self, on_step: Callable[[IterationMetrics], None] | None = None) -> Artefact:
        """Run the remaining iterations (a run found in out_dir is resumed); the final policy."""
        policy = asyncio.run(self.atrain(on_step))
        path = policy.gguf or policy.merged_hf or policy.adapter or policy.hf_dir
        return Artefact("model", Path(path), f"--model {path}", details=policy)

    def metrics(self) -> list[dict[str, object]]:
        if not self.metrics_path.exists():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines()]


def _read_samples(path: Path) -> list[Sample]:
    """The conversations stored so far; a line cut off by a kill is dropped (and sampled again)."""
    if not path.exists():
        return []
    samples, lines = [], []
    for line in path.read_text().splitlines():
        try:
            samples.append(Sample.from_dict(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
        lines.append(line)
    path.write_text("".join(f"{line}\n" for line in lines))  # so later appends start on a fresh line
    return samples


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
