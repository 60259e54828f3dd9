"""A topology file is checked when it is loaded, in one line: NaN/Infinity, 3.5 or `true` where a
count goes, a 100,000-level nesting, a 50 MB prompt, a million rounds — before any call is made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentnet.agents import AgentSpec
from agentnet.cli import app
from agentnet.errors import ConfigError
from agentnet.graph import MAX_ROUNDS, CommGraph, Decision

GRAPH = CommGraph.uniform([AgentSpec("a0", "math_solver"), AgentSpec("a1", "math_solver")], [("a0", "a1")])


def _doc(**changes: object) -> dict:
    doc = GRAPH.to_dict()
    for path, value in changes.items():
        where: dict = doc
        *parents, last = path.split("__")
        for key in parents:
            where = where[int(key)] if isinstance(where, list) else where[key]
        where[last] = value
    return doc


def _text(doc: dict) -> str:
    return json.dumps(doc, allow_nan=True)  # NaN written as Python writes it, as a hostile file would


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"agents__0__settings__max_tokens": float("nan")},
            "the CommGraph document is invalid JSON ('NaN is not a number JSON allows')",
        ),
        ({"agents__0__settings__seed": float("inf")}, "invalid JSON ('Infinity is not a number JSON allows')"),
        ({"decision__settings__max_tokens": float("-inf")}, "invalid JSON ('-Infinity is not a number JSON allows')"),
        ({"agents__0__settings__max_tokens": 3.5}, "max_tokens=3.5 is not a whole number"),
        ({"agents__0__settings__max_tokens": True}, "max_tokens=True is not a whole number"),
        ({"decision__settings__max_tokens": 0}, "max_tokens=0 must be at least 1"),
        ({"agents__1__settings__temperature": "hot"}, "temperature='hot' is not a number"),
        ({"agents__0__settings__seed": 2**64}, "seed=18446744073709551616 does not fit in 64 bits"),
        (
            {"decision__max_fixes": 10**18},
            "max_fixes=1000000000000000000 is out of range: it must be at least 0 and at most 100",
        ),
        ({"agents__0__system": ["not", "text"]}, "system=['not', 'text'] is a list, not text"),
        ({"agents__0__name": 7}, "not a CommGraph document"),
        ({"decision": 5}, "not a CommGraph document"),
    ],
)
def test_bad_values_in_a_graph_document_are_one_line(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        CommGraph.from_json(_text(_doc(**changes)))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_number_that_overflows_to_infinity_is_refused() -> None:
    text = _text(_doc()).replace('"temperature": 0.0', '"temperature": 1e999', 1)
    with pytest.raises(ConfigError, match="too large for a float"):
        CommGraph.from_json(text)


def test_a_document_nested_100000_levels_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"agents": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(
        ConfigError, match=r"deep.json: the CommGraph document nests arrays/objects more than 64 levels"
    ):
        CommGraph.load(path)


def test_a_50_mb_system_prompt_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(_text(_doc(agents__0__system="x" * 50_000_000)))
    with pytest.raises(ConfigError, match=r"^the graph file .*big.json is larger than 33,554,432 bytes"):
        CommGraph.load(path)


def test_a_long_prompt_within_the_file_limit_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "long.json"
    path.write_text(_text(_doc(agents__1__system="y" * 2_000_000)))
    with pytest.raises(
        ConfigError, match=r"agents\[1\]\.system is 2,000,000 characters; a prompt or name is at most 1,000,000"
    ):
        CommGraph.load(path)


def test_rounds_are_bounded_where_graphs_are_made() -> None:
    with pytest.raises(
        ConfigError, match=f"rounds=1000000000 is out of range: it must be at least 1 and at most {MAX_ROUNDS}"
    ):
        CommGraph.uniform(GRAPH.agents, rounds=10**9)  # refused before a billion-entry tuple is built
    doc = _doc(spatial=[[]] * (MAX_ROUNDS + 1), temporal=[[]] * MAX_ROUNDS)
    with pytest.raises(ConfigError, match=f"{MAX_ROUNDS + 1} rounds is more than the {MAX_ROUNDS}"):
        CommGraph.from_json(_text(doc))
    with pytest.raises(ConfigError, match="max_fixes=-1 is out of range: it must be at least 0 and at most 100"):
        Decision(max_fixes=-1)


def test_a_good_document_still_round_trips() -> None:
    assert CommGraph.from_json(GRAPH.to_json()) == GRAPH


def test_the_cli_refuses_a_hostile_topology_file_before_any_server(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "team.json"
    path.write_text(_text(_doc(agents__0__settings__max_tokens=float("nan"))))
    result = CliRunner().invoke(
        app, ["bench", "asymmetric", "--topology", str(path), "--base-url", "http://127.0.0.1:9/v1"]
    )
    assert result.exit_code == 2 and "NaN is not a number JSON allows" in result.output, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["team.json"]  # no store
