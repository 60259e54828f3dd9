from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from agentnet.agents import AgentSpec
from agentnet.errors import BackendError, ServerDiedError
from agentnet.evaluation import evaluate
from agentnet.graph import CommGraph, Decision
from agentnet.llm import OpenAIBackend, RetryPolicy
from agentnet.runtime import Team
from agentnet.serving.process import ServerProcess, free_port
from agentnet.store import RunConfig, RunStore
from agentnet.task_types import Item, Score
from agentnet.testing import ScriptedBackend
from tests.faults import FaultServer, Step


class Sums:
    """A tiny task: 'a+b' items, scored by exact match."""

    name, roles, decision = "sums", ("math_solver",), "last_agent"

    def __init__(self, n: int):
        self._items = [Item(f"sums/{i}", f"{i}+{i}", str(2 * i), private=((f"hint {i}",),)) for i in range(n)]

    def items(self, split: str = "test"):
        return iter(self._items)

    def extract(self, output: str) -> str:
        return output.split()[-1] if output.split() else ""

    async def score(self, item: Item, output: str) -> Score:
        got = self.extract(output)
        return Score(float(got == item.answer), got)


def solver(messages, settings) -> str:
    a, b = messages[-1].content.split("The task is: ")[1].split("\n")[0].split("+")
    return f"it is {int(a) + int(b)}"


def team(backend: ScriptedBackend) -> Team:
    return Team(CommGraph.uniform([AgentSpec("a0", "math_solver")], decision=Decision("last_agent")), backend)


def test_results_are_stored_as_produced_and_resume_skips_them(tmp_path: Path) -> None:
    task, store = Sums(10), RunStore(tmp_path / "runs.sqlite")
    run_id = store.create_run(RunConfig(task="sums", limit=10), 10)
    seen: list[str] = []

    class Stop(Exception):
        pass

    def on_result(row) -> None:  # simulate a kill after 4 stored results
        seen.append(row.item_id)
        if len(seen) == 4:
            raise Stop

    items = list(task.items())
    with pytest.raises(Stop):
        asyncio.run(
            evaluate(team(ScriptedBackend(solver)), task, items, store, run_id, concurrency=1, on_result=on_result)
        )
    assert store.run(run_id).status == "interrupted" and len(store.results(run_id)) == 4

    backend = ScriptedBackend(solver)
    summary = asyncio.run(evaluate(team(backend), task, items, store, run_id, concurrency=3))
    assert len(backend.calls) == 6  # only the unfinished items
    assert summary.scored == 10 and summary.accuracy == 1.0 and summary.run.status == "finished"
    assert [r.item_id for r in store.results(run_id)] == [f"sums/{i}" for i in range(10)]
    assert "hint 4" in backend.calls[0].messages[-1].content  # private facts reached the agent


def test_failed_items_are_recorded_then_retried_on_resume(tmp_path: Path) -> None:
    task, store = Sums(3), RunStore(tmp_path / "runs.sqlite")
    run_id = store.create_run(RunConfig(task="sums"), 3)
    flaky = ScriptedBackend(
        lambda m, s: BackendError("down", url="http://x") if "1+1" in m[-1].content else solver(m, s)
    )
    summary = asyncio.run(evaluate(team(flaky), task, list(task.items()), store, run_id))
    assert summary.scored == 3 and summary.failed == 1
    assert "down" in next(r.error for r in store.results(run_id) if r.item_id == "sums/1")
    summary = asyncio.run(evaluate(team(ScriptedBackend(solver)), task, list(task.items()), store, run_id))
    assert summary.failed == 0 and summary.accuracy == 1.0


# -- faults: bad replies, dead servers ---------------------------------------------------------

FAST = RetryPolicy(max_retries=1, base_delay_s=0.01, max_delay_s=0.02)
ROOT = Path(__file__).resolve().parents[2]


def test_a_bad_200_fails_that_item_and_the_bench_goes_on(tmp_path: Path) -> None:
    task, store = Sums(3), RunStore(tmp_path / "runs.sqlite")
    run_id = store.create_run(RunConfig(task="sums"), 3)
    steps = [Step(text="it is 0"), Step(mode="not_json"), Step(mode="empty_choices"), Step(text="it is 4")]
    with FaultServer(steps) as peer:
        backend = OpenAIBackend(peer.base_url, model="m", retry=FAST)
        summary = asyncio.run(evaluate(team(backend), task, list(task.items()), store, run_id, concurrency=1))
    assert summary.run.status == "finished" and (summary.scored, summary.failed, summary.accuracy) == (3, 1, 2 / 3)
    failed = next(r for r in store.results(run_id) if r.item_id == "sums/1")
    assert "bad reply after 2 attempts" in (failed.error or "") and "'choices' is empty" in (failed.error or "")


def test_a_server_that_dies_mid_run_stops_it_for_a_resume(tmp_path: Path) -> None:
    task, store = Sums(5), RunStore(tmp_path / "runs.sqlite")
    items = list(task.items())
    run_id = store.create_run(RunConfig(task="sums"), 5)
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    # two items are in flight when the server dies: whichever request reaches it after the
    # first death (before the process is gone) dies too, instead of getting a default answer
    steps = json.dumps([{"text": "it is 0"}, {"text": "it is 2"}] + [{"mode": "die"}] * 3)
    cmd = [sys.executable, "-m", "tests.faults", str(port), steps]
    with ServerProcess(cmd, tmp_path / "server.log", env={"PYTHONPATH": str(ROOT)}) as server:
        server.wait_ready(f"{base}/models", timeout_s=30)
        backend = OpenAIBackend(base, model="m", retry=FAST, timeout_s=5)
        run = evaluate(team(backend), task, items, store, run_id, concurrency=2, health=lambda: server.health(base))
        with pytest.raises(ServerDiedError) as info:
            asyncio.run(run)
    error = info.value
    assert "exited with code 3" in error.reason and "fatal: scripted death" in error.log_tail
    assert f"--resume {run_id}" in str(error) and error.run_id == run_id
    assert store.run(run_id).status == "interrupted"
    assert sorted(r.item_id for r in store.results(run_id)) == ["sums/0", "sums/1"]  # no "cannot connect" rows

    backend2 = ScriptedBackend(solver)  # the restarted server
    summary = asyncio.run(evaluate(team(backend2), task, items, store, run_id, health=lambda: None))
    assert len(backend2.calls) == 3 and summary.run.status == "finished" and summary.failed == 0 and summary.scored == 5


def test_a_failure_while_the_server_is_healthy_is_recorded(tmp_path: Path) -> None:
    task, store = Sums(4), RunStore(tmp_path / "runs.sqlite")
    run_id = store.create_run(RunConfig(task="sums"), 4)
    probes: list[int] = []

    def health() -> str | None:  # healthy at the first failure (probed twice: it may be dying), dead at the second
        probes.append(1)
        return None if len(probes) <= 2 else "the server (pid 1) exited with code 9\nlast words"

    def reply(messages, settings):
        return (
            BackendError("cannot connect", url="http://x")
            if "1+1" in messages[-1].content or "3+3" in messages[-1].content
            else solver(messages, settings)
        )

    with pytest.raises(ServerDiedError, match="exited with code 9") as info:
        asyncio.run(
            evaluate(
                team(ScriptedBackend(reply)), task, list(task.items()), store, run_id, concurrency=1, health=health
            )
        )
    assert info.value.log_tail == "last words" and len(probes) == 3
    rows = {r.item_id: r.error for r in store.results(run_id)}
    assert set(rows) == {"sums/0", "sums/1", "sums/2"} and rows["sums/1"] and rows["sums/0"] is None
