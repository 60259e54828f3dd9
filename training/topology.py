"""Train a learned topology with REINFORCE: sample a graph per query, run the team on it,
reward task score minus normalised tokens, and push up the log-probability of graphs that beat
a baseline: a moving average of all rewards, one per training item, or (with several graphs
sampled per query) the other samples' mean for the same query, as in RLOO — the last compares
teams on the same question, so how hard a question is no longer drowns which team paid. The
regularisers in `Sample.penalty` are added as they are.

Every step is checkpointed (model, optimisers, baseline, step) and logged as one JSON line,
so a killed run resumes where it stopped (the `training.contract` semantics). Episodes run on
teams from `agentnet.assembly.team_for`, so a task's extraction and code check apply.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agentnet.adversaries import AttackConfig
from agentnet.episodes import Episode, Pay, run_episode
from agentnet.checks import check_fields
from agentnet.outputs import check_target
from agentnet.errors import ConfigError, TrainingError, require_at_least_one
from agentnet.llm import LLMBackend
from agentnet.task_types import Item, Task
from agentnet.tools import ToolRunner
from agentnet.topologies.learned import LearnedTopology, Sample, load_file
from agentnet.training.contract import Artefact
from agentnet.training.minibatches import Minibatches
from agentnet.training.screening import Screening, heads_of, screen, warm_start

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class TopologyTrainConfig:
    steps: int = field(default=20, metadata={"help": "Optimisation steps."})
    batch: int = field(default=4, metadata={"help": "Queries per step."})
    lambda_tokens: float = field(
        default=0.1, metadata={"ge": 0, "help": "Utility = score - lambda_tokens * tokens / token_scale."}
    )
    token_scale: float = field(default=1000.0, metadata={"help": "Tokens that cost lambda_tokens in utility."})
    pay: Pay = field(
        default="tokens",
        metadata={
            "help": "What an episode pays in the utility: tokens, or price (tokens at each model's price per 1,000: "
            "a 1.5B priced 1.5 pays 1.5x its tokens, so a learner trades strong calls against cheap ones)."
        },
    )
    baseline_momentum: float = field(
        default=0.9, metadata={"ge": 0, "le": 1, "help": "Momentum of the moving-average reward baseline."}
    )
    baseline: Literal["moving", "per_item", "group"] = field(
        default="moving",
        metadata={
            "help": "moving: one moving average of all rewards; per_item: one per training item (queries whose rewards "
            "differ, e.g. easy and hard ones, then do not push each other's choices); group: the mean reward of "
            "the other graphs sampled for the same query in the same step (leave-one-out; needs --samples >= 2)."
        },
    )
    samples: int = field(
        default=1, metadata={"help": "Graphs sampled per query per step (episodes per step = batch × samples)."}
    )
    concurrency: int = field(default=4, metadata={"help": "Queries in flight at once."})
    seed: int = field(default=0, metadata={"help": "Seed for sampling and item order."})
    screen: int = field(
        default=0,
        metadata={
            "help": "Before the first step, run every agent alone on this many training queries and start the "
            "activation head from their solo utilities (needs --activation; 0: off)."
        },
    )
    screen_scale: float = field(
        default=10.0,
        metadata={
            "ge": 0,
            "help": "Screening: an agent's starting logit moves this much per unit of utility above the agents' mean.",
        },
    )

    def __post_init__(self) -> None:
        check_fields(self)
        require_at_least_one(self, "steps", "batch", "concurrency", "samples")
        if self.screen < 0:
            raise ConfigError(f"screen={self.screen} must be 0 (off) or a number of training queries")
        if self.baseline == "group" and self.samples < 2:
            raise ConfigError(
                f"baseline=group compares graphs sampled for the same query: samples={self.samples} "
                "leaves none to compare with; use --samples 2 or more"
            )
        if self.token_scale <= 0:
            raise ConfigError(f"token_scale={self.token_scale} must be positive")


@dataclass(frozen=True)
class StepMetrics:
    step: int
    reward: float
    accuracy: float
    tokens: float
    baseline: float
    loss: float
    edge_density: float
    extra: dict[str, float]
    # what the step cost: its episodes, their tokens and price-weighted cost summed, its wall time
    # (a training's cost sums these, across however many sessions it took), and how many episodes
    # failed (a backend error: scored as answered, so a reward that measured the server)
    episodes: int = 0
    failed: int = 0
    spent_tokens: int = 0
    spent_cost: float = 0.0
    wall_s: float = 0.0


def leave_one_out(rewards: Sequence[float], k: int) -> list[float]:
    """Each reward's baseline: the mean of the other rewards in its run of `k` (the graphs
    sampled for the same query; episodes come in such runs)."""
    if k < 2 or len(rewards) % k:
        raise ValueError(f"{len(rewards)} rewards do not split into groups of {k} >= 2")
    sums = [sum(rewards[j - j % k : j - j % k + k]) for j in range(len(rewards))]
    return [(total - r) / (k - 1) for total, r in zip(sums, rewards)]


def check_screen(topology: LearnedTopology, n_items: int, config: TopologyTrainConfig) -> None:
    """`--screen` needs an activation head and that many training queries (checked before any server starts)."""
    if config.screen:
        heads_of(topology)
        if config.screen > n_items:
            raise ConfigError(
                f"screen={config.screen} asks for more training queries than the {n_items} given; "
                f"use --screen {n_items} or fewer"
            )


class TopologyTrainer:
    def __init__(
        self,
        topology: LearnedTopology,
        task: Task,
        items: Sequence[Item],
        backend: LLMBackend | Mapping[str, LLMBackend],
        config: TopologyTrainConfig,
        out_dir: str | Path,
        *,
        attack: AttackConfig = AttackConfig(),
        tools: ToolRunner | None = None,
    ):
        if not items:
            raise ConfigError("no training items; check the task's split and --limit")
        if config.baseline == "per_item" and config.steps * config.batch <= len(items):
            raise ConfigError(
                f"baseline=per_item learns nothing here: steps × batch = {config.steps * config.batch} episodes over "
                f"{len(items)} items visit no item twice, and an item's first reward is its own baseline "
                "(advantage 0); use --baseline moving, or fewer items (--limit) or more steps"
            )
        self.topology, self.task, self.items, self.backend = topology, task, list(items), backend
        self.config, self.out_dir = config, Path(out_dir)
        check_screen(topology, len(items), config)
        attack.check(len(topology.agents))
        self.attack = attack  # adversaries planted in every sampled graph: the learner pays for hearing them
        self.tools = tools  # the agents' tool runner (default: the task's sandbox)
        check_target(self.out_dir)  # a file or /proc as --out: one line, not a traceback from mkdir
        self.out_dir.mkdir(parents=True, exist_ok=True)
        import torch  # here, not at import: the CLI reads TopologyTrainConfig without the [graph] extra

        self.optimisers = {
            g["name"]: torch.optim.Adam(g["params"], lr=g["lr"]) for g in topology.param_groups() if g["params"]
        }
        self.baseline: float | None = None
        self.item_baselines: dict[str, float] = {}
        self.step = 0
        self.resumed = False
        self._batches = Minibatches(self.items, config.batch, config.seed)

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoint.pt"

    @property
    def metrics_path(self) -> Path:
        return self.out_dir / "metrics.jsonl"

    def _identity(self) -> dict[str, Any]:
        """What a checkpoint must match to be resumed by this trainer."""
        t = self.topology
        identity = {
            "kind": t.kind,
            "agents": [a.name for a in t.agents],
            "rounds": t.rounds,
            "task": getattr(self.task, "name", ""),
        }
        if self.attack.active:  # (clean runs keep the identity checkpoints had before adversaries existed)
            identity["attack"] = asdict(self.attack)
        return identity

    def resume(self) -> bool:
        """Load the last checkpoint in out_dir, if any; True when one was found."""
        if not self.checkpoint_path.exists():
            return False
        data = load_file(self.checkpoint_path, "topology training checkpoint")
        saved = data.get("identity")
        if saved is not None and saved != self._identity():
            raise ConfigError(
                f"{self.out_dir} holds a run of another team ({saved}); use another --out, "
                "or the same task, topology, agents, rounds and adversaries to resume"
            )
        try:
            self.topology.load_state_dict(data["model"])
            for name, state in data["optimisers"].items():
                self.optimisers[name].load_state_dict(state)
        except (KeyError, RuntimeError, ValueError) as e:
            raise ConfigError(
                f"{self.checkpoint_path} does not fit this topology ({str(e)[:160]}); use another --out"
            ) from None
        self.baseline, self.step = data["baseline"], data["step"]
        self.item_baselines = dict(data.get("item_baselines", {}))
        self.resumed = True
        return True

    async def _episode(self, item: Item, gate: asyncio.Semaphore) -> tuple[Sample, Episode, str]:
        sample = self.topology.sample(item.question)
        graph = self.attack.apply(sample.graph)
        from agentnet.assembly.team import team_for  # the runtime (LangGraph) loads with the first episode, not the CLI

        team = team_for(
            self.task, graph, self.backend, receive_gate=sample.gate, stop_gate=sample.stop_gate, tools=self.tools
        )
        return sample, await run_episode(team, self.task, item, gate=gate), item.id

    def train_step(self) -> StepMetrics:
        c = self.config
        self.topology.set_step(self.step, c.steps)
        gate = asyncio.Semaphore(c.concurrency)

        async def batch() -> list[tuple[Sample, Episode, str]]:
            items = [item for item in self._batches.at(self.step) for _ in range(c.samples)]
            return list(await asyncio.gather(*(self._episode(item, gate) for item in items)))

        started = time.monotonic()
        episodes = asyncio.run(batch())
        rewards = [e.utility(c.lambda_tokens, c.token_scale, c.pay) for _, e, _ in episodes]
        mean_reward = sum(rewards) / len(rewards)
        baseline = mean_reward if self.baseline is None else self.baseline
        if c.baseline == "group":
            baselines = leave_one_out(rewards, c.samples)
        else:
            baselines = [
                self.item_baselines.get(i, r) if c.baseline == "per_item" else baseline
                for (*_, i), r in zip(episodes, rewards)
            ]
        terms = [-(r - b) * s.total_log_prob() + s.penalty for (s, *_), r, b in zip(episodes, rewards, baselines)]
        loss = sum(terms[1:], start=terms[0]) / len(episodes)  # from a tensor, not 0: typed a tensor
        self._finite("loss", float(loss.detach()))
        active = set(self.topology.active_groups(self.step))
        for opt in self.optimisers.values():
            opt.zero_grad()
        loss.backward()
        module = self.topology
        self._finite_tensors("gradient", {n: p.grad for n, p in module.named_parameters() if p.grad is not None})
        for name, opt in self.optimisers.items():
            if name in active:
                opt.step()
        self._finite_tensors("weight", dict(module.named_parameters()))
        m = c.baseline_momentum
        self.baseline = mean_reward if self.baseline is None else m * self.baseline + (1 - m) * mean_reward
        for (*_, i), r in zip(episodes, rewards):
            self.item_baselines[i] = m * self.item_baselines[i] + (1 - m) * r if i in self.item_baselines else r
        stats: dict[str, list[float]] = {}
        for s, *_ in episodes:
            for k, v in s.stats.items():
                stats.setdefault(k, []).append(float(v))
        extra = {k: sum(v) / len(v) for k, v in stats.items()}
        metrics = StepMetrics(
            step=self.step,
            reward=mean_reward,
            accuracy=sum(e.score.value for _, e, _ in episodes) / len(episodes),
            tokens=sum(e.paid(c.pay) for _, e, _ in episodes) / len(episodes),
            baseline=self.baseline,
            loss=float(loss.detach()),
            edge_density=extra.get("density", 0.0),
            extra=extra,
            episodes=len(episodes),
            failed=sum(e.failed for _, e, _ in episodes),
            spent_tokens=sum(e.tokens for _, e, _ in episodes),
            spent_cost=sum(e.cost for _, e, _ in episodes),
            wall_s=time.monotonic() - started,
        )
        self.step += 1
        self._save(metrics)
        return metrics

    def _finite(self, what: str, value: float) -> None:
        """Stop the run at a non-finite number: the last checkpoint (the step before) stays the saved state."""
        import math

        if not math.isfinite(value):
            kept = f"the checkpoint of step {self.step} is kept" if self.step else "nothing was saved"
            raise TrainingError(
                f"step {self.step + 1}: the {what} became {value}; training stopped and {kept} "
                "(never a NaN model); lower the learning rates or check the hyper-parameters"
            )

    def _finite_tensors(self, what: str, tensors: dict[str, torch.Tensor]) -> None:
        import torch

        for name, t in tensors.items():
            if not bool(torch.isfinite(t).all()):
                bad = t[~torch.isfinite(t)].flatten()[0].item()
                self._finite(f"{what} {name}", bad)

    def _save(self, metrics: StepMetrics) -> None:
        data = {
            "identity": self._identity(),
            "model": self.topology.state_dict(),
            "optimisers": {k: o.state_dict() for k, o in self.optimisers.items()},
            "baseline": self.baseline,
            "item_baselines": self.item_baselines,
            "step": self.step,
        }
        tmp = self.checkpoint_path.with_suffix(".tmp")
        import torch

        torch.save(data, tmp)
        tmp.replace(self.checkpoint_path)
        with self.metrics_path.open("a") as f:
            f.write(json.dumps(asdict(metrics)) + "\n")

    @property
    def screen_path(self) -> Path:
        return self.out_dir / "screen.json"

    def screen(self) -> Screening:
        """The solo runs of `--screen` (kept in out_dir: a resumed run does not pay twice), and
        the activation head started from them."""
        c = self.config
        if self.screen_path.exists():
            screening = Screening.load(self.screen_path)
        else:
            screening = asyncio.run(
                screen(
                    self.task,
                    self.topology,
                    self.items[: c.screen],
                    self.backend,
                    lambda_tokens=c.lambda_tokens,
                    token_scale=c.token_scale,
                    pay=c.pay,
                    concurrency=c.concurrency,
                    attack=self.attack,
                    tools=self.tools,
                )
            )
            screening.save(self.screen_path)
        warm_start(self.topology, screening, c.screen_scale)
        return screening

    def train(
        self, on_step: Callable[[StepMetrics], None] | None = None, on_screen: Callable[[Screening], None] | None = None
    ) -> Path:
        """Run the remaining steps (no resume), screening first when asked; returns the path of the final model."""
        if self.config.screen and self.step == 0:
            screening = self.screen()
            if on_screen:
                on_screen(screening)
        while self.step < self.config.steps:
            metrics = self.train_step()
            if on_step:
                on_step(metrics)
        return self.topology.save(self.out_dir / "model.pt")

    def fit(
        self, on_step: Callable[[StepMetrics], None] | None = None, on_screen: Callable[[Screening], None] | None = None
    ) -> Artefact:
        """Resume from out_dir if it holds a checkpoint, run the remaining steps, save the model."""
        if not self.resumed:
            self.resume()
        path = self.train(on_step, on_screen)
        return Artefact("topology", path, f"--topology {self.topology.kind}:{path}")
