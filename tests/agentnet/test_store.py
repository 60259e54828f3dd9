from __future__ import annotations

from pathlib import Path

import pytest

from agentnet.errors import UnknownNameError
from agentnet.configs import TeamConfig
from agentnet.store import ResultRow, RunConfig, RunStore


def row(item: str, pos: int, score: float, error: str | None = None) -> ResultRow:
    return ResultRow(item, pos, "ans", "gold", "x", score, 100, 10, {"a0": [100, 10]}, 0.5, {}, error, {"q": item})


def test_runs_and_results_round_trip(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.sqlite") as store:
        config = RunConfig(task="gsm8k", limit=3, team=TeamConfig(roles=("math_solver",)))
        run_id = store.create_run(config, total_items=3)
        store.add_result(run_id, row("i1", 0, 1.0))
        store.add_result(run_id, row("i2", 1, 0.0, error="server down"))
        assert store.run(run_id).config == config and store.run(run_id).status == "running"
        assert store.finished_items(run_id) == {"i1"}  # failed items are re-run on resume
        store.add_result(run_id, row("i2", 1, 1.0))  # the re-run replaces, never duplicates
        rows = store.results(run_id, with_trajectories=True)
        assert [r.item_id for r in rows] == ["i1", "i2"] and rows[1].error is None and rows[0].trajectory == {"q": "i1"}
        s = store.summary(run_id)
        assert (s.scored, s.failed, s.accuracy, s.tokens_per_query, s.solved) == (2, 0, 1.0, 110.0, 2)
    with RunStore(tmp_path / "runs.sqlite") as reopened:  # persisted
        assert [r.id for r in reopened.runs()] == [run_id]


def test_unknown_run_lists_recent(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.sqlite") as store:
        known = store.create_run(RunConfig(task="gsm8k"), 1)
        with pytest.raises(UnknownNameError, match=f"unknown run 'nope'; known: {known}"):
            store.run("nope")
