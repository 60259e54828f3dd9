"""Compiler flags for building llama.cpp on this machine (stdlib only: the Makefile runs this file
before anything is installed).

llama.cpp builds with `-march=native`, which turns on its AMX kernels wherever the CPU advertises
AMX. On a Firecracker guest of a Sapphire Rapids host every llama.cpp model load died with
SIGSEGV in `ggml_backend_amx_mul_mat` (`ldtilecfg`, a general-protection fault), although the
kernel grants the tile permission and a minimal tile program (ldtilecfg, tileloadd, tdpbssd,
also in a thread) runs there — so no cheap probe tells a working AMX from this one. The build
therefore leaves AMX out wherever the CPU advertises it (`-mno-amx-*`; GCC honours an explicit
`-mno-` over `-march=native`); AVX-512 and AVX2 stay. AMX speeds up int8/bf16 matrix products on
big Xeons; to keep it there, set AGENTNET_LLAMA_AMX=1 before installing or building.

    python3 agentnet/serving/cpu_flags.py      # prints the flags (empty when none are needed)
"""

from __future__ import annotations

import os
from pathlib import Path

NO_AMX = ("-mno-amx-tile", "-mno-amx-int8", "-mno-amx-bf16")


def advertises_amx(cpuinfo: str) -> bool:
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return "amx_tile" in flags


def native_flags(cpuinfo_path: Path = Path("/proc/cpuinfo")) -> tuple[str, ...]:
    """Extra C/C++ flags for a `-march=native` llama.cpp build on this machine."""
    if os.environ.get("AGENTNET_LLAMA_AMX") == "1":
        return ()
    try:
        cpuinfo = cpuinfo_path.read_text()
    except OSError:
        return ()
    return NO_AMX if advertises_amx(cpuinfo) else ()


if __name__ == "__main__":
    print(" ".join(native_flags()))
