"""Checkpoints: opened once per `async with Team(...)`, each write stored once, resumable."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import agentnet.runtime.saver as saver_module
from agentnet.agents import AgentSpec
from agentnet.errors import ConfigError
from agentnet.graph import CommGraph, Decision
from agentnet.runtime import Team
from agentnet.testing import ScriptedBackend

MARKER = "Q-7f3a"  # a query no prompt template contains: where it appears, a prompt (or the input) was stored


def chain(n: int, decision: str = "final_refer") -> CommGraph:
    specs = [AgentSpec(f"a{i}", "math_solver") for i in range(n)]
    edges = [(f"a{i}", f"a{i + 1}") for i in range(n - 1)]
    return CommGraph.uniform(specs, edges, [(a.name, a.name) for a in specs], rounds=2, decision=Decision(decision))


def blobs(db: Path) -> list[bytes]:
    with sqlite3.connect(db) as conn:
        stored = [r[0] for r in conn.execute("SELECT checkpoint FROM checkpoints")]
        return stored + [r[0] for r in conn.execute("SELECT value FROM writes")]


class Crash(Exception):
    """Stands in for a process killed mid-run."""


@pytest.mark.parametrize("n", [3, 6])
def test_each_prompt_is_stored_once_not_again_at_every_step(tmp_path: Path, n: int) -> None:
    db = tmp_path / "c.sqlite"
    t = Team(chain(n), ScriptedBackend(["The answer is 1"], cycle=True), checkpoint=db).run(MARKER, thread_id="t")
    prompts = sum(m.content.count(MARKER) for r in t.messages for m in r.prompt)
    assert t.calls == 2 * n + 1 and prompts == t.calls  # every prompt states the query once
    # the query once in each prompt, plus the run's input (the first checkpoint's and its write);
    # with the records in a plain channel every checkpoint held every prompt so far (n=6: 126)
    assert sum(b.count(MARKER.encode()) for b in blobs(db)) == prompts + 2


def test_an_open_team_opens_its_checkpoint_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Path] = []
    real = saver_module.open_sqlite

    @contextmanager
    def counting(path: Path) -> Iterator[saver_module.LoopSqliteSaver]:
        opened.append(path)
        with real(path) as saver:
            yield saver

    monkeypatch.setattr(saver_module, "open_sqlite", counting)
    db = tmp_path / "sub" / "c.sqlite"  # the folder is created
    team = Team(chain(2, "last_agent"), ScriptedBackend(["x"], cycle=True), checkpoint=db)

    async def inside() -> list[str]:
        async with team:
            first = await team.arun("q", thread_id="t1")
            again = await team.arun("q", thread_id="t1")  # finished: read back, no calls
            other = await team.arun("r")
        return [first.answer, again.answer, other.answer]

    assert asyncio.run(inside()) == ["x", "x", "x"] and opened == [db]
    team.run("s")
    team.run("q", thread_id="t1")
    assert opened == [db] * 3  # without `async with`: once per run (it was twice: read, then run)


def test_a_crashed_run_resumes_inside_the_same_open_team(tmp_path: Path) -> None:
    backend = ScriptedBackend(["r0", "r1", "r2", Crash("killed"), "s3", "s4", "s5"])
    team = Team(chain(3, "last_agent"), backend, checkpoint=tmp_path / "c.sqlite")

    async def run() -> list[str]:
        async with team:
            with pytest.raises(Crash):
                await team.arun("q", thread_id="t1")
            t = await team.arun("q", thread_id="t1")
        return [m.output for m in t.messages]

    assert asyncio.run(run()) == ["r0", "r1", "r2", "s3", "s4", "s5"]
    assert [c.reply for c in backend.calls] == ["r0", "r1", "r2", "s3", "s4", "s5"]  # none ran again


def test_an_open_team_cannot_be_entered_twice_and_runs_after_closing(tmp_path: Path) -> None:
    team = Team(chain(2, "last_agent"), ScriptedBackend(["x"], cycle=True), checkpoint=tmp_path / "c.sqlite")

    async def twice() -> None:
        async with team:
            with pytest.raises(ConfigError, match="already open"):
                await team.__aenter__()
        async with team:  # closed, so it opens again
            assert (await team.arun("q")).answer == "x"

    asyncio.run(twice())
    assert team.run("q").answer == "x"


@pytest.mark.parametrize("open_team", [True, False])
def test_a_batch_writes_every_thread_to_one_file(tmp_path: Path, open_team: bool) -> None:
    db = tmp_path / "c.sqlite"
    backend = ScriptedBackend(lambda m, s: m[-1].content.split()[-1], latency_s=0.01)
    team = Team(chain(2, "last_agent"), backend, checkpoint=db)

    async def batch() -> list[str]:
        queries = [f"query {i}" for i in range(6)]
        if open_team:
            async with team:
                results = await team.abatch(queries, concurrency=3)
        else:
            results = await team.abatch(queries, concurrency=3)
        return [r.thread_id for r in results if r.answer and not r.error]

    threads = asyncio.run(batch())
    with sqlite3.connect(db) as conn:
        saved = {r[0] for r in conn.execute("SELECT DISTINCT thread_id FROM checkpoints")}
    assert len(threads) == 6 and saved == set(threads)


def test_a_team_given_a_saver_uses_it_and_resumes(tmp_path: Path) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    saver = InMemorySaver()
    first = ScriptedBackend(["r0", "r1", Crash("killed")])
    with pytest.raises(Crash):
        Team(chain(2, "last_agent"), first, checkpoint=saver).run("q", thread_id="t1")
    t = Team(chain(2, "last_agent"), ScriptedBackend(["s2", "s3"]), checkpoint=saver).run("q", thread_id="t1")
    assert [m.output for m in t.messages] == ["r0", "r1", "s2", "s3"] and not (tmp_path / "c.sqlite").exists()
