"""What the experiment scripts share: a row is an `agentnet` command (bench or train), run once,
resumed when cut off, and kept as measured in OUT/rows/NAME.json; paired statistics on the
per-item scores of two rows.

Every row's command is printed, so it can be rerun by hand. The run store and the response
cache live outside the repository (they hold the benchmark's questions); a row's JSON keeps
per-item scores by item id, tokens, cost, calls, cut-off share and wall time.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentnet.run_stats import wilson_interval
from agentnet.store import RunStore

CLI = [sys.executable, "-m", "agentnet.cli"]


@dataclass(frozen=True)
class Row:
    """One evaluation: `agentnet bench TASK ARGS` (ARGS name the team, the items and the settings)."""

    name: str
    args: tuple[str, ...]
    note: str
    train: tuple[str, ...] = ()  # `agentnet train KIND ...` args, run first (its model is the row's topology)
    group: str = ""  # rows of one kind (e.g. "single", "sc", "cascade", "learned") for the report
    extra: dict[str, str] = field(default_factory=dict)

    def command(self) -> str:
        return "agentnet bench " + " ".join(self.args)


def shown(command: str) -> str:
    """A command as a report shows it: the home folder as ~ (a shell expands it again)."""
    return command.replace(str(Path.home()) + "/", "~/")


def run(cmd: Sequence[str], on_line: Callable[[str], None] = lambda line: None) -> int:
    """Run an `agentnet` command, its stderr passed through line by line (and to `on_line`); its exit code."""
    print("$ agentnet " + " ".join(cmd[len(CLI) :]), flush=True)
    with subprocess.Popen(list(cmd), text=True, stderr=subprocess.PIPE) as process:
        assert process.stderr is not None
        for line in process.stderr:
            sys.stderr.write(line)
            on_line(line)
    return process.returncode


CLIENT_FLAGS = ("--cache", "--cache-mode", "--timeout")  # options a stored run did not always keep
RETRIES = 2  # resumes of a row whose bench ended with failed items


def bench(row: Row, store: Path, run_ids: dict[str, str], save: Callable[[], None] = lambda: None) -> str:
    """Run (or resume) the row's bench; its run id. `run_ids` gains it (and `save` is called) as soon
    as the bench names it, so a row cut off mid-way resumes its run instead of starting another."""

    def named(line: str) -> None:
        if row.name not in run_ids and line.startswith("run ") and ":" in line:
            run_ids[row.name] = line.split()[1].rstrip(":")
            save()

    # the stored run has its team; its client options (the cache) are the row's
    client = [a for i, a in enumerate(row.args) if a in CLIENT_FLAGS or (i and row.args[i - 1] in CLIENT_FLAGS)]

    def resume() -> int:
        return run([*CLI, "bench", "--resume", run_ids[row.name], "--store", str(store), *client], named)

    code = resume() if row.name in run_ids else run([*CLI, "bench", *row.args, "--store", str(store)], named)
    # 1: some items failed (a timeout on loaded cores, a server restart): a resume retries exactly those
    for _ in range(RETRIES):
        if code != 1 or row.name not in run_ids:
            break
        code = resume()
    if code not in (0, 1) or row.name not in run_ids:  # still 1: kept, the failures recorded and scored 0
        raise SystemExit(f"row {row.name} failed (exit {code})")
    return run_ids[row.name]


def measure(row: Row, store_path: Path, run_id: str, wall_s: float, **more: object) -> dict:
    """The row's figures from its stored run. Its wall time is the items' latencies summed over the
    run's concurrency (within 3% of the measured wall on the rows that ran in one call), so a row
    resumed across sessions counts every session; `call_wall_s` is the last call's own wall."""
    with RunStore.existing(store_path) as store:
        summary = store.summary(run_id)
        concurrency = store.run(run_id).config.concurrency
        rows = store.results(run_id, with_trajectories=True)
    messages = [m for r in rows for m in r.trajectory.get("messages", ())]
    tools = [m["tool"] for m in messages if m.get("tool")]
    return {
        "name": row.name,
        "note": row.note,
        "group": row.group,
        "command": row.command(),
        "run": run_id,
        "items": summary.scored,
        "accuracy": summary.accuracy,
        "tokens_per_query": summary.tokens_per_query,
        "cost_per_query": summary.cost_per_query,
        "calls_per_query": summary.calls_per_query,
        "cut_off_share": summary.cut_off_share,
        "failed": summary.failed,
        "wall_s": sum(r.latency_s for r in rows) / concurrency,
        "call_wall_s": wall_s,
        "tool_runs": len(tools),
        "tool_ok": sum(t.get("status") == "passed" for t in tools),
        "rounds_run": {r.item_id: r.trajectory.get("rounds_run") for r in rows},
        "scores": {r.item_id: r.score for r in rows},
        "costs": {r.item_id: r.cost for r in rows},
        **more,
    }


def keep_rows(out: Path, names: Sequence[str], rows: dict[str, Row], store: Path) -> dict[str, dict]:
    """Run the named rows not yet kept in OUT/rows; every row kept so far, by name."""
    (out / "rows").mkdir(parents=True, exist_ok=True)
    store.parent.mkdir(parents=True, exist_ok=True)
    ids_path = out / "runs.json"
    run_ids: dict[str, str] = json.loads(ids_path.read_text()) if ids_path.exists() else {}
    done = {p.stem: json.loads(p.read_text()) for p in sorted((out / "rows").glob("*.json"))}
    for name in names:
        if name in done:
            continue
        started = time.monotonic()
        run_id = bench(rows[name], store, run_ids, lambda: ids_path.write_text(json.dumps(run_ids, indent=1)))
        done[name] = measure(rows[name], store, run_id, time.monotonic() - started)
        (out / "rows" / f"{name}.json").write_text(json.dumps(done[name], indent=1))
    return done


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b and c discordant pairs."""
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n)


@dataclass(frozen=True)
class Paired:
    items: int
    only_a: int  # right in a, wrong in b
    only_b: int
    diff: float  # accuracy of a minus b
    ci: tuple[float, float]  # bootstrap 95% of diff
    p: float  # exact McNemar
    cost_diff: float  # mean cost of a minus b


def paired(a: dict, b: dict, resamples: int = 2000, seed: int = 0) -> Paired:
    """Row a against row b on the items both scored."""
    items = sorted(set(a["scores"]) & set(b["scores"]))
    da = [float(a["scores"][i] >= 1) - float(b["scores"][i] >= 1) for i in items]
    rng = random.Random(seed)
    boots = sorted(sum(rng.choice(da) for _ in da) / len(da) for _ in range(resamples)) if da else [0.0]
    only_a, only_b = sum(d > 0 for d in da), sum(d < 0 for d in da)
    cost = [(a["costs"].get(i) or 0) - (b["costs"].get(i) or 0) for i in items]
    return Paired(
        len(items),
        only_a,
        only_b,
        sum(da) / max(len(da), 1),
        (boots[int(0.025 * len(boots))], boots[int(0.975 * len(boots)) - 1]),
        mcnemar_exact(only_a, only_b),
        sum(cost) / max(len(cost), 1),
    )


def table(done: dict[str, dict]) -> list[str]:
    """The rows as a Markdown table: accuracy with its 95% CI, tokens, cost, calls, cut-off, tools, wall."""
    lines = [
        "| row | items | accuracy (95% CI) | tokens/query | cost/query | calls/query | cut off | tool runs ok | wall |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in done.values():
        lo, hi = wilson_interval(r["accuracy"], r["items"])
        cut = "—" if r["cut_off_share"] is None else f"{100 * r['cut_off_share']:.1f}%"
        tools = f"{r['tool_ok']}/{r['tool_runs']}" if r["tool_runs"] else "—"
        lines.append(
            f"| {r['name']} ({r['note']}) | {r['items']} | {100 * r['accuracy']:.1f}% ({100 * lo:.0f}–{100 * hi:.0f}) | "
            f"{r['tokens_per_query']:,.0f} | {r['cost_per_query'] or 0:.3f} | {r['calls_per_query'] or 0:.2f} | "
            f"{cut} | {tools} | {r['wall_s'] / 60:.1f} min |"
        )
    return lines
