"""mypy sees across the layers: the folders install as agentnet.* (setuptools package-dir), and
tools/mypy_tree.py shows mypy that layout, so a cross-layer import has its real type, not Any.

Runs mypy as `make test` does, with its cache (.mypy_cache), which `make test`'s mypy step has just
filled: 2-4 s a test here; on a cold cache the first one is a whole mypy run (80-160 s here)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]

SNIPPET = """\
from agentnet.assembly.team import team_for
from agentnet.runtime.compile import build
from agentnet.tasks import make_task
from agentnet.topologies.agentprune import AgentPrune
from agentnet.topologies.registry import load_learned
from agentnet.training.topology import TopologyTrainer


def check(prune: AgentPrune, trainer: TopologyTrainer) -> None:
    reveal_type(prune.graph_for)
    reveal_type(prune.config)
    reveal_type(make_task("gsm8k"))
    reveal_type(trainer.topology)
    reveal_type(load_learned("gdesigner:model.pt"))
    reveal_type(build)
    reveal_type(team_for)
"""


def _mypy(tmp_path: Path, source: str) -> list[str]:
    """mypy's lines about `source` (errors in the imported modules are the full run's business).
    They are matched by file name: a module whose text is in mypy's cache is reported under the
    path it was cached from."""
    snippet = tmp_path / "typing_probe.py"
    snippet.write_text(source)
    done = subprocess.run(
        [sys.executable, "tools/mypy_tree.py", str(snippet)], cwd=ROOT, capture_output=True, text=True, timeout=280
    )
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line.partition(f"{snippet.name}:") for line in done.stdout.splitlines()]
    return [rest for path, found, rest in lines if found and path.endswith("/")]


def test_cross_layer_imports_have_their_real_types_not_any(tmp_path: Path) -> None:
    revealed = [line.partition('Revealed type is "')[2].removesuffix('"') for line in _mypy(tmp_path, SNIPPET)]
    assert revealed[:5] == [
        "def (query: str) -> agentnet.graph.CommGraph",
        "agentnet.topologies.configs.AgentPruneConfig",
        "agentnet.task_types.Task",
        "agentnet.topologies.learned.LearnedTopology",
        "agentnet.topologies.learned.LearnedTopology",
    ]
    state = "TypedDict(agentnet.runtime.node.RunState, "
    assert revealed[5].startswith(f"def (graph: agentnet.graph.CommGraph) -> langgraph.graph.state.StateGraph[{state}")
    team_for = revealed[6]
    assert team_for.startswith("def (task: agentnet.task_types.Task | None, topology: str | agentnet.graph.Topology, ")
    assert "checkpoint: str | pathlib.Path | langgraph.checkpoint.base.BaseCheckpointSaver[Any] | None" in team_for
    assert team_for.endswith("-> agentnet.runtime.team.Team") and len(revealed) == 7


def test_a_missing_first_party_module_is_an_error_not_any(tmp_path: Path) -> None:
    lines = _mypy(tmp_path, "import agentnet.topologies.no_such_module\n")
    assert lines[0] == (
        '1: error: Cannot find implementation or library stub for module named "agentnet.topologies.no_such_module"'
        "  [import-not-found]"
    )


def _mypy_tree() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mypy_tree", ROOT / "tools" / "mypy_tree.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tree_mirrors_package_dir_and_follows_the_sources(tmp_path: Path) -> None:
    tree, mapping = _mypy_tree(), '[tool.setuptools]\npackage-dir = { "pkg" = "core", "pkg.extra" = "extra" }\n'
    (tmp_path / "pyproject.toml").write_text(mapping)
    for name in ("core/__init__.py", "core/a.py", "core/__pycache__/a.pyc", "extra/__init__.py", "extra/b.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    tree.layout(tmp_path, Path("build/mypy"))
    pkg = tmp_path / "build/mypy/pkg"
    assert sorted(p.name for p in pkg.iterdir()) == ["__init__.py", "a.py", "extra"]
    assert os.readlink(pkg / "a.py") == "../../../core/a.py" and os.readlink(pkg / "extra") == "../../../extra"
    assert (pkg / "extra" / "b.py").resolve() == tmp_path / "extra" / "b.py"

    (tmp_path / "core/c.py").write_text("")  # a new module appears in the tree, a deleted one goes
    (tmp_path / "core/a.py").unlink()
    tree.layout(tmp_path, Path("build/mypy"))
    assert sorted(p.name for p in pkg.iterdir()) == ["__init__.py", "c.py", "extra"]

    report = "build/mypy/pkg/extra/b.py:3: error: x  [misc]\nbuild/mypy/pkg/c.py:1: note: see build/mypy/pkg/extra/b.py"
    expected = "extra/b.py:3: error: x  [misc]\ncore/c.py:1: note: see extra/b.py"
    assert tree.real_paths(report, tmp_path, Path("build/mypy")) == expected
