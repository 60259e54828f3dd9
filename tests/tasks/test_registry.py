"""The task registry, and the import graph of the tasks package: acyclic, lazy imports included."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import agentnet.tasks
from agentnet.errors import UnknownNameError
from agentnet.task_types import Task
from agentnet.tasks import REGISTRY, TaskConfig, make_task

PACKAGE = Path(agentnet.tasks.__file__).parent


def test_every_task_builds_and_is_a_task() -> None:
    for name in REGISTRY:
        task = make_task(name, TaskConfig())
        assert task.name == name and isinstance(task, Task)


def test_an_unknown_task_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="unknown task 'nope'; known: 2wikimultihopqa, aqua, arc-challenge"):
        make_task("nope")


def _imports(path: Path) -> set[str]:
    """Every agentnet module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("agentnet"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("agentnet")}
    return found


def test_the_tasks_package_has_no_import_cycle() -> None:
    graph = {}
    for path in PACKAGE.glob("*.py"):
        module = "agentnet.tasks" if path.stem == "__init__" else f"agentnet.tasks.{path.stem}"
        graph[module] = {m for m in _imports(path) if m.startswith("agentnet.tasks")}
    tuple(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    importers = sorted(m for m, deps in graph.items() if "agentnet.tasks" in deps)
    assert importers == [], f"{importers} import the package itself, which imports every task"


def test_tasks_import_no_runtime_training_or_topologies() -> None:
    for path in PACKAGE.glob("*.py"):
        upward = {
            m for m in _imports(path) if m.startswith(("agentnet.runtime", "agentnet.training", "agentnet.topologies"))
        }
        assert not upward, f"{path.name} imports {upward}"
