"""The adaptive-teams experiment: does learning who runs, whom they hear, how many rounds and
whether a decision call is made pay, against fixed teams and the literature's learners?

    AGENTNET_DATA_DIR=../shared/data .venv/bin/python benchmarks/adaptive_teams.py
    AGENTNET_DATA_DIR=../shared/data .venv/bin/python benchmarks/adaptive_teams.py --out runs/mine --rows single,complete

GSM8K; learners trained on the *train* split; every row evaluated on the same first N *test*
items with the same model, engine and server (one server for the whole experiment, its
response cache in `--cache`, by default ~/.cache/agentnet/experiments/adaptive-teams/cache.sqlite:
outside the repository, since it grows with every row). The team: 4 agents (math_solver, mathematical_analyst,
programming_expert, inspector) + final_refer, up to 2 rounds.

The robustness rows (issue: adversaries) plant one liar among the 4 agents (`LIAR`): the
complete and chain teams, the adaptive G-Designer and CommFormer trained clean, and a
G-Designer trained with the liar present — each beside its clean row on the same items (the
second table of headline.md).

Resumable at every level: rerun the same command. A finished row is kept in OUT/rows/NAME.json
(and skipped), a training resumes from its checkpoint in OUT/train/NAME, a bench resumes its
run in OUT/runs.sqlite (the row→run id map is OUT/runs.json). OUT/headline.md (the table, with
the training costs) and OUT/report (report.md, report.html, accuracy_vs_tokens.png, the
topology drawings) are rewritten after every row.

On another machine, the kept rows and trainings are enough to continue: a row finished elsewhere
is kept as measured (headline.md shows it; OUT/report shows the rows run with this machine's
store). With `--replay` and the response cache copied over, such a row is replayed from the
cache (every call a hit, seconds) to rebuild the run store the report reads — the store holds
the benchmark's questions, so it is not kept in the repository; the row keeps the figures
measured when it ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from agentnet.adversaries import AttackConfig
from agentnet.assembly.team import agents_for, decision_for, team_for, topology_for
from agentnet.assembly.items import load_items
from agentnet.assembly.server import ClientConfig, connect, server_health
from agentnet.cache import CacheConfig
from agentnet.errors import ConfigError
from agentnet.serving.llama_server import find_binary
from agentnet.serving.models import default_cache_dir
from agentnet.configs import ItemsConfig, TeamConfig
from agentnet.evaluation import evaluate
from agentnet.llm import LLMBackend
from agentnet.run_stats import wilson_interval
from agentnet.serving import ServeConfig
from agentnet.store import RunConfig, RunStore
from agentnet.tasks import TaskConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.engine_build, run as a script
from benchmarks.engine_build import binary_version  # noqa: E402

ROLES = ("math_solver", "mathematical_analyst", "programming_expert", "inspector")
# the arguments that decide the results: a resume with other values would mix two experiments
IDENTITY = (
    "test_limit",
    "train_limit",
    "steps",
    "batch",
    "lambda_tokens",
    "token_scale",
    "model",
    "engine",
    "max_tokens",
    "temperature",
    "baseline",
)
console = Console(stderr=True)


@dataclass(frozen=True)
class Row:
    name: str
    topology: str  # a fixed shape, or a learned kind (trained first)
    agents: int = 4
    rounds: int = 2
    temporal: str = ""
    decision: str = "final_refer"
    learner: dict[str, Any] = field(default_factory=dict)  # the learned kind's config fields
    schedule: dict[str, Any] = field(default_factory=dict)  # TopologyTrainConfig fields instead of the arguments
    train_items: int = 0  # train on the first N of the train items only (0: all --train-limit)
    help: str = ""
    attack: bool = False  # LIAR planted at evaluation
    train_attack: bool = False  # LIAR planted in every training episode
    train_as: str = ""  # the training (OUT/train/NAME) this row evaluates; default: its own
    clean: str = ""  # for an attacked row: the clean row it is compared with
    screen_from: str = ""  # start from that row's screening (same train queries; its tokens counted here too)

    @property
    def training(self) -> str:
        return self.train_as or self.name


# every choice starts at probability 0.5 (no prior for a big team): cheaper episodes early, and
# the learner finds out from the rewards which agents, rounds and decision calls pay. These rows
# were trained before the heads centred the query (see the seventh row), so they say so.
ADAPTIVE = {
    "heads": {
        "activation": True,
        "stop": True,
        "skip_decision": True,
        "activation_init": 0.0,
        "stop_init": 0.0,
        "decide_init": 0.0,
        "centre_query": False,
    }
}
# Adam moves a head's logit by at most ~lr per step: with 16 steps and the default heads_lr 0.05 a
# choice that starts at 0.5 ends between 0.31 and 0.69 however clear the rewards, so training
# episodes stay near the expensive prior. The second adaptive row gives the heads lr 0.25 (a logit
# can travel 4 in 16 steps); chosen from that arithmetic, not tuned on the test items.
ADAPTIVE_LR = {"heads": {**ADAPTIVE["heads"], "heads_lr": 0.25}}
# That row collapsed after 8-16 episodes: with 4 fresh items per step the rewards mostly say how
# hard each item was. The third row trains on 16 items that recur (each 12 times in 48 steps),
# against a per-item baseline, so an episode is compared with other teams on the same question;
# at temperature 0 a team that recurs on an item costs nothing the second time (response cache).
REPEAT = {"steps": 48, "batch": 4, "baseline": "per_item"}
# The fourth compares teams on the same question within a step: 4 graphs sampled per query, each
# against the mean of the other 3 (leave-one-out, as in RLOO); 1 query per step keeps the 64
# episodes of the first adaptive row.
GROUP = {"steps": 16, "batch": 1, "samples": 4, "baseline": "group"}
# The fifth screens first: every agent alone on 16 train queries (64 calls), the activation head
# started from their solo utilities (training.screening), then the first row's 16 steps. Added
# after the rows above had chosen a2 alone from noise: a product-Bernoulli policy draws a given
# solo team 6% of the time, so the solo comparison that decides this task was almost never made.
SCREEN = {"screen": 16}
# It ranked a1 > a2 > a0 on those 16 queries (± 0.12 of noise), unlike the test split (a0 alone
# 0.34, a2 alone 0.16): the sixth screens on 64 (the first 16 are the fifth's, cached), enough to
# tell apart agents 0.15 apart (≈ 2 standard errors), then the same 16 steps.
SCREEN64 = {"screen": 64}
# It ranked a1 first (0.375 alone; a0 0.30, a2 0.25), and yet all 50 test queries opened with a2:
# the activation head read the raw query embedding (its mean over queries has norm 0.59), and
# with Adam each of its 384 weights moves ~lr per step, so what every query shares outweighed the
# screened bias: round-0 logits on the test queries were bias + (-2.9, -2.5, +0.4, -3.1) ± 0.6,
# against biases of (-0.5, +0.3, -0.4, -0.7). The heads now read the query centred by its
# running mean, as the stop head does (`centre_query`, the default since); the rows above were
# trained without it (their saved models load as the uncentred heads they were). The seventh row
# is the sixth again with the centring: the screening is the sixth's (cached), the 16 steps new.
ADAPTIVE_CENTRED = {"heads": {**ADAPTIVE["heads"], "centre_query": True}}
# It followed its screening (a1 opened 45 of the 50 test queries) and solved 8/50: alone, a1 was
# right on 7 of those 45, not 0.375. Debate's round 0 (each agent alone on the test items) gives
# a0 0.34, a1 0.22, a3 0.22, a2 0.10: on 64 queries two standard errors of a difference are ±0.16,
# wider than these gaps. The eighth row screens on 192 train queries (±0.09; the first 64 are the
# sixth's, cached) with the centred heads, then the same 16 steps. It ranked a0 0.31, a1 0.31, a3
# 0.28, a2 0.19 and solved 13/50 at 0.18×, with 13 different plans. Every row so far was trained
# with the old empty-draw rule (the most probable agent ran, and got no gradient); rows trained
# from now on draw a round's team given that someone runs (`heads.draw_round_team`).
SCREEN192 = {"screen": 192}
# Every row above started each choice at 0.5, so an episode ran ~2 agents, a second round half the
# time and the decision half the time; in 16 steps (heads_lr 0.05: a logit moves ≤ ~0.8) the
# stop and decision heads stay near that start, and the screened rows ended at 2.1-2.2 calls per
# query. The ninth row starts cheap and lets REINFORCE add what pays: P(stop after round 1) 0.88,
# P(decision) 0.12, activation biases 1 lower (with the screened spread: P 0.35, 0.33, 0.14, 0.29;
# a drawn team is one agent 58% of the time, 1.5 on average). At inference every P < 0.5, so
# before any step the likeliest team is the screened best agent alone, one round, no decision:
# what the 16 steps change from there is the row's result. Its screening is the eighth's (the
# same 192 train queries; copied, its tokens counted in this row's cost). This start was chosen
# after the table above showed no team beating one math_solver call: a prior informed by the test
# table, not a search over it (one row, trained once).
ADAPTIVE_CHEAP = {
    "heads": {**ADAPTIVE_CENTRED["heads"], "activation_init": -1.0, "stop_init": 2.0, "decide_init": -2.0}
}
# The robustness rows: one liar among the 4 agents. The draw (seed 1) plants it in a1, the
# mathematical analyst, which hears a0 and is heard by a2 and a3 in a chain or a complete team
# (seed 0 would draw a3, which in a chain only the decision hears).
LIAR = AttackConfig(adversaries=1, adversary_role="liar", adversary_seed=1)
ROWS = {
    r.name: r
    for r in (
        Row("single", "single", agents=1, rounds=1, decision="last_agent", help="one math_solver, one call"),
        Row("chain", "chain", rounds=1, help="4 agents in a chain, then final_refer"),
        Row("complete", "complete", temporal="complete", help="the densest team: complete spatial and temporal edges"),
        Row("debate", "debate", help="every agent hears every other's previous round"),
        Row("gptswarm", "gptswarm"),
        Row("agentprune", "agentprune"),
        Row("agentdropout", "agentdropout", learner={"skip_decision": True}),
        Row("gdesigner", "gdesigner", help="G-Designer, edges only"),
        Row(
            "gdesigner-adaptive", "gdesigner", learner=ADAPTIVE, help="G-Designer + who runs, stop head, decision skip"
        ),
        Row(
            "gdesigner-adaptive-lr",
            "gdesigner",
            learner=ADAPTIVE_LR,
            help="adaptive G-Designer with heads lr 0.25 instead of 0.05",
        ),
        Row(
            "gdesigner-adaptive-repeat",
            "gdesigner",
            learner=ADAPTIVE,
            schedule=REPEAT,
            train_items=16,
            help="adaptive G-Designer, 48 steps over 16 recurring train items, per-item baseline",
        ),
        Row(
            "gdesigner-adaptive-group",
            "gdesigner",
            learner=ADAPTIVE,
            schedule=GROUP,
            help="adaptive G-Designer, 4 graphs per query against each other (leave-one-out baseline)",
        ),
        Row(
            "gdesigner-adaptive-screen",
            "gdesigner",
            learner=ADAPTIVE,
            schedule=SCREEN,
            help="adaptive G-Designer started from every agent alone on 16 train queries",
        ),
        Row(
            "gdesigner-adaptive-screen64",
            "gdesigner",
            learner=ADAPTIVE,
            schedule=SCREEN64,
            help="adaptive G-Designer started from every agent alone on 64 train queries",
        ),
        Row(
            "gdesigner-adaptive-centred",
            "gdesigner",
            learner=ADAPTIVE_CENTRED,
            schedule=SCREEN64,
            help="the screen64 row with the heads reading the centred query",
        ),
        Row(
            "gdesigner-adaptive-screen192",
            "gdesigner",
            learner=ADAPTIVE_CENTRED,
            schedule=SCREEN192,
            help="the centred row screened on 192 train queries",
        ),
        Row(
            "gdesigner-adaptive-cheap",
            "gdesigner",
            learner=ADAPTIVE_CHEAP,
            schedule=SCREEN192,
            screen_from="gdesigner-adaptive-screen192",
            help="the 192-query screening, a cheap start: stop 0.88, decide 0.12",
        ),
        Row(
            "commformer-adaptive",
            "commformer",
            learner={"gate": False, **ADAPTIVE},
            help="CommFormer + who runs, stop head, decision skip",
        ),
        Row("complete-liar", "complete", temporal="complete", attack=True, clean="complete", help="complete, a1 lies"),
        Row("chain-liar", "chain", rounds=1, attack=True, clean="chain", help="chain, a1 lies"),
        Row(
            "gdesigner-adaptive-liar",
            "gdesigner",
            learner=ADAPTIVE,
            attack=True,
            train_as="gdesigner-adaptive",
            clean="gdesigner-adaptive",
            help="adaptive G-Designer trained clean, a1 lies",
        ),
        Row(
            "commformer-adaptive-liar",
            "commformer",
            learner={"gate": False, **ADAPTIVE},
            attack=True,
            train_as="commformer-adaptive",
            clean="commformer-adaptive",
            help="adaptive CommFormer trained clean, a1 lies",
        ),
        Row(
            "gdesigner-adaptive-trained-liar",
            "gdesigner",
            learner=ADAPTIVE,
            attack=True,
            train_attack=True,
            clean="gdesigner-adaptive-trained-clean",
            help="adaptive G-Designer trained with a1 lying, a1 lies",
        ),
        Row(
            "gdesigner-adaptive-trained-clean",
            "gdesigner",
            learner=ADAPTIVE,
            train_attack=True,
            train_as="gdesigner-adaptive-trained-liar",
            help="adaptive G-Designer trained with a1 lying, a1 honest",
        ),
    )
}


class Experiment:
    def __init__(self, args: argparse.Namespace):
        self.args, self.out = args, Path(args.out)
        self.data = TaskConfig(seed=0)
        self.team = TeamConfig(
            topology="complete",
            agents=4,
            rounds=2,
            roles=ROLES,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
        )
        self.train_items = load_items(ItemsConfig("gsm8k", "train", args.train_limit), self.data)[1]
        self.task, self.test_items = load_items(ItemsConfig("gsm8k", "test", args.test_limit), self.data)
        self.serve = ServeConfig(
            engine=args.engine, model=args.model, parallel=args.parallel, ctx_size=args.ctx_size, threads=args.threads
        )
        binary = find_binary(self.serve.cache_dir, self.serve.binary) if args.engine == "llama-server" else None
        self.engine_build = binary_version(binary) if binary else None  # recorded with every row

    # -- bookkeeping --------------------------------------------------------------------------
    def _json(self, path: Path, default: Any) -> Any:
        return json.loads(path.read_text()) if path.exists() else default

    def _write(self, path: Path, value: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(value, indent=1))
        tmp.replace(path)

    def row_team(self, row: Row, topology: str, attacked: bool = False) -> TeamConfig:
        return replace(
            self.team,
            topology=topology,
            agents=row.agents,
            rounds=row.rounds,
            temporal=row.temporal,
            decision=row.decision,
            roles=ROLES[: row.agents],
            attack=LIAR if attacked else AttackConfig(),
        )

    # -- training -----------------------------------------------------------------------------
    def train(self, row: Row, backend: LLMBackend) -> tuple[str, dict[str, float]]:
        from agentnet.topologies.embeddings import MiniLMEmbedder
        from agentnet.topologies.learned import config_from_dict
        from agentnet.topologies.registry import LEARNED
        from agentnet.training.topology import TopologyTrainConfig, TopologyTrainer

        out = self.out / "train" / row.training
        cost_path = out / "cost.json"
        cost = self._json(cost_path, {"tokens": 0.0, "wall_s": 0.0, "steps": 0})
        model = out / "model.pt"
        if model.exists():
            return f"{row.topology}:{model}", cost
        a = self.args
        learned = LEARNED[row.topology]
        kind = learned.model_class()
        learner_config = config_from_dict(learned.config_class, {"seed": 0, **row.learner})
        team = self.row_team(row, row.topology)
        topology = kind(
            agents_for(team, self.task), team.rounds, decision_for(team, self.task), learner_config, MiniLMEmbedder()
        )
        train = TopologyTrainConfig(
            **{
                "steps": a.steps,
                "batch": a.batch,
                "lambda_tokens": a.lambda_tokens,
                "token_scale": a.token_scale,
                "concurrency": a.concurrency,
                "baseline": a.baseline,
                "seed": 0,
                **row.schedule,
            }
        )
        attack = LIAR if row.train_attack else AttackConfig()
        items = self.train_items[: row.train_items or None]
        if row.screen_from:
            shared = self.out / "train" / row.screen_from / "screen.json"
            if not (out / "screen.json").exists():  # (its presence is checked before anything runs)
                out.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(shared, out / "screen.json")
            cost["screen_from"] = row.screen_from
        trainer = TopologyTrainer(topology, self.task, items, backend, train, out, attack=attack)
        if trainer.resume():
            console.print(f"  resuming training at step {trainer.step}/{train.steps}")
        started = time.monotonic()

        def on_step(m: Any) -> None:
            nonlocal started
            now = time.monotonic()
            cost["tokens"] += m.tokens * train.batch * train.samples
            cost["wall_s"] += now - started
            cost["steps"] = m.step + 1
            started = now
            self._write(cost_path, cost)
            console.print(
                f"  {row.name} step {m.step + 1}/{train.steps}: reward {m.reward:+.3f} acc {m.accuracy:.2f} "
                f"tokens {m.tokens:.0f} {json.dumps({k: round(v, 2) for k, v in m.extra.items()})}"
            )

        def on_screen(screening: Any) -> None:
            if "screen_tokens" not in cost:  # (a resume replays the kept screening: counted once)
                cost["screen_tokens"] = screening.total_tokens
                cost["tokens"] += screening.total_tokens
                self._write(cost_path, cost)
            solo = ", ".join(
                f"{a} {acc:.2f}/{t:.0f} tok"
                for a, acc, t in zip(screening.agents, screening.accuracy, screening.tokens)
            )
            console.print(f"  {row.name} screening on {screening.items} queries: {solo}")

        artefact = trainer.fit(on_step, on_screen)
        return f"{row.topology}:{artefact.path}", cost

    # -- evaluation ---------------------------------------------------------------------------
    def bench(
        self, row: Row, topology: str, store: RunStore, backend: LLMBackend, health: Callable[[], str | None]
    ) -> str:
        ids_path = self.out / "runs.json"
        ids = self._json(ids_path, {})
        team = self.row_team(row, topology, attacked=row.attack)
        config = RunConfig(
            task="gsm8k",
            split="test",
            limit=self.args.test_limit,
            concurrency=self.args.concurrency,
            team=team,
            engine=self.serve.engine,
            model=self.serve.model,
            data_dir=str(self.data.data_dir) if self.data.data_dir else None,
        )
        run_id = ids.get(row.name)
        if run_id is None:
            run_id = ids[row.name] = store.create_run(config, len(self.test_items))
            self._write(ids_path, ids)
        the_team = team_for(self.task, topology_for(team, self.task), backend, team)
        done = [len(store.finished_items(run_id))]

        def progress(result: Any) -> None:
            done[0] += 1
            if done[0] % 10 == 0:
                console.print(f"  {row.name}: {done[0]}/{len(self.test_items)}")

        asyncio.run(
            evaluate(
                the_team,
                self.task,
                self.test_items,
                store,
                run_id,
                concurrency=self.args.concurrency,
                on_result=progress,
                health=health,
            )
        )
        return run_id

    def finish_row(self, row: Row, run_id: str, store: RunStore, training: dict[str, float] | None) -> dict[str, Any]:
        s = store.summary(run_id)
        results = store.results(run_id)
        k, n = s.solved, len(self.test_items)
        low, high = wilson_interval(k / n, n)
        summary = {
            "row": row.name,
            "run_id": run_id,
            "topology": row.topology,
            "help": row.help,
            "solved": k,
            "n": n,
            "accuracy": k / n,
            "ci95": [low, high],
            "tokens_per_query": s.tokens_per_query,
            "calls_per_query": s.calls_per_query or 0.0,
            "wall_per_query_s": s.latency_s_per_query,
            "cut_off_share": s.cut_off_share or 0.0,
            "failed": s.failed,
            "hit_rate": s.hit_rate,
            "training": training,
            "engine_build": self.engine_build,
            "items": {r.item_id: [r.score, r.prompt_tokens + r.completion_tokens, r.calls] for r in results},
        }
        self._write(self.out / "rows" / f"{row.name}.json", summary)
        return summary

    def check_identity(self) -> None:
        path = self.out / "settings.json"
        mine = {k: getattr(self.args, k) for k in IDENTITY}
        saved = self._json(path, None)
        if saved is None:
            self._write(path, mine)
            return
        diff = {k: (saved.get(k), v) for k, v in mine.items() if saved.get(k) != v}
        if diff:
            shown = ", ".join(f"--{k.replace('_', '-')} {new} (it ran with {old})" for k, (old, new) in diff.items())
            raise SystemExit(
                f"error: {self.out} holds an experiment with other settings: {shown}; "
                "rerun with its settings to resume, or pass another --out"
            )

    def check_screenings(self, names: list[str]) -> None:
        """A row that starts from another's screening needs it kept, or that row run before it."""
        for i, name in enumerate(names):
            row, train = ROWS[name], self.out / "train"
            if (
                row.screen_from
                and row.screen_from not in names[:i]
                and not any((train / n / "screen.json").exists() for n in (row.training, row.screen_from))
            ):
                raise SystemExit(
                    f"error: {name} starts from {row.screen_from}'s screening, which "
                    f"{train / row.screen_from} does not hold; put {row.screen_from} before it in --rows"
                )

    def run(self, names: list[str], client: ClientConfig) -> None:
        self.check_screenings(names)
        self.out.mkdir(parents=True, exist_ok=True)
        self.check_identity()
        with RunStore(self.out / "runs.sqlite") as store, connect(self.serve, client) as (server, backend):
            console.print(f"server: {server.base_url} ({self.serve.engine}, {self.serve.model})")
            for name in names:
                row, path = ROWS[name], self.out / "rows" / f"{name}.json"
                done = self._json(path, None)
                if done is not None and name in self._json(self.out / "runs.json", {}):
                    console.print(f"[dim]{name}: done[/]")
                    continue
                if done is not None and not self.args.replay:  # finished on another machine: kept as measured
                    console.print(
                        f"[dim]{name}: done elsewhere; kept (--replay with its response cache rebuilds "
                        "its trajectories here)[/]"
                    )
                    continue
                if done is not None:  # its store is not kept, its calls are
                    console.print(f"[dim]{name}: done; replaying it from the response cache for the report[/]")
                else:
                    console.print(f"[bold]{name}[/]: {row.help or row.topology}")
                topology, training = row.topology, None
                if row.topology not in _fixed():
                    topology, training = self.train(row, backend)
                run_id = self.bench(row, topology, store, backend, server_health(server))
                if done is not None:  # the row keeps what was measured then (a replay's wall time is ~0)
                    self._write(path, {**done, "run_id": run_id})
                    continue
                s = self.finish_row(row, run_id, store, training)
                console.print(
                    f"  {name}: {s['solved']}/{s['n']} · {s['tokens_per_query']:.0f} tok/query · "
                    f"{s['calls_per_query']:.2f} calls/query · cut off {s['cut_off_share']:.1%}"
                )
                self.report(store)
            self.report(store)

    # -- report -------------------------------------------------------------------------------
    def report(self, store: RunStore) -> None:
        from agentnet.run_report import write_report

        rows = [self._json(self.out / "rows" / f"{n}.json", None) for n in ROWS]
        rows = [r for r in rows if r is not None]
        if not rows:
            return
        here = self._json(self.out / "runs.json", {})  # the rows run (or replayed) with this store
        ids = [here[r["row"]] for r in rows if r["row"] in here]
        if ids:
            write_report(store, ids, self.out / "report")
        (self.out / "headline.md").write_text(headline(rows, self.args))


def headline(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    dense = next((r for r in rows if r["row"] == "complete"), None)
    lines = [
        f"GSM8K test, first {args.test_limit} items · {args.model} on {args.engine} · max_tokens {args.max_tokens} · "
        f"T {args.temperature} · learners: {args.steps} steps × {args.batch} train items, λ_tok {args.lambda_tokens} "
        f"per {args.token_scale:.0f} tokens",
        "",
        "| row | accuracy (95% CI) | solved | tokens/query | vs complete | calls/query | wall/query | cache hits | "
        "cut off | training tokens | training wall |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = r["training"]
        ratio = (
            f"{r['tokens_per_query'] / dense['tokens_per_query']:.2f}×" if dense and dense["tokens_per_query"] else "–"
        )
        tokens = f"{t['tokens']:,.0f}" if t else "–"
        wall = f"{t['wall_s'] / 60:.0f} min" if t else "–"
        wall += f" + {t['screen_from']}'s screening" if t and t.get("screen_from") else ""
        lines.append(
            f"| {r['row']} | {r['accuracy']:.2f} ({r['ci95'][0]:.2f}–{r['ci95'][1]:.2f}) | {r['solved']}/{r['n']} | "
            f"{r['tokens_per_query']:.0f} | {ratio} | {r['calls_per_query']:.2f} | {r['wall_per_query_s']:.1f} s | "
            f"{r['hit_rate'] or 0:.0%} | {r['cut_off_share']:.1%} | {tokens} | {wall} |"
        )
    return "\n".join(lines + robustness(rows)) + "\n"


def robustness(rows: list[dict[str, Any]]) -> list[str]:
    """Clean against attacked rows on the items both scored; the drop beside the complete team's."""
    by_name = {r["row"]: r for r in rows}
    pairs = [(by_name[ROWS[r["row"]].clean], r) for r in rows if ROWS[r["row"]].clean in by_name]
    if not pairs:
        return []

    def drop(clean: dict[str, Any], attacked: dict[str, Any]) -> tuple[float, float, float, int]:
        common = sorted(set(clean["items"]) & set(attacked["items"]))
        n = max(len(common), 1)
        c, a = (sum(r["items"][i][0] for i in common) / n for r in (clean, attacked))
        return c, a, c - a, len(common)

    dense = next((drop(c, a)[2] for c, a in pairs if a["row"] == "complete-liar"), None)
    out = [
        "",
        f"One liar among the 4 agents (a1, {LIAR.describe()}), same items:",
        "",
        "| attacked row | clean row | clean accuracy | attacked accuracy | drop (points) | drop ÷ complete's | items |",
        "|---|---|---|---|---|---|---|",
    ]
    for clean, attacked in pairs:
        c, a, d, n = drop(clean, attacked)
        ratio = f"{d / dense:.2f}" if dense else "–"
        out.append(f"| {attacked['row']} | {clean['row']} | {c:.2f} | {a:.2f} | {100 * d:+.0f} | {ratio} | {n} |")
    return out


def _fixed() -> set[str]:
    from agentnet.topologies.fixed import FIXED

    return set(FIXED)


def _client(cache: Path) -> ClientConfig:
    return ClientConfig(timeout=600.0, cache=CacheConfig(path=cache))


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--out",
        default="benchmarks/results/adaptive-teams",
        help="Experiment directory (rerun to resume; the default holds the kept results).",
    )
    p.add_argument(
        "--cache",
        default=str(default_cache_dir() / "experiments" / "adaptive-teams" / "cache.sqlite"),
        help="Response cache (SQLite); its directory must exist.",
    )
    p.add_argument("--rows", default=",".join(ROWS), help=f"Comma-separated rows, in order: {', '.join(ROWS)}.")
    p.add_argument("--test-limit", type=int, default=50, help="The first N GSM8K test items, for every row.")
    p.add_argument("--train-limit", type=int, default=200, help="GSM8K train items the learners draw from.")
    p.add_argument("--steps", type=int, default=16, help="Training steps per learner.")
    p.add_argument("--batch", type=int, default=4, help="Train items per step.")
    p.add_argument("--lambda-tokens", type=float, default=0.3, help="Utility = score − λ · tokens / token_scale.")
    p.add_argument("--token-scale", type=float, default=1000.0)
    p.add_argument(
        "--baseline",
        choices=("moving", "per_item"),
        default="moving",
        help="REINFORCE baseline; per_item only helps when items repeat (steps × batch > train items).",
    )
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--engine", default="llama-server")
    p.add_argument("--parallel", type=int, default=8, help="Server slots.")
    p.add_argument(
        "--ctx-size",
        type=int,
        default=8192,
        help="Context per slot (a complete team's round-2 prompts carry 7 messages of up to max_tokens each).",
    )
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--concurrency", type=int, default=4, help="Queries in flight.")
    p.add_argument("--max-tokens", type=int, default=512, help="Completion tokens per call.")
    p.add_argument("--temperature", type=float, default=0.0, help="0: greedy, and every call is cacheable.")
    p.add_argument(
        "--replay",
        action="store_true",
        help="Replay rows finished on another machine from the response "
        "cache (copy it over first: without it every call is made again), so the report shows them.",
    )
    args = p.parse_args()
    names = [n.strip() for n in args.rows.split(",") if n.strip()]
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        p.error(f"unknown row(s) {', '.join(unknown)}; choose from {', '.join(ROWS)}")
    if args.cache == p.get_default("cache"):  # the experiment's own place: made here, a path given must exist
        Path(args.cache).parent.mkdir(parents=True, exist_ok=True)
    try:
        client = _client(
            Path(args.cache)
        )  # a cache path in a missing or read-only directory: one line, before OUT is made
    except ConfigError as e:
        p.error(str(e))
    Experiment(args).run(names, client)


if __name__ == "__main__":
    main()
