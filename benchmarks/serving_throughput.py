"""Aggregate generation throughput of a model server at several concurrency levels.

    python benchmarks/serving_throughput.py --engine llama-cpp --model smollm2-135m
    python benchmarks/serving_throughput.py --base-url http://127.0.0.1:8000/v1 --levels 1,8,16

Prints one row per level: requests, wall time, completion tokens/s (all requests together),
mean latency per request. Each level sends `--requests-per-level` requests (default 2× the level).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from rich.console import Console
from rich.table import Table

from agentnet.serving import ServeConfig, start
from agentnet.types import GenerationSettings, Message

PROMPT = [Message("user", "Write a long, detailed story about a lighthouse keeper and a storm.")]


async def level(server, concurrency: int, requests: int, max_tokens: int) -> tuple[float, int, list[float]]:
    backend = server.backend(max_concurrency=concurrency, timeout_s=600)
    settings = GenerationSettings(max_tokens=max_tokens, temperature=0.7, seed=1)
    started = time.perf_counter()
    done = await asyncio.gather(*(backend.complete(PROMPT, settings) for _ in range(requests)))
    wall = time.perf_counter() - started
    await backend.aclose()
    return wall, sum(c.usage.completion_tokens for c in done), [c.latency_s for c in done]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="llama-cpp")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--base-url")
    parser.add_argument("--levels", default="1,4")
    parser.add_argument("--requests-per-level", type=int)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    config = ServeConfig(engine="external" if args.base_url else args.engine, model=args.model, base_url=args.base_url)
    table = Table("concurrency", "requests", "wall s", "completion tok/s", "mean latency s",
                  title=f"{config.engine} · {args.model} · max_tokens {args.max_tokens}")  # fmt: skip
    with start(config) as server:
        asyncio.run(level(server, 1, 1, 8))  # warm-up
        for n in (int(x) for x in args.levels.split(",")):
            requests = args.requests_per_level or 2 * n
            wall, tokens, latencies = asyncio.run(level(server, n, requests, args.max_tokens))
            table.add_row(str(n), str(requests), f"{wall:.2f}", f"{tokens / wall:.1f}", f"{statistics.mean(latencies):.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
