"""Real small filesystems for tests of disk-full and read-only failures (root only: `mount -t tmpfs`).

Each helper skips loudly where mounting is not permitted, rather than pretending."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(where: Path, size: str = "1m") -> Iterator[Path]:
    """A fresh tmpfs of `size` mounted at `where`, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("SKIPPED LOUDLY: mounting a tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True
    )
    if done.returncode:
        pytest.skip(f"SKIPPED LOUDLY: mount -t tmpfs not permitted here ({done.stderr.strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def remount(where: Path, option: str) -> None:
    """`ro` or `rw`: flip a mounted tmpfs between read-only and writable."""
    subprocess.run(["mount", "-o", f"remount,{option}", str(where)], check=True, capture_output=True)


def fill(where: Path) -> Path:
    """Write a file in `where` until the filesystem is full; delete it to free the space."""
    filler = where / "filler"
    block = b"\0" * 4096
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
    return filler
