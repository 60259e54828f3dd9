"""The parent's disk watch and usage count."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agentnet.tasks.sandbox.process import Capture, DiskWatch, unlinked_open, usage

_HOLDER = """
import os, sys
f = open(sys.argv[1], "wb")
os.unlink(sys.argv[1])
f.write(b"x" * 3 * 2**20)
f.flush()
print("ready", flush=True)
sys.stdin.read()
"""


def test_usage_counts_allocated_bytes_and_entries(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a").write_bytes(b"x" * 10_000)
    with open(tmp_path / "sparse", "wb") as f:
        f.truncate(2**30)  # a 1 GiB hole allocates nothing
    used, files = usage(str(tmp_path))
    assert files == 3 and 10_000 <= used < 2**20


def test_disk_watch_walks_only_after_a_drop_and_names_the_limit(tmp_path: Path) -> None:
    watch = DiskWatch(str(tmp_path), limit_bytes=2**20, max_files=5)
    assert watch() is None
    (tmp_path / "big").write_bytes(b"x" * (2 * 2**20))
    assert watch() == "killed: its files took more than the 1 MiB disk limit"
    other = DiskWatch(str(tmp_path / "big").rsplit("/", 1)[0], limit_bytes=2**30, max_files=5)
    for i in range(10):
        (tmp_path / str(i)).touch()
    other.inodes += 100  # as if 100 inodes went elsewhere: the walk finds 11 entries here
    assert other() == "killed: it created more than 5 files"


def test_disk_watch_moves_its_baseline_when_others_used_the_disk(tmp_path: Path) -> None:
    watch = DiskWatch(str(tmp_path), limit_bytes=2**20, max_files=5)
    watch.free += 10 * 2**20  # someone else's 10 MiB
    assert watch() is None and watch() is None


def test_capture_keeps_both_ends() -> None:
    capture = Capture(10)
    for chunk in (b"start", b"-" * 100, b"end"):
        capture.add(chunk)
    assert capture.text() == "start\n[... 98 bytes omitted ...]\n--end"  # 5 bytes of head, 5 of tail


def test_files_unlinked_but_held_open_are_counted(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path / "gone")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        held, files = unlinked_open(holder.pid)
        assert files == 1 and held >= 3 * 2**20 and usage(str(tmp_path)) == (0, 0)  # no walk finds it
        watch = DiskWatch(str(tmp_path), limit_bytes=2**20, max_files=5, pid=holder.pid)
        watch.free += 2 * 2**20  # as if the file system's free space had dropped past the limit
        assert watch() == "killed: its files took more than the 1 MiB disk limit"
    finally:
        holder.kill()
        holder.wait()
