"""Does learned communication pay? The held-out headline of complementary teams, pre-registered.

    AGENTNET_DATA_DIR=../shared/data .venv/bin/python benchmarks/learned_teams.py validate
    AGENTNET_DATA_DIR=../shared/data .venv/bin/python benchmarks/learned_teams.py test
    AGENTNET_DATA_DIR=../shared/data .venv/bin/python benchmarks/learned_teams.py report

PROTOCOL (written, and committed, before any test item of it was run; change it only in a
commit that says why, before the test phase):

- Models: Qwen2.5-Coder-0.5B and -1.5B Instruct, Q4_K_M GGUF (the named models), llama-server
  from the cache's build (its --version is recorded with the rows), T 0 except self-consistency
  (T 0.7, agent i seeded 1000 + i), 512 max tokens, one response cache for every row. Prices
  per 1,000 tokens: 0.5 and 1.5 (the models' parameters in billions).
- The mix (GSM8K): cheap_cot = cot@0.5B, cheap_pal = pal@0.5B (python tool), strong_pal =
  pal@1.5B, strong_cot = cot@1.5B.
- Items. GSM8K: learners train on train items 100-499; every choice among variants is made on
  the validation slice, train items 0-99; the table is test items 50-349 (300), each row run on
  it once. (Test items 0-49 were used by earlier experiments; 350-449 by the PAL/CoT probe.)
- Rows: every agent of the mix alone; self-consistency sc3/sc5 of the best single agent (best
  validation accuracy; ties: the cheaper) and of strong_cot; cascade:agree (cheap_cot,
  cheap_pal, then strong_cot hearing them); cascade:tool-ok (strong_pal, then strong_cot); the
  complete team of the mix (complete graph, majority vote); learners on the mix, 2 rounds,
  paying at each model's price: AgentDropout, adaptive G-Designer and adaptive CommFormer
  (activation + stop heads reading what was said, starting as a cascade: the cheap pair opens).
- Learner variants, all reported: lambda in {0.5, 2.0} (utility = score - lambda * price-weighted
  tokens / 1000), 20 steps x batch 6; the variant with the best validation utility (score -
  0.5 x cost per query) is the one run on the test slice.
- Statistics: accuracy with a Wilson 95% CI; tokens, cost, calls per query; cut-off share; for
  the learned team against every baseline, the paired difference with a bootstrap 95% CI, the
  exact McNemar p, and the paired cost difference; training cost (tokens, wall).
- Targets (issue 33): (a) the learned team is on the Pareto front of accuracy vs cost; (b) it
  beats the best single agent by >= 3 points with a CI excluding 0 at <= 1.5x its cost; (c) at
  least as accurate as cascade:agree / cascade:tool-ok at no more cost, and as strong_cot at
  <= 0.6x its cost; (d) vs sc3/sc5 of the best single agent: more accurate at lower cost, or
  within its CI at <= 1/2 its cost. A missed target is reported with by how much and why.

Resumable at every level (benchmarks/rows.py): a kept row is skipped, a training resumes from
its checkpoint, a bench resumes its run. OUT/README.md is rewritten after every phase.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.rows, run as a script

from agentnet.serving.models import default_cache_dir  # noqa: E402
from benchmarks.rows import CLI, Row, keep_rows, paired, run, table  # noqa: E402

SMALL, STRONG = "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"
MEMBERS = {"cheap_cot": f"cot@{SMALL}", "cheap_pal": f"pal@{SMALL}", "strong_pal": f"pal@{STRONG}", "strong_cot": f"cot@{STRONG}"}
MIX = ",".join(f"{name}={spec}" for name, spec in MEMBERS.items())
EXPERIMENT = default_cache_dir() / "experiments" / "learned-teams"  # outside the repository: store and cache
# one response cache for every row (seeded samples too: sc3 reuses sc5's first three)
COMMON = ("--max-tokens", "512", "--concurrency", "4", "--cache", str(EXPERIMENT / "cache.sqlite"), "--cache-mode", "all")
SLICES = {"validate": ("--split", "train", "--offset", "0", "--limit", "100"),
          "test": ("--split", "test", "--offset", "50", "--limit", "300")}  # fmt: skip
TRAIN_ITEMS = ("--split", "train", "--offset", "100", "--limit", "400")
LAMBDAS = (0.5, 2.0)
LEARNERS = {
    "agentdropout": (),
    "gdesigner": ("--activation", "--stop", "--open-with", "cheap_cot,cheap_pal", "--read-said"),
    "commformer": ("--activation", "--stop", "--open-with", "cheap_cot,cheap_pal", "--read-said", "--no-gate"),
}


def fixed_rows(phase: str, best: str | None) -> dict[str, Row]:
    """Every baseline row on `phase`'s slice; the self-consistency of the best single agent needs
    `best` (chosen on the validation slice)."""
    items = SLICES[phase]

    def row(name: str, team: str, topology: str, decision: str, note: str, group: str, *more: str) -> Row:
        return Row(f"{phase}-{name}", ("gsm8k", *items, "--team", team, "--topology", topology, "--rounds", "1",
                                       "--decision", decision, *COMMON, *more), note, group=group)  # fmt: skip

    rows = [row(f"single-{n}", f"{n}={s}", "single", "last_agent", f"{n} alone", "single") for n, s in MEMBERS.items()]
    sc = {"strong_cot": MEMBERS["strong_cot"]}
    if best:
        sc[best] = MEMBERS[best]
    for n, spec in sc.items():
        for k in (5, 3):  # sc3 after sc5: its 3 seeded samples are sc5's first 3, answered by the cache
            team = ",".join(f"s{i}={spec}" for i in range(k))
            rows.append(row(f"sc{k}-{n}", team, "debate", "majority_vote", f"{k} samples of {n}, T 0.7, vote", "sc",
                            "--temperature", "0.7", "--seed", "1000"))  # fmt: skip
    rows.append(row("cascade-agree", f"cheap_cot={MEMBERS['cheap_cot']},cheap_pal={MEMBERS['cheap_pal']},"
                    f"strong_cot={MEMBERS['strong_cot']}", "cascade:agree", "last_agent",
                    "cheap pair, strong_cot when they disagree", "cascade"))  # fmt: skip
    rows.append(row("cascade-tool", f"strong_pal={MEMBERS['strong_pal']},strong_cot={MEMBERS['strong_cot']}",
                    "cascade:tool-ok", "last_agent", "strong_pal, strong_cot when its program fails", "cascade"))  # fmt: skip
    rows.append(row("complete", MIX, "complete", "majority_vote", "the mix, complete graph, vote", "complete"))
    return {r.name: r for r in rows}


def train_dir(out: Path, kind: str, lam: float) -> Path:
    return out / "train" / f"{kind}-lambda{lam:g}"


def train(out: Path, kind: str, lam: float) -> tuple[Path, float]:
    """Train (or resume) a learner variant; its model file and the wall time of this call."""
    target = train_dir(out, kind, lam)
    model = target / "model.pt"
    if model.exists() and (target / "done").exists():
        return model, 0.0
    started = time.monotonic()
    code = run([*CLI, "train", kind, "--task", "gsm8k", *TRAIN_ITEMS, "--team", MIX, "--rounds", "2",
                "--decision", "last_agent", "--pay", "price", "--lambda-tokens", str(lam), "--token-scale", "1000",
                "--steps", "20", "--batch", "6", *COMMON, *LEARNERS[kind], "--out", str(target)])  # fmt: skip
    if code != 0:
        raise SystemExit(f"training {kind} lambda {lam} failed (exit {code})")
    (target / "done").write_text(json.dumps({"wall_s": time.monotonic() - started}))
    return model, time.monotonic() - started


def learned_row(phase: str, kind: str, lam: float, model: Path) -> Row:
    return Row(f"{phase}-{kind}-lambda{lam:g}", ("gsm8k", *SLICES[phase], "--topology", f"{kind}:{model}",
                                                 "--decision", "last_agent", *COMMON),
               f"{kind}, lambda {lam:g}", group="learned")  # fmt: skip


def utility(row: dict) -> float:
    """How variants are chosen on the validation slice: accuracy - 0.5 x cost per query."""
    return row["accuracy"] - 0.5 * (row["cost_per_query"] or 0.0)


def choices(done: dict[str, dict]) -> dict[str, str]:
    """What the validation slice decided: the best single agent and each learner's lambda."""
    singles = {n: done.get(f"validate-single-{n}") for n in MEMBERS}
    if not all(singles.values()):
        return {}
    best = max(singles, key=lambda n: (singles[n]["accuracy"], -(singles[n]["cost_per_query"] or 0)))  # type: ignore[index]
    chosen = {"best_single": best}
    for kind in LEARNERS:
        variants = {lam: done.get(f"validate-{kind}-lambda{lam:g}") for lam in LAMBDAS}
        if all(variants.values()):
            chosen[kind] = f"{max(variants, key=lambda lam: utility(variants[lam])):g}"  # type: ignore[arg-type]
    return chosen


def readme(out: Path, done: dict[str, dict]) -> None:
    chosen = choices(done)
    lines = ["# Learned teams of complementary agents: the held-out headline", "",
             "Made by `benchmarks/learned_teams.py` (its docstring is the pre-registered protocol).", "",
             f"Choices made on the validation slice: {json.dumps(chosen) if chosen else 'not yet'}.", ""]  # fmt: skip
    for phase in ("validate", "test"):
        rows = {k: v for k, v in done.items() if k.startswith(f"{phase}-")}
        if rows:
            lines += [f"## {phase}", "", *table(rows), ""]
    learned = [r for k, r in done.items() if k.startswith("test-") and r.get("group") == "learned"]
    for r in learned:
        lines += [f"### {r['name']} against each baseline (paired, test slice)", "",
                  "| baseline | items | only learned right | only baseline right | Δ accuracy (95% CI) | McNemar p | Δ cost/query |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for k, b in done.items():
            if k.startswith("test-") and b.get("group") != "learned":
                p = paired(r, b)
                lines.append(f"| {b['name']} | {p.items} | {p.only_a} | {p.only_b} | {p.diff:+.3f} ({p.ci[0]:+.3f}…{p.ci[1]:+.3f}) | "
                             f"{p.p:.3f} | {p.cost_diff:+.3f} |")  # fmt: skip
        lines.append("")
    lines += ["Commands:", ""] + [f"    {r['command']}" for r in done.values()]
    (out / "README.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("phase", choices=("validate", "test", "report"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/learned-teams"))
    parser.add_argument("--store", type=Path, default=EXPERIMENT / "runs.sqlite")
    args = parser.parse_args()
    if args.phase != "report" and not os.environ.get("AGENTNET_DATA_DIR"):
        raise SystemExit("set AGENTNET_DATA_DIR (e.g. ../shared/data): the rows read GSM8K from it")
    args.out.mkdir(parents=True, exist_ok=True)
    done = {p.stem: json.loads(p.read_text()) for p in sorted((args.out / "rows").glob("*.json"))}
    if args.phase == "validate":
        rows = fixed_rows("validate", None)
        done = keep_rows(args.out, list(rows), rows, args.store)
        for kind in LEARNERS:
            for lam in LAMBDAS:
                model, _ = train(args.out, kind, lam)
                row = learned_row("validate", kind, lam, model)
                done = keep_rows(args.out, [row.name], {row.name: row}, args.store)
        best = choices(done).get("best_single")
        rows = fixed_rows("validate", best)
        done = keep_rows(args.out, list(rows), rows, args.store)
    elif args.phase == "test":
        chosen = choices(done)
        missing = [k for k in ("best_single", *LEARNERS) if k not in chosen]
        if missing:
            raise SystemExit(f"the validation phase has not decided {', '.join(missing)}; run `validate` first")
        rows = fixed_rows("test", chosen["best_single"])
        for kind in LEARNERS:
            lam = float(chosen[kind])
            row = learned_row("test", kind, lam, train_dir(args.out, kind, lam) / "model.pt")
            rows[row.name] = row
        done = keep_rows(args.out, list(rows), rows, args.store)
    readme(args.out, done)


if __name__ == "__main__":
    main()
