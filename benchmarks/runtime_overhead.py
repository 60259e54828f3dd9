"""Runtime performance: concurrency of a layer, batch throughput, orchestration overhead.

    python benchmarks/runtime_overhead.py                 # ScriptedBackend, fixed latency
    python benchmarks/runtime_overhead.py --real          # also the embedded llama.cpp server

Targets (ScriptedBackend at 100 ms per call):
  a 5-agent layer completes in <= 1.2x one call;
  200 queries x 5 agents x 2 rounds at concurrency 64 within 1.2x the ideal
  (calls / concurrency x latency);
  median orchestration overhead per agent call <= 2 ms (zero-latency backend, chain).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from rich.console import Console
from rich.table import Table

from agentnet.agents import AgentSpec
from agentnet.graph import CommGraph, Decision
from agentnet.runtime import Team
from agentnet.testing import ScriptedBackend
from agentnet.topologies.fixed import fixed
from agentnet.types import GenerationSettings

LATENCY = 0.1


def specs(n: int, max_tokens: int = 256) -> list[AgentSpec]:
    return [AgentSpec(f"a{i}", "math_solver", GenerationSettings(max_tokens=max_tokens)) for i in range(n)]


def layer() -> tuple[str, float, float]:
    backend = ScriptedBackend(["The answer is 1"], cycle=True, latency_s=LATENCY)
    team = Team(CommGraph.uniform(specs(5), decision=Decision("last_agent")), backend)
    team.run("warm-up")
    walls = [team.run(f"q{i}").wall_s for i in range(5)]
    best = min(walls)
    return "5-agent layer, 1 round", best, best / LATENCY


def batch() -> tuple[str, float, float]:
    backend = ScriptedBackend(["The answer is 1"], cycle=True, latency_s=LATENCY, max_concurrency=64)
    graph = CommGraph.uniform(
        specs(5), rounds=2, temporal=[(f"a{i}", f"a{i}") for i in range(5)], decision=Decision("last_agent")
    )
    team = Team(graph, backend)
    queries = [f"question {i}" for i in range(200)]
    started = time.perf_counter()
    results = team.batch(queries, concurrency=64)
    wall = time.perf_counter() - started
    calls = sum(r.calls for r in results)
    ideal = calls / 64 * LATENCY
    return f"200 queries x 5 agents x 2 rounds @64 ({calls} calls, ideal {ideal:.2f}s)", wall, wall / ideal


def overhead() -> tuple[str, float, float]:
    backend = ScriptedBackend(["The answer is 1"], cycle=True)
    edges = [(f"a{i}", f"a{i + 1}") for i in range(4)]
    team = Team(CommGraph.uniform(specs(5), edges, rounds=2, decision=Decision("last_agent")), backend)
    team.run("warm-up")
    per_call = []
    for i in range(30):
        t = team.run(f"q{i}")
        per_call.append((t.wall_s - sum(m.latency_s for m in t.messages)) / t.calls)
    median = statistics.median(per_call)
    return "orchestration overhead per agent call (median)", median * 1000, median * 1000 / 2.0


def real(agents: int, queries: int) -> tuple[str, float, float]:
    from agentnet.serving import ServeConfig, start

    with start(ServeConfig(ctx_size=2048)) as server:
        team = Team(fixed("chain", specs(agents, 48), decision=Decision("last_agent")), server.backend())
        started = time.perf_counter()
        results = asyncio.run(team.abatch([f"What is {i} + {i + 3}?" for i in range(queries)], concurrency=4))
        wall = time.perf_counter() - started
    tokens = sum(r.usage.completion_tokens for r in results)
    prompt = sum(r.usage.prompt_tokens for r in results)
    return (
        f"llama.cpp smollm2: {queries} queries x {agents}-agent chain ({prompt} prompt + {tokens} completion tok)",
        wall,
        tokens / wall,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", action="store_true", help="also run against the embedded llama.cpp server")
    args = parser.parse_args()
    table = Table("measurement", "value", "ratio / rate", "target")
    name, wall, ratio = layer()
    table.add_row(name, f"{wall * 1000:.0f} ms", f"{ratio:.2f}x one call", "<= 1.2x")
    name, wall, ratio = batch()
    table.add_row(name, f"{wall:.2f} s", f"{ratio:.2f}x ideal", "<= 1.2x")
    name, ms, ratio = overhead()
    table.add_row(name, f"{ms:.2f} ms", f"{ratio:.2f}x target", "<= 2 ms")
    if args.real:
        name, wall, rate = real(3, 10)
        table.add_row(name, f"{wall:.1f} s", f"{rate:.0f} completion tok/s", "(report)")
    Console().print(table)


if __name__ == "__main__":
    main()
