from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentnet.agents import AgentSpec
from agentnet.errors import BackendError
from agentnet.evaluation import evaluate
from agentnet.graph import CommGraph, Decision
from agentnet.runtime import Team
from agentnet.store import RunConfig, RunStore
from agentnet.task import Item, Score
from agentnet.testing import ScriptedBackend


class Sums:
    """A tiny task: 'a+b' items, scored by exact match."""

    name, roles, decision = "sums", ("math_solver",), "last_agent"

    def __init__(self, n: int):
        self._items = [Item(f"sums/{i}", f"{i}+{i}", str(2 * i), {"private": [f"hint {i}"]}) for i in range(n)]

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
        asyncio.run(evaluate(team(ScriptedBackend(solver)), task, items, store, run_id, concurrency=1, on_result=on_result))
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
    flaky = ScriptedBackend(lambda m, s: BackendError("down", url="http://x") if "1+1" in m[-1].content else solver(m, s))
    summary = asyncio.run(evaluate(team(flaky), task, list(task.items()), store, run_id))
    assert summary.scored == 3 and summary.failed == 1
    assert "down" in next(r.error for r in store.results(run_id) if r.item_id == "sums/1")
    summary = asyncio.run(evaluate(team(ScriptedBackend(solver)), task, list(task.items()), store, run_id))
    assert summary.failed == 0 and summary.accuracy == 1.0
