"""MkDocs hooks for the agentnet docs site (mkdocs.yml: `hooks: [docs/hooks.py]`).

- Each experiment's `benchmarks/results/<experiment>/README.md` becomes the page
  `results/<experiment>.md`, listed under Results in the nav and in `results/index.md`
  (where the `results-list` marker is). The READMEs stay where the experiments keep their
  results, so they read the same on a repository browser.
- Links are written as they resolve in the repository: a link to a results README becomes a
  link to its page, and a link to any other repository file outside docs/ (a script, a test,
  kept results) becomes the file's path in code, since the site does not carry it. A link to
  nothing stays as written, so `mkdocs build --strict` fails on it.
- The `cli-help` marker in cli.md becomes `agentnet COMMAND --help` of every command, run
  through Typer's test runner when the site is built (so it needs agentnet installed).
- `{count:NAME}` is replaced by a number computed from the code when the site is built
  (COUNTS below), so no count in the docs is typed by hand. An unknown NAME fails the build.
"""

from __future__ import annotations

import ast
import posixpath
import re
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
    return _dict_entries(RESULTS.parents[1] / "tests" / "tasks" / "sandbox" / "attacks.py",
                         ("WRITES", "PROCESSES", "NETWORK", "SIGNALS_AND_LIMITS", "SECRETS"))


COUNTS: dict[str, Callable[[], int]] = {
    "sandbox-attacks": _sandbox_attacks,  # hostile programs in the escape suite
}


def experiments() -> list[tuple[str, str]]:
    """(name, title) of every benchmarks/results/<name>/README.md, by name."""
    out = []
    for readme in sorted(RESULTS.glob("*/README.md")):
        first = readme.read_text().lstrip().splitlines()[0] if readme.read_text().strip() else ""
        title = first.lstrip("#").strip() if first.startswith("# ") else readme.parent.name
        out.append((readme.parent.name, title))
    return out


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    pages: list[Any] = [{title: f"results/{name}.md"} for name, title in experiments()]
    for entry in config.nav or []:
        if isinstance(entry, dict) and "Results" in entry:
            head = entry["Results"]
            entry["Results"] = ([head] if isinstance(head, str) else list(head)) + pages
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for name, _ in experiments():
        files.append(File.generated(config, f"results/{name}.md", abs_src_path=str(RESULTS / name / "README.md")))
    return files


def _site_uri(repo_path: str) -> str | None:
    """The site page a repository file is, if it is one."""
    if repo_path.startswith("docs/"):
        return repo_path[len("docs/"):]
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
        out.append(LINK.sub(rewrite, markdown[last:fence.start()]))
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


def _results_list() -> str:
    return "\n".join(f"- [{title}]({name}.md)" for name, title in experiments()) + "\n"


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
        markdown = re.sub(r"<!-- results-list.*?-->\n?", lambda _: _results_list(), markdown)
    if page.file.src_uri == "cli.md":
        markdown = re.sub(r"<!-- cli-help.*?-->\n?", lambda _: _cli_help(), markdown)
    return _fill_counts(_rewrite_links(markdown, page))
