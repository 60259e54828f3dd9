"""Run untrusted, model-generated Python in a child process with limits and guards.

Why: code tasks (HumanEval) execute whatever the model wrote. A careless program can loop
forever, eat all memory, print gigabytes, delete files, fork or reach the network; none of
that may take down or tamper with the evaluation process or the machine it runs on.

What `Sandbox.run_python` does, in order:

* writes the code to `solution.py` in a fresh temporary directory and runs it with
  `python -S -s -B` (no site-packages, no user site, no bytecode), cwd = that directory,
  in a new session (so the whole process group can be killed), stdin from /dev/null and
  a scrubbed environment (PATH, HOME=TMPDIR=the directory, LANG, PYTHONHASHSEED=0,
  PYTHONDONTWRITEBYTECODE). Not `-I`: it implies `-E`, which ignores PYTHONHASHSEED, and
  set/dict-of-str ordering would change from run to run (flaky pass/fail). With an
  environment we build from scratch, `-E` isolates nothing more.
* a guard script runs first in the child and sets resource limits before any user code:
  RLIMIT_CPU, RLIMIT_AS (memory), RLIMIT_FSIZE (largest file), RLIMIT_CORE=0 and, for a
  non-root user, RLIMIT_NPROC = the user's current task count + 64. (Root ignores
  RLIMIT_NPROC: the kernel exempts CAP_SYS_RESOURCE/CAP_SYS_ADMIN, so there the audit hook
  below and the process-group kill are the guards against fork bombs.) The limits are set
  in the child, not with `preexec_fn`: `preexec_fn` may deadlock when the parent has
  threads, and agentnet runs from asyncio programs that do.
* the guard replaces `socket.socket`, `socket.create_connection` & co with functions that
  raise PermissionError, then installs a `sys.addaudithook` hook (which the code cannot
  remove) raising PermissionError on: every `socket.*` event; `open` for writing, or any
  `os.*` file mutation (remove, rename, mkdir, rmdir, chmod, chown, utime, truncate,
  xattrs, `shutil.rmtree`) outside the directory; opening a directory outside it (a
  directory fd would let `dir_fd=` calls escape); `..` in a path opened for writing;
  opening a device file made inside it; `os.symlink`/`os.link`; `os.chdir` out of the directory; process creation
  (`subprocess.Popen`, `os.system`, `os.exec*`, `os.fork`, `os.forkpty`, `os.posix_spawn`);
  signals to other processes; raising resource limits; `gc.get_objects/referrers/
  referents`; replacing a function's `__code__`; and importing `ctypes`, `_ctypes`,
  `_testcapi` or a second `_posixsubprocess` (ImportError): ctypes calls libc directly,
  past every hook. Calls that raise no audit event are replaced by ones that raise
  PermissionError: `_posixsubprocess.fork_exec`, `os.mkfifo`, `os.mknod`, `os.chroot`,
  `os.pidfd_open`, `signal.pidfd_send_signal`.
* a wall-clock timeout kills the whole process group with SIGKILL ("timeout"); so does
  a finished or cancelled run, to reap anything left behind. stdout/stderr are drained as
  they come and kept to `max_output_bytes` each (first and last halves, a marker between).

The child is started with `subprocess.Popen` on a worker thread, not with
`asyncio.create_subprocess_exec`: on CPython 3.11, cancelling the latter while it spawns
(as `asyncio.run` does to every task when the main coroutine fails) can hang forever, its
pipe-connecting task cancelled with it. The await stays cancellable: cancelling it kills
the run within 0.1 s.

What it does NOT protect against (it is a guard against accidents, not a kernel sandbox;
PEP 578 says audit hooks are not a security boundary). Run code from an adversary inside
a container or VM without network, as an unprivileged user:

* the code runs as the same user as the caller and can READ anything that user can
  (keys, other runs' data); as root it can read everything on the machine.
* a deliberate attacker can likely escape the Python-level guards: e.g. a CPython bug,
  or an extension module reachable by a path the hooks miss. Nothing stops it at the
  system-call level (no seccomp, namespaces or chroot).
* writes inside the directory are capped per file (RLIMIT_FSIZE), not in total: a
  program may fill the disk with many files until its CPU or wall time runs out.
* RLIMIT_AS caps virtual memory, which also caps threads (each reserves a stack); it does
  not stop the code from using CPU on several cores through threads inside the limit.
* the wall-clock limit is enforced by the parent: if the evaluating process is killed
  with SIGKILL, a sleeping child outlives it (a busy one dies at its CPU limit) and its
  temporary directory stays behind.
* nothing beyond the standard library is importable (`-S`, by design: HumanEval needs
  nothing else), so code that imports numpy fails rather than being sandboxed differently.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Literal

from agentnet.errors import ConfigError

Status = Literal["passed", "failed", "timeout", "crashed", "error"]

CODE_FILE = "solution.py"
_GUARD_FILE = "_agentnet_guard.py"
_NEW_TASKS = 64  # RLIMIT_NPROC headroom over the user's current task count (non-root only)
_POLL_S = 0.1  # how often a waiting worker looks at its deadline and cancel flag


class SandboxConfigError(ConfigError):
    """A sandbox limit that cannot work (non-positive, too small to start Python)."""


@dataclass(frozen=True)
class SandboxResult:
    """How a run ended. "passed": exit code 0; "failed": a non-zero exit (an exception, a
    failed assert, a blocked operation, MemoryError); "timeout": the wall-clock or CPU limit;
    "crashed": killed by a signal (segfault, abort, the OOM killer); "error": the sandbox
    itself could not run the code (not the code's fault)."""

    status: Status
    returncode: int | None  # negative: killed by that signal; None: never started
    stdout: str
    stderr: str
    duration_s: float

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _default_concurrency() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Sandbox:
    """Limits for running code, and at most `max_concurrency` runs at once per event loop.

    The gate is an asyncio.Semaphore made lazily for each running loop (a semaphore is bound
    to the loop that first waits on it), so one Sandbox can serve several `asyncio.run`s.
    """

    timeout_s: float = 10.0  # wall clock, from spawn to exit
    cpu_s: int = 10  # RLIMIT_CPU; SIGXCPU ends the run as "timeout"
    memory_mb: int = 1024  # RLIMIT_AS, MiB of virtual memory
    max_output_bytes: int = 65536  # kept per stream (stdout, stderr)
    file_size_mb: int = 16  # RLIMIT_FSIZE: the largest file the code may write
    max_concurrency: int = field(default_factory=_default_concurrency)  # also bounded by the loop's default executor
    python: str = sys.executable
    _gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not (isinstance(self.timeout_s, (int, float)) and math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise SandboxConfigError(f"Sandbox timeout_s={self.timeout_s!r} must be a positive number of seconds")
        minimums = {"cpu_s": 1, "memory_mb": 64, "max_output_bytes": 256, "file_size_mb": 1, "max_concurrency": 1}
        for name, least in minimums.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise SandboxConfigError(f"Sandbox {name}={value!r} must be an integer of at least {least}")

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.max_concurrency)
        return gate

    async def run_python(self, code: str, *, main: bool = True) -> SandboxResult:
        """Run `code` as a program; never raises for anything the code does.

        main=False runs it as a module named `solution` instead of `__main__`, so its
        `if __name__ == "__main__":` block is skipped (as in the HumanEval harness).
        Cancelling the await kills the run's process group.
        """
        async with self._gate():
            cancel = threading.Event()
            try:
                return await asyncio.get_running_loop().run_in_executor(None, self._run, code, main, cancel)
            except asyncio.CancelledError:
                cancel.set()  # the worker thread kills the process group within _POLL_S
                raise

    def _run(self, code: str, main: bool, cancel: threading.Event) -> SandboxResult:
        """The blocking part, on a worker thread: spawn, pump the pipes, enforce the deadline."""
        started = time.monotonic()
        try:
            with tempfile.TemporaryDirectory(prefix="agentnet-sandbox-", ignore_cleanup_errors=True) as tmp:
                return self._run_in(os.path.realpath(tmp), code, main, cancel, started)
        except OSError as e:  # no temp dir, no interpreter, fork failed: the machine's problem
            return SandboxResult("error", None, "", f"sandbox could not run the code: {e}", _since(started))

    def _run_in(self, tmp: str, code: str, main: bool, cancel: threading.Event, started: float) -> SandboxResult:
        with open(os.path.join(tmp, CODE_FILE), "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(code)
        with open(os.path.join(tmp, _GUARD_FILE), "w", encoding="utf-8") as f:
            f.write(_GUARD_SOURCE)
        settings = {
            "file": CODE_FILE,
            "module": "__main__" if main else "solution",
            "cpu_s": self.cpu_s,
            "memory_bytes": self.memory_mb * 2**20,
            "file_bytes": self.file_size_mb * 2**20,
            "new_tasks": _NEW_TASKS,
        }
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": tmp,
            "TMPDIR": tmp,
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
        }
        out, err = _Capture(self.max_output_bytes), _Capture(self.max_output_bytes)
        proc = subprocess.Popen(
            [self.python, "-S", "-s", "-B", _GUARD_FILE, json.dumps(settings)],
            cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        try:
            timed_out = _pump(proc, out, err, started + self.timeout_s, cancel)
        finally:  # whatever happened, nothing of the run outlives it
            _kill_group(proc.pid)
            proc.wait()
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        status, note = _status(proc.returncode, timed_out, self)
        stderr = err.text() + (f"\n[sandbox: {note}]" if note else "")
        return SandboxResult(status, proc.returncode, out.text(), stderr, _since(started))


async def run_python(
    code: str, *, timeout_s: float = 10.0, cpu_s: int = 10, memory_mb: int = 1024, max_output_bytes: int = 65536
) -> SandboxResult:
    """One run in a fresh `Sandbox` (no concurrency bound: share a Sandbox to get one)."""
    sandbox = Sandbox(timeout_s=timeout_s, cpu_s=cpu_s, memory_mb=memory_mb, max_output_bytes=max_output_bytes)
    return await sandbox.run_python(code)


def _since(started: float) -> float:
    return time.monotonic() - started


def _pump(
    proc: subprocess.Popen[bytes], out: _Capture, err: _Capture, deadline: float, cancel: threading.Event
) -> bool:
    """Drain both pipes until the child has exited and they are closed; True if the deadline
    (or a cancel) came first.

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
                    _kill_group(proc.pid)
                if pidfd is None and not pipes:
                    break
                left = deadline - time.monotonic()
                if left <= 0 or cancel.is_set():
                    return True
                for key, _ in selector.select(min(left, _POLL_S)):
                    if key.data is None:
                        exited = True
                        selector.unregister(key.fileobj)
                    elif chunk := os.read(key.fd, 65536):
                        key.data.add(chunk)
                    else:
                        pipes -= 1
                        selector.unregister(key.fileobj)
            if exited:
                return False
    finally:
        if pidfd is not None:
            os.close(pidfd)
    while True:  # no pidfd: both pipes closed, the process may still run
        left = deadline - time.monotonic()
        if left <= 0 or cancel.is_set():
            return True
        try:
            proc.wait(min(left, _POLL_S))
            return False
        except subprocess.TimeoutExpired:
            continue


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux, or a kernel before 5.3
        return None


def _kill_group(pgid: int) -> None:
    """SIGKILL the run's process group (its pgid is the child's pid: start_new_session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _status(returncode: int | None, timed_out: bool, sandbox: Sandbox) -> tuple[Status, str]:
    if timed_out:
        return "timeout", f"killed after the {sandbox.timeout_s:g} s wall-clock limit"
    if returncode == 0:
        return "passed", ""
    if returncode is not None and returncode > 0:
        return "failed", ""
    signum = -(returncode or 0)
    if signum == signal.SIGXCPU:
        return "timeout", f"killed after the {sandbox.cpu_s} s CPU limit"
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return "crashed", f"killed by {name}"


class _Capture:
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


# The child's first code: limits, network stubs, the audit hook, then solution.py. It runs
# under -S (agentnet is not importable there), so it is a self-contained script.
_GUARD_SOURCE = r'''
"""agentnet sandbox guard: resource limits and an audit hook, then the untrusted code."""
import builtins, json, os, resource, stat, sys, types
import socket
import _posixsubprocess


def _limit(which, soft, hard):
    _, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(which, (soft, hard))


def _user_tasks(uid):
    """Processes and threads of `uid`: what RLIMIT_NPROC counts."""
    count = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat("/proc/" + pid).st_uid == uid:
                    count += len(os.listdir("/proc/" + pid + "/task"))
            except OSError:
                pass
    return count


def _limits(cfg):
    _limit(resource.RLIMIT_CPU, cfg["cpu_s"], cfg["cpu_s"] + 1)
    _limit(resource.RLIMIT_AS, cfg["memory_bytes"], cfg["memory_bytes"])
    _limit(resource.RLIMIT_FSIZE, cfg["file_bytes"], cfg["file_bytes"])
    _limit(resource.RLIMIT_CORE, 0, 0)
    if os.geteuid() != 0 and os.path.isdir("/proc"):  # the kernel ignores RLIMIT_NPROC for root
        tasks = _user_tasks(os.getuid()) + cfg["new_tasks"]
        _limit(resource.RLIMIT_NPROC, tasks, tasks)


def _deny(*args, **kwargs):
    raise PermissionError("sandbox: network access is blocked")


def _stub_network():
    class BlockedSocket(socket.socket):  # a subclass, so `class X(socket.socket)` still works
        def __init__(self, *args, **kwargs):
            raise PermissionError("sandbox: network access is blocked")

    socket.socket = socket.SocketType = BlockedSocket
    for name in ("create_connection", "create_server", "socketpair", "fromfd", "getaddrinfo", "getnameinfo",
                 "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getfqdn"):
        setattr(socket, name, _deny)


def _stub_unaudited():
    """Calls with no audit event that would escape the hook: process creation below
    subprocess, file creation anywhere (mkfifo, mknod), chroot, and signals via pidfds."""
    import posix, signal, _signal

    def blocked(*args, **kwargs):
        raise PermissionError("sandbox: this call is blocked (no processes, no files outside the run's directory)")

    _posixsubprocess.fork_exec = blocked
    for module, names in ((os, ("mkfifo", "mknod", "chroot", "pidfd_open")), (posix, ("mkfifo", "mknod", "chroot",
                          "pidfd_open")), (signal, ("pidfd_send_signal",)), (_signal, ("pidfd_send_signal",))):
        for name in names:
            if hasattr(module, name):
                setattr(module, name, blocked)


def _hook_for(root):
    prefix = root + os.sep
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    realpath, readlink, isabs, join, fspath, fsdecode = (
        os.path.realpath, os.readlink, os.path.isabs, os.path.join, os.fspath, os.fsdecode)
    pid, pgid = os.getpid(), os.getpgrp()
    processes = frozenset(("subprocess.Popen", "os.system", "os.exec", "os.fork", "os.forkpty", "os.posix_spawn",
                           "os.spawn", "pty.spawn", "os.startfile"))
    blocked_imports = frozenset(("ctypes", "_ctypes", "_posixsubprocess", "_testcapi", "_testinternalcapi",
                                 "_xxsubinterpreters", "cffi", "_cffi_backend"))
    introspection = frozenset(("gc.get_objects", "gc.get_referrers", "gc.get_referents",
                               "resource.setrlimit", "resource.prlimit", "os.symlink", "os.link"))
    # event -> ((index of a path argument, index of its dir_fd argument or None), ...)
    mutations = {
        "os.remove": ((0, 1),), "os.rmdir": ((0, 1),), "os.mkdir": ((0, 2),), "os.rename": ((0, 2), (1, 3)),
        "os.chmod": ((0, 2),), "os.chown": ((0, 3),), "os.utime": ((0, 3),), "os.truncate": ((0, None),),
        "os.setxattr": ((0, None),), "os.removexattr": ((0, None),), "shutil.rmtree": ((0, 1),),
    }

    def resolve(path, dir_fd=None):
        if isinstance(path, int):  # an open file descriptor: where it points
            return readlink("/proc/self/fd/%d" % path)
        path = fspath(path)
        if isinstance(path, bytes):
            path = fsdecode(path)
        if dir_fd is not None and dir_fd >= 0 and not isabs(path):
            path = join(readlink("/proc/self/fd/%d" % dir_fd), path)
        return realpath(path)

    def inside(path, dir_fd=None):
        try:
            real = resolve(path, dir_fd)
        except Exception:
            return False
        return real == root or real.startswith(prefix)

    def refuse(what):
        raise PermissionError("sandbox: %s is blocked (only the run's directory %s is writable)" % (what, root))

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            if isinstance(path, int):
                return
            writing = bool(flags & write_flags) or (isinstance(mode, str) and any(c in mode for c in "wax+"))
            if inside(path):
                try:
                    kind = os.stat(path).st_mode
                except Exception:
                    kind = stat.S_IFREG
                if stat.S_ISBLK(kind) or stat.S_ISCHR(kind):
                    refuse("opening the device file %r" % (path,))
                if writing and ".." in str(fspath(path)).replace("\\", "/").split("/"):
                    refuse("writing through '..' in %r" % (path,))
            elif writing:
                refuse("writing %r" % (path,))
            elif mode is None and os.path.isdir(path):
                refuse("opening the directory %r" % (path,))
        elif event.startswith("socket."):
            raise PermissionError("sandbox: network access is blocked (%s)" % event)
        elif event in mutations:
            for where, dir_fd in mutations[event]:
                if not inside(args[where], None if dir_fd is None else args[dir_fd]):
                    refuse("%s on %r" % (event, args[where]))
        elif event == "os.chdir":
            if isinstance(args[0], int) or not inside(args[0]):
                refuse("changing directory to %r" % (args[0],))
        elif event in processes or event.startswith("ctypes."):
            raise PermissionError("sandbox: %s is blocked (no processes, no ctypes)" % event)
        elif event == "import":
            if args[0].partition(".")[0] in blocked_imports:
                raise ImportError("sandbox: importing %s is blocked" % args[0])
        elif event in introspection:
            raise PermissionError("sandbox: %s is blocked" % event)
        elif event == "object.__setattr__" and args[1] == "__code__":
            raise PermissionError("sandbox: replacing a function's __code__ is blocked")
        elif event == "os.kill":
            if args[0] not in (0, pid, -pgid):
                raise PermissionError("sandbox: signalling other processes is blocked")
        elif event == "os.killpg":
            if args[0] not in (0, pgid):
                raise PermissionError("sandbox: signalling other processes is blocked")

    return hook


def _run(cfg, root):
    path = os.path.join(root, cfg["file"])
    sys.argv = [cfg["file"]]
    if sys.path and os.path.realpath(sys.path[0] or ".") == root:
        del sys.path[0]  # like -I: the run's own files do not shadow the stdlib
    module = types.ModuleType(cfg["module"])
    module.__file__, module.__builtins__ = path, builtins
    sys.modules[cfg["module"]] = module
    try:
        with open(path, "rb") as f:
            source = f.read()
        exec(compile(source, cfg["file"], "exec", dont_inherit=True), module.__dict__)
    except SystemExit:
        raise
    except BaseException as e:
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next  # the traceback starts in solution.py
        sys.excepthook(type(e), e.with_traceback(tb), tb)  # the C default prints the last 1000 frames, fast at any depth
        sys.stderr.flush()
        raise SystemExit(1)


def _main():
    cfg = json.loads(sys.argv[1])
    root = os.path.realpath(os.getcwd())
    _limits(cfg)
    _stub_network()
    _stub_unaudited()
    sys.addaudithook(_hook_for(root))
    _run(cfg, root)


_main()
'''
