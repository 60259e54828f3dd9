"""The layering the design promises, checked on the source: no import cycles (lazy imports
included), imports only downwards, and modules that stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "agentnet": "agentnet",
    "topologies": "agentnet.topologies",
    "tasks": "agentnet.tasks",
    "assembly": "agentnet.assembly",
    "training": "agentnet.training",
}
# what each layer may import (besides itself and the core below it)
LAYERS = ["agentnet", "agentnet.topologies|agentnet.tasks", "agentnet.assembly", "agentnet.training", "agentnet.cli"]


def _modules() -> dict[str, Path]:
    out = {"agentnet.cli": ROOT / "cli.py"}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "cli.py":
                continue  # agentnet/cli.py is the symlink to cli.py
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            out[name] = path
    return out


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}
    return {m for m in found if m in known and m != name}


def _ancestors(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def _graph() -> nx.DiGraph:
    """Module -> what importing it runs: the modules it names, and the packages around them its own
    package has not run already (importing agentnet.serving.process runs agentnet/serving/__init__.py)."""
    modules = _modules()
    g = nx.DiGraph()
    for name, path in modules.items():
        g.add_node(name)
        for dep in _imports(path, name, set(modules)):
            g.add_edge(name, dep)
            g.add_edges_from(
                (name, p) for p in _ancestors(dep) - _ancestors(name) - {name} if p in modules and p != "agentnet"
            )
    return g


def _layer(module: str) -> int:
    for i, layer in enumerate(reversed(LAYERS)):
        if any(module == p or module.startswith(p + ".") for p in layer.split("|")):
            return len(LAYERS) - 1 - i
    raise AssertionError(module)


def test_no_import_cycles_lazy_imports_included() -> None:
    assert sorted(nx.simple_cycles(_graph())) == []


def test_no_module_imports_a_sibling_through_its_package() -> None:
    """`from agentnet import replies` runs agentnet/__init__.py, which imports agentnet.llm: a cycle
    the graph above cannot see (it resolves the name to agentnet.replies). Import the module itself."""
    modules = _modules()
    packages = {name for name, path in modules.items() if path.name == "__init__.py"}
    through = [
        (name, f"from {node.module} import {a.name}")
        for name, path in modules.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and not node.level and node.module in packages
        for a in node.names
        if f"{node.module}.{a.name}" in modules and not (path.name == "__init__.py" and node.module == name)
    ]
    assert through == []


def test_imports_go_downwards_only() -> None:
    upward = [(a, b) for a, b in _graph().edges if _layer(b) > _layer(a)]
    sideways = [(a, b) for a, b in _graph().edges if _layer(a) == _layer(b) == 1 and a.split(".")[1] != b.split(".")[1]]
    runtime = [(a, b) for a, b in _graph().edges if a.startswith("agentnet.runtime") and _layer(b) > 0]
    assert (upward, sideways, runtime) == ([], [], [])


def test_modules_stay_under_500_lines() -> None:
    long = {name: n for name, path in _modules().items() if (n := len(path.read_text().splitlines())) > 500}
    assert long == {}


def test_the_cli_is_wiring_only() -> None:
    assert len((ROOT / "cli.py").read_text().splitlines()) <= 400
