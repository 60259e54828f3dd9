from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agentnet.agents import AgentSpec
from agentnet.configs import TeamConfig
from agentnet.errors import StoreError, UnknownNameError
from agentnet.evaluation import result_row
from agentnet.graph import CommGraph
from agentnet.store import ResultRow, RunConfig, RunStore
from agentnet.store_file import SCHEMA
from agentnet.task_types import Item
from agentnet.trajectory import MessageRecord, Trajectory
from agentnet.types import Message, Usage
from tests.agentnet.mounts import fill, remount, tmpfs


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


# -- the call ledger ---------------------------------------------------------------------------
def _trajectory(finishes: list[str], cached: list[bool], error: str | None = None) -> Trajectory:
    graph = CommGraph.uniform((AgentSpec("a0", "math_solver"),), [])
    records = [
        MessageRecord("a0", 0, "agent", (Message("user", "q"),), "out", Usage(10, 5), 0.1, finish_reason=f, cached=c)
        for f, c in zip(finishes, cached, strict=True)
    ]
    return Trajectory("q", graph, records, "7", rounds_run=1, error=error)


def test_results_record_the_call_ledger_and_the_summary_adds_it_up(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.sqlite") as store:
        run_id = store.create_run(RunConfig(task="gsm8k"), 2)
        first = _trajectory(["stop", "length", "stop", "length"], [True, True, False, False])
        second = _trajectory(["stop", "unknown", "stop", "stop"], [True, False, False, False])
        store.add_result(run_id, result_row(0, Item("i0", "q", "7"), first, 1.0, "7"))
        store.add_result(run_id, result_row(1, Item("i1", "q", "7"), second, 0.0, "8"))
        r0 = store.results(run_id)[0]
        assert (r0.calls, r0.cached_calls, r0.cut_off_calls, r0.unknown_finish_calls) == (4, 2, 2, 0)
        assert (r0.prompt_tokens, r0.served_prompt_tokens, r0.served_completion_tokens) == (40, 20, 10)
        s = store.summary(run_id)
        assert (s.accounted, s.calls, s.cached_calls, s.cut_off_calls, s.unknown_finish_calls) == (2, 8, 3, 2, 1)
        assert s.hit_rate == 3 / 8 and s.cut_off_share == 2 / 7  # the call with no finish reason is left out
        assert s.tokens_per_query == 60.0 and s.served_tokens_per_query == (30 + 45) / 2


# the results table as the first release created it: no ledger columns
OLD_RESULTS = """
CREATE TABLE results (run_id TEXT NOT NULL, item_id TEXT NOT NULL, position INTEGER NOT NULL, answer TEXT NOT NULL,
    gold TEXT NOT NULL, extracted TEXT NOT NULL, score REAL NOT NULL, prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL, agent_tokens TEXT NOT NULL, latency_s REAL NOT NULL, edges TEXT NOT NULL,
    error TEXT, trajectory TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (run_id, item_id));
"""
OLD_SCHEMA = SCHEMA.split("CREATE TABLE IF NOT EXISTS results")[0] + OLD_RESULTS


def _old_store(path: Path) -> str:
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.execute(
            "INSERT INTO runs VALUES ('old', 1, 'gsm8k', 'test', 'chain', 'm', ?, 2, 'finished', 1)",
            (RunConfig(task="gsm8k").to_json(),),
        )
        db.execute(
            "INSERT INTO results VALUES ('old', 'i0', 0, 'a', 'g', 'x', 1.0, 100, 10, '{}', 0.5, '{}', NULL, '{}', 1)"
        )
    db.close()
    return "old"


def test_an_older_store_reports_the_ledger_as_unknown_and_gains_its_columns(tmp_path: Path) -> None:
    run_id = _old_store(tmp_path / "runs.sqlite")
    with RunStore(tmp_path / "runs.sqlite") as store:
        s = store.summary(run_id)
        assert (s.scored, s.accuracy, s.accounted, s.hit_rate, s.cut_off_share, s.served_tokens_per_query) == (
            1,
            1.0,
            0,
            None,
            None,
            None,
        )
        assert store.results(run_id)[0].calls is None
        store.add_result(run_id, result_row(1, Item("i1", "q", "g"), _trajectory(["length"], [False]), 0.0, "x"))
        s = store.summary(run_id)
        assert (s.scored, s.accounted, s.cut_off_share, s.hit_rate) == (2, 1, 1.0, 0.0)


# -- failures of the file itself: real full and read-only filesystems ----------------------------
def _one_line_naming(error: StoreError, path: Path, why: str) -> None:
    text = str(error)
    assert "\n" not in text and str(path) in text and why in text and "--store" in text, text


def test_a_full_disk_is_one_store_error_and_the_database_stays_intact(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", size="512k") as mount:
        path = mount / "runs.sqlite"
        store = RunStore(path)
        run_id = store.create_run(RunConfig(task="gsm8k"), 3)
        store.add_result(run_id, row("i1", 0, 1.0))
        filler = fill(mount)
        big = ResultRow("i2", 1, "ans", "g", "x", 1.0, 1, 1, {}, 0.1, {}, None, {"text": "many words " * 30_000})
        with pytest.raises(StoreError) as e:
            store.add_result(run_id, big)
        _one_line_naming(e.value, path, "the disk is full while storing item i2")
        with sqlite3.connect(path) as other:  # another reader sees the file as it was
            assert other.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert other.execute("SELECT item_id FROM results").fetchall() == [("i1",)]
        other.close()
        filler.unlink()
        store.add_result(run_id, big)  # space again: the same store goes on
        assert [r.item_id for r in store.results(run_id)] == ["i1", "i2"]
        store.close()


def test_a_read_only_store_still_reports_and_refuses_writes_in_one_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro") as mount:
        path = mount / "runs.sqlite"
        with RunStore(path) as store:
            run_id = store.create_run(RunConfig(task="gsm8k"), 1)
            store.add_result(run_id, row("i1", 0, 1.0))
        _old_store(mount / "old.sqlite")
        remount(mount, "ro")
        with RunStore(path) as store:
            assert store.summary(run_id).scored == 1
            with pytest.raises(StoreError) as e:
                store.add_result(run_id, row("i2", 1, 1.0))
            _one_line_naming(e.value, path, "it is read-only while storing item i2")
        with RunStore(mount / "old.sqlite") as old:  # cannot gain the ledger columns: reported as unknown
            assert (old.summary("old").scored, old.summary("old").hit_rate) == (1, None)
        with pytest.raises(StoreError, match="cannot create its directory .*--store PATH in a writable directory"):
            RunStore(mount / "sub" / "runs.sqlite")


def test_a_locked_store_and_a_file_that_is_no_store_are_one_line_each(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    RunStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with RunStore(path, busy_timeout_s=0.05) as store, pytest.raises(StoreError) as e:
            store.create_run(RunConfig(task="gsm8k"), 1)
        _one_line_naming(e.value, path, "another process holds it locked while creating a run")
    finally:
        holder.close()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database " * 500)
    with pytest.raises(StoreError) as e:
        RunStore(notes)
    _one_line_naming(e.value, notes, "not an agentnet run store")
    assert notes.read_text() == "not a database " * 500


def test_calls_per_replica_are_kept_per_item_and_summed_per_run(tmp_path) -> None:
    from agentnet.run_table import replica_cell, summary_table
    from agentnet.store import ResultRow, RunConfig, RunStore

    with RunStore(tmp_path / "r.sqlite") as store:
        run = store.create_run(RunConfig(task="gsm8k"), 2)
        for i, calls in enumerate(({"http://a:1/v1": 2, "http://b:2/v1": 1}, {"http://b:2/v1": 3})):
            store.add_result(
                run, ResultRow(f"i{i}", i, "4", "4", "4", 1.0, 1, 1, {}, 0.1, {}, None, calls=3, replica_calls=calls)
            )
        summary = store.summary(run)
        assert summary.replica_calls == {"http://b:2/v1": 4, "http://a:1/v1": 2}
        assert store.results(run)[0].replica_calls == {"http://a:1/v1": 2, "http://b:2/v1": 1}
    assert replica_cell(summary.replica_calls) == "b:2 4, a:1 2"
    assert "replicas" in [c.header for c in summary_table([summary]).columns]
