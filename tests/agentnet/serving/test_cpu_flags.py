from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentnet.serving.cpu_flags import NO_AMX, advertises_amx, native_flags

SAPPHIRE = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f amx_bf16 amx_tile amx_int8\n\nprocessor\t: 1\n"
EPYC = "processor\t: 0\nflags\t\t: fpu sse avx2 fma\n"


def test_amx_is_read_from_the_cpu_flags_line() -> None:
    assert advertises_amx(SAPPHIRE) and not advertises_amx(EPYC) and not advertises_amx("")
    assert not advertises_amx("model name\t: amx_tile lookalike\nflags\t: avx2\n")  # only the flags line counts


@pytest.mark.parametrize(("cpuinfo", "flags"), [(SAPPHIRE, NO_AMX), (EPYC, ())])
def test_the_build_leaves_amx_out_where_the_cpu_advertises_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpuinfo: str, flags: tuple[str, ...]
) -> None:
    monkeypatch.delenv("AGENTNET_LLAMA_AMX", raising=False)
    (tmp_path / "cpuinfo").write_text(cpuinfo)
    assert native_flags(tmp_path / "cpuinfo") == flags


def test_amx_can_be_kept_and_a_missing_cpuinfo_needs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cpuinfo").write_text(SAPPHIRE)
    monkeypatch.setenv("AGENTNET_LLAMA_AMX", "1")
    assert native_flags(tmp_path / "cpuinfo") == ()
    monkeypatch.delenv("AGENTNET_LLAMA_AMX")
    assert native_flags(tmp_path / "missing") == ()


def test_the_makefile_runs_it_with_the_system_python_before_anything_is_installed() -> None:
    """Stdlib only: it prints this machine's flags as one line."""
    script = Path(__file__).parents[3] / "agentnet" / "serving" / "cpu_flags.py"
    done = subprocess.run([sys.executable, "-I", str(script)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == " ".join(native_flags())
