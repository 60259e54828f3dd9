"""Load on `agentnet serve-team`'s endpoint: a ScriptedBackend team served on loopback.

    python benchmarks/team_endpoint_load.py                    # 1/4/16 clients, 0 ms per call
    python benchmarks/team_endpoint_load.py --latency-ms 20    # a model that takes 20 ms per call

The server runs in a child process (as `serve-team` would: uvicorn, the queue, the run store on
disk); the clients are one asyncio httpx pool in this process, each client sending its requests
one after another. Reported per level: requests/s and p50/p95 latency. The overhead per request
is the served p50 at one client minus the p50 of `Team.arun` on the same team in this process
(target: <= 5 ms). Bounded: a fixed number of requests per level, loopback only, a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

QUERY = "What is 6 x 7?"
REPLY = "Six sevens make 42. The answer is 42"


def team(latency_s: float):  # noqa: ANN201 - a ServedTeam (imported late: the driver needs no agentnet import time)
    from agentnet.assembly.endpoint import served_team
    from agentnet.configs import TeamConfig
    from agentnet.testing import ScriptedBackend

    backend = ScriptedBackend(lambda m, s: REPLY, latency_s=latency_s)
    return served_team(
        "chain3", TeamConfig(topology="chain", agents=3, decision="final_refer"), backend, model="scripted"
    )


def serve(port: int, latency_s: float, store: Path) -> None:
    """The child: serve the team until SIGTERM/SIGINT."""
    from agentnet.assembly.chat_api import ApiSettings, bind
    from agentnet.assembly.endpoint import endpoint
    from agentnet.assembly.team_service import Limits

    with endpoint(
        [team(latency_s)], Limits(concurrency=32, queue=64), ApiSettings(), store, bind("127.0.0.1", port)
    ) as server:
        server.run()


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


async def level(url: str, clients: int, per_client: int) -> dict:
    latencies: list[float] = []
    body = {"model": "chain3", "messages": [{"role": "user", "content": QUERY}]}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        await client.post("/chat/completions", json=body)  # connections warm

        async def one_client() -> None:
            for _ in range(per_client):
                t = time.perf_counter()
                r = await client.post("/chat/completions", json=body)
                latencies.append(time.perf_counter() - t)
                assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "42", r.text

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        wall = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "rps": len(latencies) / wall,
        "p50_ms": 1000 * pct(latencies, 50),
        "p95_ms": 1000 * pct(latencies, 95),
    }


async def direct(latency_s: float, n: int) -> dict:
    served = team(latency_s)
    await served.team.arun(QUERY)
    walls = []
    for _ in range(n):
        t = time.perf_counter()
        await served.team.arun(QUERY)
        walls.append(time.perf_counter() - t)
    return {"p50_ms": 1000 * pct(walls, 50), "p95_ms": 1000 * pct(walls, 95)}


def wait_ready(url: str, child: subprocess.Popen, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"the server exited ({child.returncode})")
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="ScriptedBackend latency per call")
    parser.add_argument("--requests", type=int, default=200, help="requests per level (split between its clients)")
    parser.add_argument("--levels", default="1,4,16", help="concurrent clients per level")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument(
        "--no-store", action="store_true", help="serve without the run store (its share of the overhead)"
    )
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)  # the child
    parser.add_argument("--store", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    latency_s = args.latency_ms / 1000
    if args.serve is not None:
        serve(args.serve, latency_s, args.store)
        return
    from agentnet.serving.process import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    with tempfile.TemporaryDirectory() as tmp:
        store = [] if args.no_store else ["--store", f"{tmp}/runs.sqlite"]
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), *store, "--latency-ms", str(args.latency_ms)]
        )
        try:
            wait_ready(url, child)
            levels = [asyncio.run(level(url, c, max(1, args.requests // c))) for c in map(int, args.levels.split(","))]
        finally:
            child.terminate()
            child.wait(timeout=60)
    base = asyncio.run(direct(latency_s, args.requests))
    one = next((lv for lv in levels if lv["clients"] == 1), levels[0])
    figures = {
        "latency_ms_per_call": args.latency_ms,
        "team": "chain of 3 + final_refer decision (4 calls)",
        "levels": levels,
        "team_arun": base,
        "overhead_p50_ms": one["p50_ms"] - base["p50_ms"],
        "load_average": os.getloadavg(),
        "cores": os.cpu_count(),
    }
    print("| clients | requests | requests/s | p50 ms | p95 ms |")
    print("|---:|---:|---:|---:|---:|")
    for lv in levels:
        print(f"| {lv['clients']} | {lv['requests']} | {lv['rps']:.1f} | {lv['p50_ms']:.2f} | {lv['p95_ms']:.2f} |")
    print(f"| `Team.arun` directly | {args.requests} | – | {base['p50_ms']:.2f} | {base['p95_ms']:.2f} |")
    print(
        f"\nserver overhead per request (p50 at 1 client − Team.arun p50): {figures['overhead_p50_ms']:.2f} ms "
        f"(target ≤ 5 ms); load average {figures['load_average'][0]:.1f} on {figures['cores']} cores"
    )
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
