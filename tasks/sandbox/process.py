"""The parent's side of a sandboxed run: drain the pipes, watch the deadline and the disk, kill.

Everything here runs on the worker thread that started the child (see runner.py for why a
thread and not asyncio's subprocess support).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Callable

POLL_S = 0.1  # how often a waiting worker looks at its deadline, cancel flag and disk use
TIMEOUT = "timeout"


class Capture:
    """Keeps the first and the last `limit // 2` bytes of a stream and counts what it drops:
    the start shows what the program did, the end holds the traceback."""

    def __init__(self, limit: int):
        self.limit, self.total = limit, 0
        self.head: bytes | None = None  # set once the stream outgrows `limit`
        self.buf = bytearray()

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.buf += chunk
        if self.head is None:
            if len(self.buf) <= self.limit:
                return
            self.head = bytes(self.buf[: self.limit // 2])
            del self.buf[: self.limit // 2]
        keep = self.limit - len(self.head)
        if len(self.buf) > keep:
            del self.buf[: len(self.buf) - keep]

    def text(self) -> str:
        tail = self.buf.decode("utf-8", "replace")
        if self.head is None:
            return tail
        dropped = self.total - len(self.head) - len(self.buf)
        return f"{self.head.decode('utf-8', 'replace')}\n[... {dropped} bytes omitted ...]\n{tail}"


class DiskWatch:
    """Kill a run whose files outgrow `limit_bytes` or `max_files` in total (RLIMIT_FSIZE caps
    only each file). A statvfs per poll is nearly free; the directory is walked only when the
    file system's free space or inodes dropped by more than the limit (another process may have
    used them: then the baseline moves and the run goes on). The walk adds the files process
    `pid` holds open after unlinking them, which no directory shows.

    It is the parent's check, not the kernel's: a fast writer can overshoot by what it writes in
    POLL_S. Where the guard could mount the run's tmpfs, the kernel bounds all of it and this
    watch sees nothing (the tmpfs is in the child's mount namespace, not on this file system)."""

    def __init__(self, root: str, limit_bytes: int, max_files: int, pid: int | None = None):
        self.root, self.limit_bytes, self.max_files, self.pid = root, limit_bytes, max_files, pid
        self.free, self.inodes = self._free()

    def _free(self) -> tuple[int, int]:
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize, st.f_favail

    def __call__(self) -> str | None:
        free, inodes = self._free()
        if self.free - free <= self.limit_bytes and self.inodes - inodes <= self.max_files:
            return None
        used, files = usage(self.root)
        if self.pid is not None:
            held, unlinked = unlinked_open(self.pid)
            used, files = used + held, files + unlinked
        if used > self.limit_bytes:
            return f"killed: its files took more than the {self.limit_bytes // 2**20} MiB disk limit"
        if files > self.max_files:
            return f"killed: it created more than {self.max_files} files"
        self.free, self.inodes = free + used, inodes + files
        return None


def usage(root: str) -> tuple[int, int]:
    """Bytes allocated (st_blocks, so sparse files count what they use) and entries below root."""
    used, files, todo = 0, 0, [root]
    while todo:
        with contextlib.suppress(OSError), os.scandir(todo.pop()) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    files += 1
                    used += entry.stat(follow_symlinks=False).st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        todo.append(entry.path)
    return used, files


def unlinked_open(pid: int, proc: str = "/proc") -> tuple[int, int]:
    """Bytes allocated by, and the number of, regular files `pid` holds open with no name left."""
    used, seen = 0, set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"{proc}/{pid}/fd"):
            with contextlib.suppress(OSError):
                st = os.stat(f"{proc}/{pid}/fd/{fd}")  # follows the magic link to the file itself
                if stat.S_ISREG(st.st_mode) and st.st_nlink == 0 and (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    used += st.st_blocks * 512
    return used, len(seen)


def pump(
    proc: subprocess.Popen[bytes],
    out: Capture,
    err: Capture,
    deadline: float,
    cancel: threading.Event,
    watch: Callable[[], str | None] = lambda: None,
) -> str | None:
    """Drain both pipes until the child has exited and they are closed. Returns None then, or
    why the run must be killed first: TIMEOUT (the deadline, or a cancel) or what `watch` said.

    With a pidfd (Linux 5.3+) the child's exit is seen without reaping it: as a zombie it keeps
    its pid and process group, so the caller's `killpg` cannot hit a process that reused the
    number. Without one, the child is reaped here and the group killed just after.
    """
    pidfd = _pidfd(proc.pid)
    try:
        with selectors.DefaultSelector() as selector:
            for pipe, capture in ((proc.stdout, out), (proc.stderr, err)):
                selector.register(pipe, selectors.EVENT_READ, capture)  # type: ignore[arg-type]
            if pidfd is not None:
                selector.register(pidfd, selectors.EVENT_READ, None)
            pipes, exited = 2, False
            while pipes or not exited:
                if exited:  # something the child left behind holds a pipe open
                    kill_group(proc.pid)
                if pidfd is None and not pipes:
                    break
                if stop := _stop(deadline, cancel, watch):
                    return stop
                for key, _ in selector.select(max(0.0, min(deadline - time.monotonic(), POLL_S))):
                    if key.data is None:
                        exited = True
                        selector.unregister(key.fileobj)
                    elif chunk := os.read(key.fd, 65536):
                        key.data.add(chunk)
                    else:
                        pipes -= 1
                        selector.unregister(key.fileobj)
            if exited:
                return None
    finally:
        if pidfd is not None:
            os.close(pidfd)
    while True:  # no pidfd: both pipes closed, the process may still run
        if stop := _stop(deadline, cancel, watch):
            return stop
        try:
            proc.wait(max(0.0, min(deadline - time.monotonic(), POLL_S)))
            return None
        except subprocess.TimeoutExpired:
            continue


def _stop(deadline: float, cancel: threading.Event, watch: Callable[[], str | None]) -> str | None:
    if deadline - time.monotonic() <= 0 or cancel.is_set():
        return TIMEOUT
    return watch()


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux, or a kernel before 5.3
        return None


def kill_group(pgid: int) -> None:
    """SIGKILL the run's process group (its pgid is the child's pid: start_new_session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
