"""Aggregate generation throughput of the serving engines, and what a parallel layer costs.

    python benchmarks/serving_throughput.py                                   # the README's table
    python benchmarks/serving_throughput.py --engines llama-server --models smollm2-135m --levels 1,8
    python benchmarks/serving_throughput.py --base-url http://127.0.0.1:8000/v1 --levels 1,8,16

For every engine x model it starts a server, then for each in-flight level sends 2x that many
requests (`--requests-per-level` to change) with that many in flight, and reports completion
tokens/s of all requests together and p50/p95 latency. "layer x" is the wall time of one
4-agent parallel layer (four different agent prompts at once) over the mean wall time of the
same calls made one at a time: 4.0 means no batching at all, 1.0 perfect batching.

The machine may be shared: before each measurement it waits (up to `--max-wait-s`) until the
1-minute load average is below `--max-load`, and prints the load it measured at. Each
measurement is repeated `--repeats` times and the fastest kept: other processes holding a
core for a moment slow llama.cpp's threads several-fold, and the best of N is the run
they disturbed least.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from agentnet.serving import ServeConfig, Server, start
from agentnet.types import GenerationSettings, Message

PROMPT = [Message("user", "Write a long, detailed story about a lighthouse keeper and a storm.")]
TASK = "A farmer has 3 pens with 4 sheep in each pen. Each sheep eats 2 kg of hay a day. How much hay a week?"
ROLES = ("a careful mathematician", "a programmer who checks by computing", "a sceptical reviewer", "a teacher")
# Four agents of one layer: same task, different roles; each asked for a long answer so that
# all of them run to max_tokens and the single calls and the layer generate the same tokens.
LAYER = [
    [Message("system", f"You are {role} on a team. Explain every step at length."), Message("user", TASK)]
    for role in ROLES
]


@dataclass
class Row:
    engine: str
    model: str
    level: int
    requests: int
    wall_s: float
    tok_s: float
    p50_s: float
    p95_s: float
    load: float


def wait_for_quiet(max_load: float, max_wait_s: float, console: Console) -> float:
    """The 1-minute load average once it is below `max_load` (or after `max_wait_s`)."""
    waited = 0.0
    while (load := os.getloadavg()[0]) >= max_load and waited < max_wait_s:
        if waited == 0:
            console.print(f"[dim]load {load:.2f} >= {max_load}: waiting (up to {max_wait_s:.0f} s)…[/]")
        time.sleep(10)
        waited += 10
    if load >= max_load:
        console.print(f"[yellow]still busy (load {load:.2f}); measuring anyway, marked with *[/]")
    return load


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _batch(server: Server, prompts: list[list[Message]], in_flight: int, max_tokens: int):
    backend = server.backend(max_concurrency=in_flight, timeout_s=900)
    settings = GenerationSettings(max_tokens=max_tokens, temperature=0.7, seed=1)
    started = time.perf_counter()
    done = await asyncio.gather(*(backend.complete(p, settings) for p in prompts))
    wall = time.perf_counter() - started
    await backend.aclose()
    return wall, sum(c.usage.completion_tokens for c in done), [c.latency_s for c in done]


def measure_level(server: Server, level: int, requests: int, max_tokens: int) -> tuple[float, int, list[float]]:
    return asyncio.run(_batch(server, [PROMPT] * requests, level, max_tokens))


def layer_ratio(server: Server, max_tokens: int, repeats: int) -> tuple[float, float]:
    """(mean wall of one agent's call alone, wall of the 4-agent layer at once), each the best of `repeats`."""
    singles = [min(asyncio.run(_batch(server, [p], 1, max_tokens))[0] for _ in range(repeats)) for p in LAYER]
    layer = min(asyncio.run(_batch(server, LAYER, len(LAYER), max_tokens))[0] for _ in range(repeats))
    return statistics.mean(singles), layer


def bench(
    config: ServeConfig, args: argparse.Namespace, console: Console
) -> tuple[list[Row], tuple[float, float, float]]:
    rows: list[Row] = []
    with start(config) as server:
        for note in server.notes:
            console.print(f"[yellow]{note}[/]")
        asyncio.run(_batch(server, [PROMPT], 1, 8))  # warm-up: first-call costs are not throughput
        for level in args.levels:
            requests = args.requests_per_level or 2 * level
            load = wait_for_quiet(args.max_load, args.max_wait_s, console)
            runs = [measure_level(server, level, requests, args.max_tokens) for _ in range(args.repeats)]
            wall, tokens, latencies = min(runs, key=lambda run: run[0] / max(run[1], 1))  # best tok/s
            rows.append(
                Row(
                    server.engine,
                    config.model,
                    level,
                    requests,
                    wall,
                    tokens / wall,
                    percentile(latencies, 0.5),
                    percentile(latencies, 0.95),
                    load,
                )
            )
            console.print(
                f"[dim]{server.engine} {config.model} x{level}: {tokens / wall:.1f} tok/s (load {load:.2f})[/]"
            )
        load = wait_for_quiet(args.max_load, args.max_wait_s, console)
        single, layer = layer_ratio(server, args.max_tokens, args.repeats)
    return rows, (single, layer, load)


def markdown(rows: list[Row], layers: dict[tuple[str, str], tuple[float, float, float]], max_load: float) -> str:
    levels = sorted({r.level for r in rows})
    head = [
        "engine",
        "model",
        *[f"tok/s @{n}" for n in levels],
        *[f"p50/p95 s @{n}" for n in levels],
        "1 call s",
        "4-agent layer s",
        "layer x",
        "load",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, (single, layer, layer_load) in layers.items():
        mine = {r.level: r for r in rows if (r.engine, r.model) == key}
        loads = [r.load for r in mine.values()] + [layer_load]
        flag = "*" if max(loads) >= max_load else ""
        cells = [
            *key,
            *[f"{mine[n].tok_s:.1f}" for n in levels],
            *[f"{mine[n].p50_s:.2f}/{mine[n].p95_s:.2f}" for n in levels],
            f"{single:.2f}",
            f"{layer:.2f}",
            f"{layer / single:.2f}",
            f"{min(loads):.2f}-{max(loads):.2f}{flag}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="llama-server")
    parser.add_argument("--models", default="smollm2-135m,qwen2.5-coder-0.5b,qwen2.5-coder-1.5b")
    parser.add_argument("--base-url", help="measure an external server instead (one row)")
    parser.add_argument("--levels", default="1,2,4,8", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--requests-per-level", type=int)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--parallel", type=int, help="llama-server slots (default: the highest level)")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--threads-batch", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--ubatch-size", type=int)
    parser.add_argument("--ctx-size", type=int, default=2048, help="per slot")
    parser.add_argument("--extra", default="", help="extra engine flags, e.g. --extra='--poll 0'")
    parser.add_argument("--repeats", type=int, default=3, help="keep the fastest of this many runs")
    parser.add_argument("--max-load", type=float, default=1.5)
    parser.add_argument("--max-wait-s", type=float, default=900)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    console = Console(stderr=True)
    engines = ["external"] if args.base_url else args.engines.split(",")
    rows: list[Row] = []
    layers: dict[tuple[str, str], tuple[float, float, float]] = {}
    for model in args.models.split(","):
        for engine in engines:
            config = ServeConfig(
                engine=engine,
                model=model,
                base_url=args.base_url,
                ctx_size=args.ctx_size,
                parallel=args.parallel or max(args.levels),
                threads=args.threads,
                threads_batch=args.threads_batch,
                batch_size=args.batch_size,
                ubatch_size=args.ubatch_size,
                extra_args=tuple(args.extra.split()),
            )
            found, layer = bench(config, args, console)
            rows += found
            layers[(found[0].engine, model)] = layer
    table = Table(
        "engine",
        "model",
        "in flight",
        "requests",
        "wall s",
        "completion tok/s",
        "p50 s",
        "p95 s",
        "load",
        title=f"max_tokens {args.max_tokens} · {os.cpu_count()} cores",
    )
    for r in rows:
        table.add_row(
            r.engine,
            r.model,
            str(r.level),
            str(r.requests),
            f"{r.wall_s:.2f}",
            f"{r.tok_s:.1f}",
            f"{r.p50_s:.2f}",
            f"{r.p95_s:.2f}",
            f"{r.load:.2f}",
        )
    Console().print(table)
    print(markdown(rows, layers, args.max_load))


if __name__ == "__main__":
    main()
