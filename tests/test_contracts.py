"""Contracts between the layers, checked on the source (like tests/test_architecture.py): one
place scores an episode, the `Topology` contract is read as a type, and the decision kinds are
named only by their registry and their own module."""

from __future__ import annotations

import ast

from agentnet.decisions import DECISIONS
from tests.test_architecture import _modules


def _calls_to(attr: str) -> dict[str, list[int]]:
    """Library modules -> lines that call `<anything>.<attr>(...)`."""
    found: dict[str, list[int]] = {}
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == attr:
                found.setdefault(name, []).append(node.lineno)
    return found


def test_one_place_in_library_code_scores_a_run() -> None:
    # evaluation, the topology trainer, screening, Optima and Trace all score through agentnet.episodes
    assert set(_calls_to("score")) == {"agentnet.episodes"}, _calls_to("score")
    assert len(_calls_to("score")["agentnet.episodes"]) == 1


def test_one_place_runs_a_team_on_an_item() -> None:
    # the item's private facts reach its agents there; a served query (team_service) has no item
    runs = set(_calls_to("arun_or_fail")) | set(_calls_to("abatch"))
    assert runs - {"agentnet.runtime.team"} == {"agentnet.episodes", "agentnet.assembly.team_service"}, runs


def test_the_topology_contract_is_read_as_a_type_not_with_getattr() -> None:
    # Topology declares agents, decision and its inference gates (agentnet.graph)
    contract = {"agents", "decision", "inference_gate", "inference_stop_gate"}
    found = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in contract
            ):
                found.append(f"{name}:{node.lineno} {node.args[1].value}")
    assert found == []


def _kind_names(node: ast.AST, kinds: set[str]) -> list[str]:
    if isinstance(node, ast.Constant) and node.value in kinds:
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [k for e in node.elts for k in _kind_names(e, kinds)]
    return []


def test_adding_a_decision_kind_touches_two_files() -> None:
    # its DecisionInfo (agentnet.decisions) and its decider (agentnet.runtime.decide): every other
    # module asks decision_info() instead of comparing, indexing or keying by a kind's name
    kinds = set(DECISIONS)
    found = []
    for name, path in _modules().items():
        if name in ("agentnet.decisions", "agentnet.runtime.decide"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            named = []
            if isinstance(node, ast.Compare):
                named = [k for part in (node.left, *node.comparators) for k in _kind_names(part, kinds)]
            elif isinstance(node, ast.Subscript):
                named = _kind_names(node.slice, kinds)
            elif isinstance(node, ast.Dict):
                named = [k for part in node.keys if part is not None for k in _kind_names(part, kinds)]
            found += [f"{name}:{node.lineno} {k}" for k in named]
    assert found == []
