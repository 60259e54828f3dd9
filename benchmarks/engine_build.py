"""Which llama.cpp build an experiment ran on: recorded with every row of benchmarks/adaptive_teams.py
(an experiment's record, not something the library needs to run a model)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def binary_version(binary: Path) -> str | None:
    """What `llama-server --version` says it was built from ("0.5.0-dev (build 1, commit 0c1e570)"),
    or None when it prints no version line or does not run."""
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stdout + done.stderr).splitlines()
    return next((line.removeprefix("version:").strip() for line in lines if line.startswith("version:")), None)
