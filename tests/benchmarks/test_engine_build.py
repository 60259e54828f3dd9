"""The llama.cpp build an experiment records, read from `llama-server --version`."""

from __future__ import annotations

from pathlib import Path

from benchmarks.engine_build import binary_version


def test_the_binary_says_which_llama_cpp_it_was_built_from(tmp_path: Path) -> None:
    server = tmp_path / "llama-server"
    server.write_text(
        "#!/bin/sh\necho 'version: 0.5.0-dev (build 1, commit 0c1e570)' >&2\necho 'built with GNU 12.2.0' >&2\n"
    )
    server.chmod(0o755)
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\nexit 0\n")
    silent.chmod(0o755)
    assert binary_version(server) == "0.5.0-dev (build 1, commit 0c1e570)"
    assert binary_version(silent) is None
    assert binary_version(tmp_path / "missing") is None
