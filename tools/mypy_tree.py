"""mypy over the installed layout (what `make test` runs).

The top-level folders install as `agentnet.*` through setuptools' `package-dir` (pyproject.toml),
which mypy does not follow: checked as they lie, `agentnet.topologies` and its siblings would not
resolve. This lays out build/mypy/agentnet/ in symlinks as that mapping installs it (a folder
nested in another package's name is linked inside it; the outer package's own entries are linked
one by one), runs mypy on it (pyproject's [tool.mypy] names the tree in `mypy_path` and `files`;
files given here replace the latter) and prints mypy's report with each path mapped back to the
real file. A bare `mypy` afterwards reads the tree this left (a new module directly in agentnet/
appears in it at the next run of this script; one in a folder at once).

Usage: python tools/mypy_tree.py [--layout] [MYPY_ARGS...]   (--layout: only lay out the tree)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = Path("build/mypy")
SKIP = {"__pycache__"}


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """setuptools' package-dir mapping: import name -> source folder, relative to the root."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    mapping = config["tool"]["setuptools"]["package-dir"]
    return {name: Path(folder) for name, folder in mapping.items()}


def wanted_links(root: Path = ROOT, tree: Path = TREE) -> dict[Path, Path]:
    """Every symlink of the tree (relative to the root) -> the source it points at."""
    mapping = package_dirs(root)
    links: dict[Path, Path] = {}
    for name, source in mapping.items():
        place = tree / name.replace(".", "/")
        nested = {n.rpartition(".")[2] for n in mapping if n.rpartition(".")[0] == name}
        if not nested:
            links[place] = source
            continue
        for entry in sorted((root / source).iterdir()):  # a real folder holding the package's entries
            if entry.name not in SKIP and entry.name not in nested:
                links[place / entry.name] = source / entry.name
    return links


def layout(root: Path = ROOT, tree: Path = TREE) -> None:
    """Brings the tree to the mapping in place (adds, repoints, removes links; never empties it),
    so a mypy run reading it at the same time never sees it half made."""
    links = wanted_links(root, tree)
    for link, source in links.items():
        path = root / link
        target = os.path.relpath(root / source, path.parent)
        if path.is_symlink() and os.readlink(path) == target:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.is_file():
            path.unlink()
        path.symlink_to(target)
    folders = {link.parent for link in links} | {p for link in links for p in link.parents}
    for dirpath, dirnames, filenames in os.walk(root / tree, topdown=False):
        here = Path(dirpath).relative_to(root)
        for name in [*filenames, *dirnames]:
            path = root / here / name
            if path.is_symlink() and here / name not in links:
                path.unlink()
        if here not in folders and not any(Path(dirpath).iterdir()):
            Path(dirpath).rmdir()


def real_paths(report: str, root: Path = ROOT, tree: Path = TREE) -> str:
    """mypy's report with every path inside the tree replaced by the real file's path."""
    pattern = re.compile(r"(?:[^\s:\"']*/)?" + re.escape(str(tree)) + r"/[^\s:\"']+")

    def real(match: re.Match[str]) -> str:
        path = Path(match.group(0))
        resolved = (path if path.is_absolute() else root / path).resolve()
        return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(resolved)

    return pattern.sub(real, report)


def main(argv: list[str]) -> int:
    os.chdir(ROOT)
    layout()
    if argv[:1] == ["--layout"]:
        return 0
    done = subprocess.run([sys.executable, "-m", "mypy", *argv], capture_output=True, text=True)
    sys.stdout.write(real_paths(done.stdout))
    sys.stderr.write(real_paths(done.stderr))
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
