"""The viewer's data, read from a real store of real (scripted) team runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentnet.store import ResultRow, RunStore
from agentnet.viewer.data import file_name, index_data, item_data
from tests.agentnet.viewer.runs import make_store


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("viewer") / "runs.sqlite"
    return path, make_store(path)


def _item(stored, run: str, item: str = "planted/0") -> dict:
    path, ids = stored
    with RunStore(path) as store:
        row = next(r for r in store.results(ids[run], with_trajectories=True) if r.item_id == item)
    return item_data(row, ids[run])


def test_the_attacked_team_as_it_ran(stored) -> None:
    d = _item(stored, "attacked")
    assert (d["rounds"], d["rounds_run"], d["decide"], d["decision_kind"]) == (2, 2, True, "final_refer")
    assert [a["adversary"] for a in d["agents"]] == ["", "liar", "", ""]
    assert (
        len(d["calls"]) == 8 and d["decision"] is not None and d["decision"]["spatial_from"] == ["a0", "a1", "a2", "a3"]
    )
    edges = {(e["from"], e["to"]): e for e in d["edges"]}
    # a2 heard a0 and a1 in round 0; its receive gate shut everything out in round 1
    assert edges[("a0@0", "a2@0")]["state"] == "carried" and edges[("a0@0", "a2@0")]["tokens"] > 0
    assert {e["state"] for (u, v), e in edges.items() if v == "a2@1"} == {"gated"}
    assert all(e["tokens"] > 0 for (u, v), e in edges.items() if v == "a2@1")  # what the gate saved
    call = next(c for c in d["calls"] if c["id"] == "a1@0")
    assert call["prompt"][0]["content"].startswith("You are a deceptive agent") and call["output"] == "The answer is 7"
    assert d["score"] == 0.0 and d["extracted"] == "7" and d["question"].startswith("Question number 0")


def test_skipped_agents_and_a_skipped_decision(stored) -> None:
    d = _item(stored, "adaptive")
    assert [a["active"] for a in d["agents"]] == [[True, True], [True, False], [True, False], [True, False]]
    assert d["decision"] is None and not d["decide"] and d["answering"] == "a0"
    assert [c["id"] for c in d["calls"]] == ["a0@0", "a1@0", "a2@0", "a3@0", "a0@1"]
    temporal = [(e["from"], e["to"], e["state"]) for e in d["edges"] if e["kind"] == "temporal"]
    assert temporal == [("a1@0", "a0@1", "carried"), ("a2@0", "a0@1", "carried")]


def test_a_row_written_by_an_older_version_still_shows_what_it_has() -> None:
    bare = ResultRow("q1", 0, "The answer is 3", "3", "3", 1.0, 10, 5, {}, 0.5, {}, None)  # no graph, no trajectory
    d = item_data(bare, "old")
    assert (d["graph"], d["agents"], d["calls"], d["stored_trajectory"]) == (None, [], [], False)
    legacy = {
        "query": "q",
        "messages": [{"agent": "a0", "round": 0, "kind": "agent", "output": "hi"}],
        "graph": {"agents": [{"name": "a0", "role": "math_solver"}], "spatial": [[]]},
    }
    d = item_data(ResultRow("q2", 1, "hi", "3", "", 0.0, 1, 1, {}, 0.1, {}, None, legacy), "old")
    assert (
        d["calls"][0]["output"] == "hi" and d["calls"][0]["finish"] == "unknown" and d["agents"][0]["active"] == [True]
    )


def test_index_lines_and_file_names(stored) -> None:
    path, ids = stored
    with RunStore(path) as store:
        lines = index_data(store.results(ids["attacked"]))
    assert [(x["item"], x["score"], x["calls"]) for x in lines] == [(f"planted/{i}", 0.0, 9) for i in range(4)]
    assert json.dumps(lines)  # plain data
    assert file_name("gsm8k/test/1") != file_name("gsm8k_test_1") and file_name("a/b").endswith(".html")
    assert "/" not in file_name("../../etc/passwd") and not file_name("../x").startswith(".")
