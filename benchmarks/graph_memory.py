"""Compiled graphs and checkpoints: resident memory over many per-query graphs, and what a
checkpointer costs per query in time and disk.

    python benchmarks/graph_memory.py                       # both tables
    python benchmarks/graph_memory.py --memory-only         # or --checkpoint-only

Part 1 runs one team whose topology designs a new graph for every query (4 agents x 2 rounds,
no two queries share a graph) and prints the process's resident memory after 100, 1,000 and
5,000 queries, with the time per query of each stretch. Part 2 runs per-query graphs of 4, 16
and 64 agents x 2 rounds (each agent reads one or two earlier agents, itself and one other last
round), and one such graph kept for every query (compiled once: the checkpointer's own cost
shows), without a checkpointer and with an SQLite one, and prints the time and the disk per query.

To measure another version, point PYTHONPATH at a folder holding its `agentnet/` and run from
outside the repository (the script imports only the core package, not `agentnet.topologies`).

ScriptedBackend, no model: the figures are the runtime's own cost. Targets (issue 34): RSS
within 10% across 100 / 1,000 / 5,000 queries; a checkpointed query at most 3x an unchecked
one; disk per query linear in the team size.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import agentnet
from agentnet.agents import AgentSpec
from agentnet.graph import CommGraph, Decision
from agentnet.runtime import Team
from agentnet.testing import ScriptedBackend

ROLES = ["math_solver", "mathematical_analyst", "inspector", "critic"]


def specs(n: int) -> list[AgentSpec]:
    return [AgentSpec(f"a{i}", ROLES[i % len(ROLES)]) for i in range(n)]


class EveryQueryNew:
    """A topology that designs a different 4-agent, 2-round graph for every query: query i's
    spatial and temporal edges spell i in binary, so no two of 2**28 queries share one."""

    def __init__(self) -> None:
        self.agents = specs(4)
        names = [a.name for a in self.agents]
        self.forward = [(u, v) for i, u in enumerate(names) for v in names[i + 1 :]]  # 6 per round
        self.across = [(u, v) for u in names for v in names]  # 16

    def graph_for(self, query: str) -> CommGraph:
        i = int(query.rsplit(" ", 1)[-1])
        bits = [(i >> b) & 1 for b in range(28)]
        s0 = [e for e, b in zip(self.forward, bits[0:6]) if b]
        s1 = [e for e, b in zip(self.forward, bits[6:12]) if b]
        tmp = [e for e, b in zip(self.across, bits[12:28]) if b]
        return CommGraph(tuple(self.agents), (tuple(s0), tuple(s1)), (tuple(tmp),), Decision("final_refer"))


class Sparse:
    """n agents x 2 rounds, designed per query: in each round each agent reads one or two
    earlier agents, and last round its own output and one other agent's (drawn from the query:
    at 4 agents ~26,000 graphs, so a query rarely meets a graph another compiled)."""

    def __init__(self, n: int):
        self.agents = specs(n)

    def graph_for(self, query: str) -> CommGraph:
        rng = random.Random(query)
        names = [a.name for a in self.agents]
        rounds = []
        for _ in range(2):
            rounds.append(
                tuple(
                    (u, v)
                    for j, v in enumerate(names[1:], 1)
                    for u in rng.sample(names[:j], min(rng.choice((1, 2)), j))
                )
            )
        temporal = [(n, n) for n in names] + [(rng.choice(names), n) for n in names]
        return CommGraph(tuple(self.agents), tuple(rounds), (tuple(temporal),), Decision("final_refer"))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@asynccontextmanager
async def opened(team: Team) -> AsyncIterator[Team]:
    """`async with team` where the runtime supports it (older versions open per run)."""
    if hasattr(team, "__aenter__"):
        async with team:
            yield team
    else:
        yield team


async def memory(marks: list[int]) -> list[tuple[int, float, float]]:
    backend = ScriptedBackend(["The answer is 1"], cycle=True)
    team = Team(EveryQueryNew(), backend)
    await team.arun("warm-up 0")
    rows, done = [], 0
    for mark in marks:
        started = time.perf_counter()
        for i in range(done, mark):
            await team.arun(f"query {i + 1}")
            backend.calls.clear()  # the fake keeps every call it answered: its memory, not the runtime's
        per_query = (time.perf_counter() - started) / (mark - done)
        done = mark
        gc.collect()
        rows.append((mark, rss_mb(), per_query * 1000))
    return rows


def disk_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def stored(db: Path) -> tuple[int, int]:
    """Bytes of checkpoint blobs and of pending-write blobs in the SQLite file."""
    with sqlite3.connect(db) as conn:
        (ckpt,) = conn.execute("SELECT COALESCE(SUM(LENGTH(checkpoint)), 0) FROM checkpoints").fetchone()
        (writes,) = conn.execute("SELECT COALESCE(SUM(LENGTH(value)), 0) FROM writes").fetchone()
    return int(ckpt), int(writes)


async def checkpointed(n: int, fixed: bool, batches: int, size: int) -> dict[str, Any]:
    """Batches of `size` queries, alternately without and with a checkpointer (so both see the
    same machine load); the median batch's time per query of each, and the disk per run."""
    backend = ScriptedBackend(["The answer is 1"], cycle=True)
    topology: Any = Sparse(n).graph_for("fixed") if fixed else Sparse(n)
    times: dict[str, list[float]] = {"plain": [], "saved": []}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "ckpt.sqlite"
        plain, saving = Team(topology, backend), Team(topology, backend, checkpoint=db)
        async with opened(saving):
            for name, team in (("plain", plain), ("saved", saving)):
                await team.arun(f"{name} warm-up {n}")
            done = 0
            for _ in range(batches):
                for name, team in (("plain", plain), ("saved", saving)):
                    started = time.perf_counter()
                    for i in range(size):  # each team its own queries: graphs not shared through the cache
                        await team.arun(f"{name} query {n} {done + i}")
                    times[name].append((time.perf_counter() - started) / size)
                done += size
        ckpt, writes = stored(db)
        disk = disk_bytes(db)
    runs = batches * size + 1  # the warm-up is on disk too
    return {
        "n": n,
        "queries": batches * size,
        "plain": statistics.median(times["plain"]),
        "saved": statistics.median(times["saved"]),
        "disk": disk / runs,
        "ckpt": ckpt / runs,
        "writes": writes / runs,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--memory-only", action="store_true")
    p.add_argument("--checkpoint-only", action="store_true")
    p.add_argument("--marks", default="100,1000,5000", help="queries after which RSS is read (cumulative)")
    p.add_argument("--agents", default="4,16,64", help="team sizes of the checkpoint table")
    p.add_argument("--batches", type=int, default=8, help="alternating batches per team size (checkpoint table)")
    p.add_argument("--queries", type=int, default=32, help="a batch is max(1, this / agents) queries")
    args = p.parse_args()
    print(f"agentnet from {Path(agentnet.__file__).parent}; load {os.getloadavg()[0]:.1f}")
    if not args.checkpoint_only:
        rows = asyncio.run(memory([int(m) for m in args.marks.split(",")]))
        print("\nper-query graphs (4 agents x 2 rounds, final_refer), one team, ScriptedBackend")
        print(f"{'queries':>8} {'RSS MB':>8} {'vs first':>9} {'ms/query':>9}")
        for mark, rss, ms in rows:
            print(f"{mark:>8,} {rss:>8.1f} {(rss / rows[0][1] - 1) * 100:>+8.1f}% {ms:>9.2f}")
    if not args.memory_only:
        print(
            "\ncheckpointed runs (sparse graphs x 2 rounds, final_refer; SQLite in a temporary folder,"
            " opened once): median of alternating batches"
        )
        print(
            f"{'agents':>6} {'graph':>9} {'queries':>7} {'ms/query':>9} {'+ckpt ms':>9} {'ratio':>6} {'disk KB/q':>10}"
            f" {'ckpt KB/q':>10} {'writes KB/q':>11} {'KB/agent':>9}"
        )
        sizes = [int(a) for a in args.agents.split(",")]
        for n, fixed in [(sizes[0], True), *((n, False) for n in sizes)]:
            r = asyncio.run(checkpointed(n, fixed, args.batches, max(1, args.queries // n)))
            print(
                f"{n:>6} {'fixed' if fixed else 'per-query':>9} {r['queries']:>7} {r['plain'] * 1000:>9.1f}"
                f" {r['saved'] * 1000:>9.1f} {r['saved'] / r['plain']:>6.1f} {r['disk'] / 1024:>10.1f}"
                f" {r['ckpt'] / 1024:>10.1f} {r['writes'] / 1024:>11.1f} {r['disk'] / 1024 / n:>9.2f}"
            )


if __name__ == "__main__":
    main()
