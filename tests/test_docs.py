"""The README stays a README, and the docs hook (docs/hooks.py) maps repository links to site pages.

The whole site is checked by `mkdocs build --strict` in `make test`; these cover what a build
alone would not say: the README's size, and the hook's link and count rules on small inputs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_readme_is_short_and_says_the_python_it_needs() -> None:
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    assert "Python 3.11+" in text and "3.10" not in text
    assert "make test" in text and "make demo" in text  # CI (.ci/run) calls the README's test command


def _hooks() -> ModuleType:
    pytest.importorskip("mkdocs", reason="SKIPPED LOUDLY: mkdocs missing; install the dev extra")
    spec = importlib.util.spec_from_file_location("agentnet_docs_hooks", REPO / "docs" / "hooks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _page(src_uri: str, source: Path) -> SimpleNamespace:
    return SimpleNamespace(file=SimpleNamespace(src_uri=src_uri, abs_src_path=str(source)))


def test_links_from_a_results_readme_become_site_links_or_paths() -> None:
    hooks = _hooks()
    readme = REPO / "benchmarks" / "results" / "adversaries" / "README.md"
    text = (
        "[a](../adaptive-teams/README.md#x) [b](../../../docs/serving.md) "
        "[c](../../adaptive_teams.py) [d](https://example.org) [e](../../../docs/nothing.md) [g](../../gone.py)\n"
        "```\n[f](../../adaptive_teams.py)\n```\n"
    )
    out = hooks._rewrite_links(text, _page("results/adversaries.md", readme))
    assert out.splitlines()[0] == (
        "[a](adaptive-teams.md#x) [b](../serving.md) c (`benchmarks/adaptive_teams.py`) "
        "[d](https://example.org) [e](../nothing.md) [g](../../gone.py)"
    )  # --strict reports both
    assert "[f](../../adaptive_teams.py)" in out  # code blocks are left alone


def test_links_from_a_docs_page_to_results_readmes_become_results_pages() -> None:
    hooks = _hooks()
    out = hooks._rewrite_links(
        "[v](../benchmarks/results/viewer-scale/README.md) [s](sandbox.md)",
        _page("viewer.md", REPO / "docs" / "viewer.md"),
    )
    assert out == "[v](results/viewer-scale.md) [s](sandbox.md)"


def test_counts_are_computed_and_an_unknown_count_fails_the_build() -> None:
    hooks = _hooks()
    from tests.tasks.sandbox import attacks

    expected = sum(
        len(d)
        for d in (attacks.WRITES, attacks.PROCESSES, attacks.NETWORK, attacks.SIGNALS_AND_LIMITS, attacks.SECRETS)
    )
    assert hooks._fill_counts("{count:sandbox-attacks} hostile programs") == f"{expected:,} hostile programs"
    with pytest.raises(Exception, match="unknown"):
        hooks._fill_counts("{count:no-such-thing}")


def test_every_agentnet_import_the_docs_show_resolves() -> None:
    """A name moved between modules breaks a reader's first paste; the docs' imports must name what exists."""
    import ast
    import importlib
    import re

    missing = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        for block in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S):
            statements, current = [], ""  # the import statements, a parenthesised one over its lines
            for line in block.splitlines():
                if current or re.match(r"(from|import) agentnet\b", line):
                    current += line + "\n"
                    if current.count("(") == current.count(")"):
                        statements.append(current)
                        current = ""
            for node in ast.walk(ast.parse("".join(statements))):
                if isinstance(node, ast.ImportFrom) and node.module:
                    module = importlib.import_module(node.module)
                    missing += [
                        f"{page.name}: {node.module}.{a.name}" for a in node.names if not hasattr(module, a.name)
                    ]
                elif isinstance(node, ast.Import):
                    for a in node.names:
                        importlib.import_module(a.name)
    assert missing == []
