"""MkDocs hooks for the agentnet docs site (mkdocs.yml: `hooks: [docs/hooks.py]`).

- Each experiment's `benchmarks/results/<experiment>/README.md` becomes the page
  `results/<experiment>.md`, listed under Results in the nav and in `results/index.md`
  (where the `results-list` marker is), described by its row in README.md's Results table (a
  results folder without a row there fails the build). The READMEs stay where the experiments keep their
  results, so they read the same on a repository browser.
- Links are written as they resolve in the repository: a link to a results README becomes a
  link to its page, and a link to any other repository file outside docs/ (a script, a test,
  kept results) becomes the file's path in code, since the site does not carry it. A link to
  nothing stays as written, so `mkdocs build --strict` fails on it.
- The `cli-help` marker in cli.md becomes `agentnet COMMAND --help` of every command, run
  through Typer's test runner when the site is built (so it needs agentnet installed).
- The API reference reads the source statically (mkdocstrings, griffe), but the folders install
  under other names (`topologies/` as `agentnet.topologies`, pyproject's package-dir), which
  griffe cannot follow; so `build/docs-src/agentnet` is made as the installed tree of
  symlinks, and mkdocs.yml points mkdocstrings there.
- `{count:NAME}` is replaced by a number computed from the code when the site is built
  (COUNTS below), so no count in the docs is typed by hand. An unknown NAME fails the build.
"""

from __future__ import annotations

import ast
import os
import posixpath
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any, Callable

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]\n]*)\]\((?P<target>[^)\s]+)\)")
COUNT = re.compile(r"\{count:(?P<name>[a-z0-9-]+)\}")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


def _dict_entries(path: Path, names: tuple[str, ...]) -> int:
    """How many keys the dict literals `names` in a Python file have (read, never imported)."""
    found: dict[str, int] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in names:
                    found[target.id] = len(node.value.keys)
    missing = set(names) - set(found)
    if missing:
        raise PluginError(f"docs/hooks.py: {path} has no dict {sorted(missing)}; update COUNTS in docs/hooks.py")
    return sum(found.values())


def _sandbox_attacks() -> int:
    return _dict_entries(
        RESULTS.parents[1] / "tests" / "tasks" / "sandbox" / "attacks.py",
        ("WRITES", "PROCESSES", "NETWORK", "SIGNALS_AND_LIMITS", "SECRETS"),
    )


def _humaneval_cases(*names: str) -> Callable[[], int]:
    return lambda: _dict_entries(REPO / "tests" / "tasks" / "humaneval_cases.py", names)


COUNTS: dict[str, Callable[[], int]] = {
    "sandbox-attacks": _sandbox_attacks,  # hostile programs in the escape suite
    "humaneval-hostile": _humaneval_cases("HOSTILE", "HOSTILE_BUT_CORRECT"),  # candidates graded by both graders
    "humaneval-disagreements": _humaneval_cases("DISAGREEMENTS"),  # recorded, each a test
}


def experiments() -> list[tuple[str, str]]:
    """(name, title) of every benchmarks/results/<name>/README.md, by name."""
    out = []
    for readme in sorted(RESULTS.glob("*/README.md")):
        first = readme.read_text().lstrip().splitlines()[0] if readme.read_text().strip() else ""
        title = first.lstrip("#").strip() if first.startswith("# ") else readme.parent.name
        out.append((readme.parent.name, title))
    return out


SOURCE_TREE = REPO / "build" / "docs-src"


def make_source_tree() -> Path:
    """build/docs-src/agentnet: the package as installed, as symlinks into the repository."""
    mapping = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    root = SOURCE_TREE / "agentnet"
    shutil.rmtree(SOURCE_TREE, ignore_errors=True)
    root.mkdir(parents=True)
    for child in (REPO / mapping["agentnet"]).iterdir():
        if child.name != "__pycache__":
            (root / child.name).symlink_to(child)
    for name, folder in mapping.items():
        parts = name.split(".")
        if len(parts) == 2 and parts[0] == "agentnet":
            (root / parts[1]).symlink_to(REPO / folder)
        elif name != "agentnet":
            raise PluginError(f"docs/hooks.py: package-dir entry {name!r} is not agentnet.X; extend make_source_tree")
    return SOURCE_TREE


# API reference pages: (page, title, the module prefixes it holds); the first match wins.
REFERENCE = (
    ("serving", "Serving", ("agentnet.serving",)),
    ("topologies", "Topologies", ("agentnet.topologies",)),
    ("tasks", "Tasks", ("agentnet.tasks",)),
    ("training", "Assembly and training", ("agentnet.assembly", "agentnet.training")),
    ("core", "Core", ("agentnet",)),
)
NOT_REFERENCED = ("agentnet.cli", "agentnet.serving.__main__", "agentnet.tasks.sandbox.guard")  # scripts


def modules() -> list[str]:
    """Every module of the installed agentnet tree, dotted, sorted (packages before their modules)."""
    root = SOURCE_TREE / "agentnet"
    names = []
    paths = [Path(d) / f for d, _, files in os.walk(root, followlinks=True) for f in files if f.endswith(".py")]
    for path in paths:
        parts = path.relative_to(SOURCE_TREE).with_suffix("").parts
        if "__pycache__" in parts or not all(p.isidentifier() for p in parts):
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name not in NOT_REFERENCED:
            names.append(name)
    return sorted(set(names))


def reference_pages() -> dict[str, tuple[str, list[str]]]:
    pages: dict[str, tuple[str, list[str]]] = {page: (title, []) for page, title, _ in REFERENCE}
    for name in modules():
        for page, _, prefixes in REFERENCE:
            if any(name == p or name.startswith(p + ".") for p in prefixes):
                pages[page][1].append(name)
                break
    return pages


def _reference_markdown(title: str, names: list[str]) -> str:
    body = "\n".join(f"::: {name}\n" for name in names)
    return f"# {title}\n\nGenerated from the docstrings of every module below.\n\n{body}"


def on_startup(command: str, dirty: bool) -> None:
    make_source_tree()  # before mkdocstrings reads its paths (in its on_config)


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    reference: list[Any] = [{title: f"reference/{page}.md"} for page, title, _ in REFERENCE]
    pages: list[Any] = [{title: f"results/{name}.md"} for name, title in experiments()]
    for entry in config.nav or []:
        for section, extra in (("Results", pages), ("API reference", reference)):
            if isinstance(entry, dict) and section in entry:
                head = entry[section]
                entry[section] = ([head] if isinstance(head, str) else list(head)) + extra
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for name, _ in experiments():
        files.append(File.generated(config, f"results/{name}.md", abs_src_path=str(RESULTS / name / "README.md")))
    for page, (title, names) in reference_pages().items():
        files.append(File.generated(config, f"reference/{page}.md", content=_reference_markdown(title, names)))
    return files


def _site_uri(repo_path: str) -> str | None:
    """The site page a repository file is, if it is one."""
    if repo_path.startswith("docs/"):
        return repo_path[len("docs/") :]
    parts = repo_path.split("/")
    if len(parts) == 4 and parts[:2] == ["benchmarks", "results"] and parts[3] == "README.md":
        return f"results/{parts[2]}.md"
    return None


def _rewrite_links(markdown: str, page: Page) -> str:
    source = Path(page.file.abs_src_path or "").resolve()
    here = posixpath.dirname(page.file.src_uri)

    def rewrite(match: re.Match[str]) -> str:
        text, target = match["text"], match["target"]
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
            return match[0]
        path, _, anchor = target.partition("#")
        resolved = (source.parent / path).resolve()
        try:
            repo_path = resolved.relative_to(REPO).as_posix()
        except ValueError:
            return match[0]
        uri = _site_uri(repo_path)
        if uri is not None:
            return f"[{text}]({posixpath.relpath(uri, here or '.')}{'#' + anchor if anchor else ''})"
        if not resolved.exists():
            return match[0]  # broken: --strict reports it
        shown = repo_path + ("/" if resolved.is_dir() else "")
        return text if shown.rstrip("/") in text else f"{text} (`{shown}`)"

    out, last = [], 0
    for fence in FENCE.finditer(markdown):
        out.append(LINK.sub(rewrite, markdown[last : fence.start()]))
        out.append(fence[0])
        last = fence.end()
    out.append(LINK.sub(rewrite, markdown[last:]))
    return "".join(out)


def _fill_counts(markdown: str) -> str:
    def fill(match: re.Match[str]) -> str:
        if match["name"] not in COUNTS:
            raise PluginError(f"docs: unknown {match[0]}; known: {', '.join(sorted(COUNTS))} (docs/hooks.py COUNTS)")
        return f"{COUNTS[match['name']]():,}"

    return COUNT.sub(fill, markdown)


def _readme_results() -> dict[str, str]:
    """name -> what it measures, from the README's Results table (rows linking a results README)."""
    row = re.compile(r"^\| \[[^\]]+\]\(benchmarks/results/(?P<name>[^/]+)/README\.md\) \| (?P<what>.*?) \|$", re.M)
    return {m["name"]: m["what"] for m in row.finditer((REPO / "README.md").read_text())}


def _results_list() -> str:
    described = _readme_results()
    missing = [name for name, _ in experiments() if name not in described]
    if missing:
        raise PluginError(f"docs: README.md's Results table has no row for {', '.join(missing)}; add one")
    return "\n".join(f"| [{title}]({name}.md) | {described[name]} |" for name, title in experiments())


def _results_table() -> str:
    return "| experiment | what it measures |\n|---|---|\n" + _results_list() + "\n"


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of a click group, depth first, the group itself first."""
    out = [path]
    for name in sorted(getattr(command, "commands", {}) or {}):
        out += _commands(command.commands[name], (*path, name))
    return out


def _cli_help() -> str:
    try:
        import typer
        from typer.testing import CliRunner

        from agentnet.cli import app
    except ImportError as error:
        raise PluginError(f"docs: the CLI reference needs agentnet installed ({error}); run `make install-dev`")
    except Exception as error:  # the CLI itself is broken: say so in one line
        raise PluginError(f"docs: `import agentnet.cli` failed: {type(error).__name__}: {error}")
    runner, sections = CliRunner(), []
    for path in _commands(typer.main.get_command(app)):
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})
        if result.exit_code != 0:
            raise PluginError(f"docs: `agentnet {' '.join(path)} --help` exited {result.exit_code}: {result.output}")
        title = " ".join(("agentnet", *path))
        sections.append(f"### {title}\n\n```text\n{result.output.rstrip()}\n```\n")
    return "\n".join(sections)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri == "results/index.md":
        markdown = re.sub(r"<!-- results-list.*?-->\n?", lambda _: _results_table(), markdown)
    if page.file.src_uri == "cli.md":
        markdown = re.sub(r"<!-- cli-help.*?-->\n?", lambda _: _cli_help(), markdown)
    return _fill_counts(_rewrite_links(markdown, page))
