"""Complementary agents, measured: program-aided (the sandbox runs its program) vs chain-of-thought
on the same model and items, and what a three-agent mixed team (0.5B CoT, 0.5B PAL, 1.5B CoT)
costs in wall time against one 0.5B agent on this machine.

    AGENTNET_DATA_DIR=../shared/data .venv/bin/python benchmarks/complementary_agents.py
    AGENTNET_DATA_DIR=../shared/data .venv/bin/python benchmarks/complementary_agents.py --rows cot-0.5b,pal-0.5b

GSM8K test items 350-449 (the paired PAL/CoT rows) and 350-369 (the wall-time rows): outside
items 50-349, which the held-out headline (benchmarks/learned_teams.py) keeps unseen. T 0, 512
max tokens, one llama-server per model. Resumable (benchmarks/rows.py): rerun the same command.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.rows, run as a script

from agentnet.serving.models import default_cache_dir  # noqa: E402
from benchmarks.rows import Row, keep_rows, paired, table  # noqa: E402

SMALL, STRONG = "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"
COMMON = ("--max-tokens", "512", "--temperature", "0", "--concurrency", "4", "--rounds", "1", "--timeout", "600")


def _row(name: str, team: str, topology: str, decision: str, limit: int, note: str) -> Row:
    return Row(
        name,
        (
            "gsm8k",
            "--team",
            team,
            "--topology",
            topology,
            "--decision",
            decision,
            "--offset",
            "350",
            "--limit",
            str(limit),
            *COMMON,
        ),
        note,
    )


ROWS = {
    r.name: r
    for r in (
        _row("cot-0.5b", f"cot@{SMALL}", "single", "last_agent", 100, "0.5B, chain-of-thought"),
        _row(
            "pal-0.5b",
            f"pal@{SMALL}",
            "single",
            "last_agent",
            100,
            "0.5B, program-aided (python tool), pal role before its reminder",
        ),
        _row(
            "pal-0.5b-reminder",
            f"pal@{SMALL}",
            "single",
            "last_agent",
            100,
            "0.5B, program-aided, the pal role's reminder line",
        ),
        _row("single-0.5b-20", f"cot@{SMALL}", "single", "last_agent", 20, "one 0.5B agent, wall-time reference"),
        _row(
            "mixed-3-20",
            f"cot@{SMALL},pal@{SMALL},strong=cot@{STRONG}",
            "debate",
            "majority_vote",
            20,
            "0.5B CoT + 0.5B PAL + 1.5B CoT, independent, majority vote; pal before its reminder",
        ),
        _row(
            "mixed-3-20-reminder",
            f"cot@{SMALL},pal@{SMALL},strong=cot@{STRONG}",
            "debate",
            "majority_vote",
            20,
            "the same team, the pal role's reminder line",
        ),
    )
}


def readme(out: Path, done: dict[str, dict]) -> None:
    lines = [
        "# Complementary agents: program-aided vs chain-of-thought, and a mixed team's wall time",
        "",
        "Made by `benchmarks/complementary_agents.py` (resumable; each row's command below). GSM8K test items "
        "350-449 (paired rows) and 350-369 (wall-time rows), T 0, 512 max tokens, one llama-server per model on "
        "this 2-core machine; the 0.5B priced 0.5, the 1.5B 1.5 per 1,000 tokens. Wall time includes the "
        "engines' start. The 20-item wall-time rows ran with nothing else on the cores; the 100-item rows "
        "shared them with other work (their wall column is not a speed figure).",
        "",
        *table(done),
    ]
    for pal in ("pal-0.5b", "pal-0.5b-reminder"):
        if "cot-0.5b" in done and pal in done:
            p = paired(done[pal], done["cot-0.5b"])
            lines += [
                "",
                f"{pal} against cot-0.5b, paired on {p.items} items: only PAL right {p.only_a}, only CoT right "
                f"{p.only_b}; PAL − CoT = {p.diff:+.3f} (bootstrap 95% CI {p.ci[0]:+.3f}…{p.ci[1]:+.3f}), exact "
                f"McNemar p = {p.p:.3f}; cost PAL − CoT = {p.cost_diff:+.3f} per query.",
            ]
    lines += [
        "",
        "The pal role changed between the two PAL rows: its first version asked for a program in the system "
        "prompt only, and the 0.5B answered in prose on about half the items (tool runs ok 48/100); the "
        "`reminder:` line (the last line of the user prompt) was chosen on GSM8K *train* items 500-529 "
        "(programs written 30/30 vs 16/30, right 10 vs 8), then run once here. Both rows are reported.",
    ]
    lines += ["", "Commands:", ""] + [f"    {r['command']}" for r in done.values()]
    (out / "README.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/complementary-agents"))
    parser.add_argument(
        "--store", type=Path, default=default_cache_dir() / "experiments" / "complementary" / "runs.sqlite"
    )
    parser.add_argument("--rows", default=",".join(ROWS), help=f"Comma-separated rows: {', '.join(ROWS)}.")
    args = parser.parse_args()
    names = [n.strip() for n in args.rows.split(",") if n.strip()]
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        raise SystemExit(f"unknown row(s) {', '.join(unknown)}; known: {', '.join(ROWS)}")
    if not os.environ.get("AGENTNET_DATA_DIR"):
        raise SystemExit("set AGENTNET_DATA_DIR (e.g. ../shared/data): the rows read GSM8K from it")
    readme(args.out, keep_rows(args.out, names, ROWS, args.store))


if __name__ == "__main__":
    main()
