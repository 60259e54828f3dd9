"""Run untrusted, model-generated Python in a child process with limits, kernel containment and guards.

Why: code tasks (HumanEval) execute whatever the model wrote. A careless or hostile program can
loop forever, eat memory, print gigabytes, write or delete files, read secrets, fork or reach
the network; none of that may take down or tamper with the evaluation process or the machine.
The threat model (what is contained by which layer, what is not) is in docs/sandbox.md.

What `Sandbox.run_python` does, in order:

* writes the code to `solution.py` in a fresh 0700 temporary directory and runs
  `python -S -s -B <this package>/guard.py SETTINGS` there (no site-packages, no user site, no
  bytecode), in a new session (the whole process group can be killed), stdin from /dev/null,
  with an environment built from scratch (PATH, HOME=TMPDIR=the directory, LANG,
  PYTHONHASHSEED=0, PYTHONDONTWRITEBYTECODE). Not `-I`: it implies `-E`, which ignores
  PYTHONHASHSEED, and set/dict-of-str ordering would change from run to run (flaky pass/fail).
* as root, the guard starts as root (so it can read itself wherever the repository sits),
  mounts a tmpfs of `disk_mb` over the directory in a mount namespace of its own, then
  becomes a fresh unprivileged uid/gid with no supplementary groups, owning the directory
  (in the child, after exec: no preexec_fn, which may deadlock in a threaded parent). A probe
  run checks once per Sandbox that this uid can run the interpreter and its stdlib; the
  default interpreter falls back to a system python3 of the same version when the running
  one is unreachable (a pyenv build or venv under /root, mode 700). If no interpreter works,
  the child stays uid 0 and the guard drops all its capabilities, with a warning.
* the guard (guard.py) sets rlimits, then the kernel layers (confine.py: capabilities,
  Landlock, seccomp), reports which took effect on an inherited pipe, installs the audit hook
  (audit.py) and runs the code. A layer the kernel refuses is reported and warned about
  (SandboxContainmentWarning), or with `strict=True` the code is not run at all ("error").
* the parent enforces the wall-clock limit and watches the disk (the kernel's tmpfs limit is
  the bound; without it, the watch plus RLIMIT_FSIZE x RLIMIT_NOFILE), kills the whole process
  group when the run ends for any reason, and keeps at most `max_output_bytes` of each
  stream (first and last halves, a marker between).

The child is started with `subprocess.Popen` on a worker thread, not with
`asyncio.create_subprocess_exec`: on CPython 3.11, cancelling the latter while it spawns
(as `asyncio.run` does to every task when the main coroutine fails) can hang forever, its
pipe-connecting task cancelled with it. The await stays cancellable: cancelling it kills
the run within 0.1 s.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import pwd
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from agentnet.errors import ConfigError
from agentnet.tasks.sandbox.process import TIMEOUT, Capture, DiskWatch, kill_group, pump

Status = Literal["passed", "failed", "timeout", "crashed", "error"]

CODE_FILE = "solution.py"
GUARD_PATH = str(Path(__file__).with_name("guard.py"))
STRICT_EXIT = 97  # guard.STRICT_EXIT (guard.py is not imported here: it is the child's program)
_NEW_TASKS = 64  # RLIMIT_NPROC headroom over the uid's current task count (non-root only)
_MAX_FILES = 10_000  # entries the code may create in its directory
_UID_BASE, _UID_SPAN = 0x5A000000, 1 << 16  # fresh uids as root: far above any account's
KERNEL_LAYERS = ("capabilities", "tmpfs", "landlock", "seccomp")
# stdlib modules and shared libraries the uid must be able to load; the version, to match a fallback
_PROBE = "import decimal, json, sys, zlib\nprint('%d.%d' % sys.version_info[:2])"
_VERSION = "%d.%d" % sys.version_info[:2]
_SYSTEM_PYTHONS = (
    f"/usr/bin/python{_VERSION}",
    "/usr/bin/python3",
    f"/usr/local/bin/python{_VERSION}",
    "/usr/local/bin/python3",
)


class SandboxConfigError(ConfigError):
    """A sandbox limit that cannot work (non-positive, too small to start Python)."""


class SandboxContainmentWarning(UserWarning):
    """A containment layer is unavailable here; the run goes on with the other layers."""


@dataclass(frozen=True)
class Containment:
    """What held in a run: layer -> what it enforced (active) or why it was off and how to get it (missing)."""

    active: dict[str, str]
    missing: dict[str, str]

    def summary(self) -> str:
        off = "; ".join(f"{k} OFF ({v})" for k, v in self.missing.items())
        return ", ".join(self.active) + (f"; {off}" if off else "")


@dataclass(frozen=True)
class SandboxResult:
    """How a run ended. "passed": exit code 0; "failed": a non-zero exit (an exception, a
    failed assert, a blocked operation, MemoryError, the disk limit); "timeout": the wall-clock
    or CPU limit; "crashed": killed by a signal (segfault, abort, the OOM killer); "error": the
    sandbox itself could not run the code (not the code's fault, or strict containment)."""

    status: Status
    returncode: int | None  # negative: killed by that signal; None: never started
    stdout: str
    stderr: str
    duration_s: float
    containment: tuple[str, ...] = ()  # the layers active in this run, e.g. ("uid", "landlock", "seccomp", "audit")

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _default_concurrency() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class _UidProbe:
    """Once per process and setting, as root: which interpreter can a fresh uid run? (None until probed.)"""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failure: str | None = None
        self.python: str | None = None  # the interpreter runs use, once probed
        self.note: str | None = None  # why it is not the requested one
        self.done = False


_PROBES: dict[tuple[str, bool, int | None], _UidProbe] = {}  # (interpreter, may fall back, Sandbox.uid) -> probe
_PROBES_LOCK = threading.Lock()


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
    python: str | None = field(
        default=None,
        metadata={
            "help": "The child's interpreter (None: this one, or as root a system python3 of the same version when a separate uid cannot run this one)."
        },
    )
    disk_mb: int = field(
        default=64,
        metadata={
            "help": "MiB the code's files may take in total, unlinked-but-open ones included (the run's tmpfs size)."
        },
    )
    max_open_files: int = field(
        default=64, metadata={"help": "RLIMIT_NOFILE of the child (Python starts with a dozen)."}
    )
    audit_hook: bool = field(
        default=True,
        metadata={
            "help": "Install the audit hook (tests turn it off to check the kernel layers alone, as if crafted bytecode had)."
        },
    )
    strict: bool = field(
        default=False,
        metadata={
            "help": "Refuse to run code (status 'error') when a containment layer is unavailable, instead of warning."
        },
    )
    uid: int | None = field(
        default=None,
        metadata={
            "help": "As root: the uid/gid to run code as (None: a fresh unused one per run; 0: stay root, without capabilities)."
        },
    )
    kernel_layers: tuple[str, ...] = field(
        default=KERNEL_LAYERS,
        metadata={
            "help": "Kernel layers the child applies (leaving one out warns like an unavailable one; tests use () to check the audit hook alone)."
        },
    )
    _gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not (isinstance(self.timeout_s, (int, float)) and math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise SandboxConfigError(f"Sandbox timeout_s={self.timeout_s!r} must be a positive number of seconds")
        minimums = {
            "cpu_s": 1,
            "memory_mb": 64,
            "max_output_bytes": 256,
            "file_size_mb": 1,
            "max_concurrency": 1,
            "disk_mb": 1,
            "max_open_files": 16,
        }
        for name, least in minimums.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise SandboxConfigError(f"Sandbox {name}={value!r} must be an integer of at least {least}")
        if not (isinstance(self.kernel_layers, tuple) and set(self.kernel_layers) <= set(KERNEL_LAYERS)):
            raise SandboxConfigError(
                f"Sandbox kernel_layers={self.kernel_layers!r} must be a tuple drawn from {KERNEL_LAYERS}"
            )
        if self.uid is not None and (
            not isinstance(self.uid, int) or isinstance(self.uid, bool) or not 0 <= self.uid < 2**32 - 1
        ):
            raise SandboxConfigError(
                f"Sandbox uid={self.uid!r} must be None (a fresh uid per run) or a uid from 0 to 4294967294"
            )
        if self.python is not None and not (isinstance(self.python, str) and self.python):
            raise SandboxConfigError(f"Sandbox python={self.python!r} must be None or the path of an interpreter")
        if not isinstance(self.audit_hook, bool):
            raise SandboxConfigError(f"Sandbox audit_hook={self.audit_hook!r} must be True or False")

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
                cancel.set()  # the worker thread kills the process group within POLL_S
                raise

    def containment(self) -> Containment:
        """Which layers hold on this machine, by running an empty program (blocking, ~50 ms)."""
        return self._run_reported("", True, threading.Event())[1]

    def _run(self, code: str, main: bool, cancel: threading.Event) -> SandboxResult:
        result, report = self._run_reported(code, main, cancel)
        if report.missing and result.status not in ("error", "timeout"):  # stopped early: the report may be cut
            for layer, why in report.missing.items():  # the warnings registry shows each once per process
                warnings.warn(f"sandbox containment: {layer} is off: {why}", SandboxContainmentWarning, stacklevel=1)
        return result

    def _run_reported(self, code: str, main: bool, cancel: threading.Event) -> tuple[SandboxResult, Containment]:
        started = time.monotonic()
        uid, python, uid_missing, note = self._run_as()
        if cancel.is_set():  # cancelled while the uid probe ran
            return SandboxResult("timeout", None, "", "[sandbox: cancelled]", _since(started)), Containment({}, {})
        result, report = self._run_once(code, main, cancel, uid, started, python)
        if uid_missing:  # not for strict: uid 0 without capabilities, under Landlock and seccomp, is contained
            report = Containment(report.active, {"uid": uid_missing, **report.missing})
        elif note and "uid" in report.active:
            report = Containment({**report.active, "uid": f"{report.active['uid']} ({note})"}, report.missing)
        return result, report

    def _run_as(self) -> tuple[int | None, str, str | None, str | None]:
        """(uid to run as, or None; the interpreter; why root could not be left, or None; why the
        interpreter is not the requested one, or None)."""
        requested = self.python or sys.executable
        if os.geteuid() != 0:
            return None, requested, None, None
        if self.uid == 0:
            return None, requested, "Sandbox(uid=0) keeps uid 0; capabilities are still dropped", None
        with _PROBES_LOCK:
            probe = _PROBES.setdefault((requested, self.python is None, self.uid), _UidProbe())
        with probe.lock:
            if not probe.done:
                self._probe_interpreters(probe, requested)
                probe.done = True
        if probe.failure or probe.python is None:
            return None, requested, probe.failure, None
        return self.uid or _fresh_uid(), probe.python, None, probe.note

    def _probe_interpreters(self, probe: _UidProbe, requested: str) -> None:
        """Run the probe as a fresh uid with `requested`, then (default interpreter only) with a
        system python3 of the same major.minor: the child runs with -S, it needs only the stdlib."""
        candidates = [requested] + ([] if self.python else _system_pythons())
        tails = []
        prober = replace(self, strict=False, kernel_layers=KERNEL_LAYERS, audit_hook=True)  # the result is shared
        for python in candidates:
            result, _ = prober._run_once(
                _PROBE, True, threading.Event(), self.uid or _fresh_uid(), time.monotonic(), python
            )
            if result.passed and (python == requested or result.stdout.strip() == _VERSION):
                probe.python = python
                if python != requested:
                    probe.note = f"a separate uid cannot run {requested}"
                return
            tails.append(
                f"{python}: {(result.stderr.strip().splitlines() or [result.stdout.strip() or result.status])[-1][:200]}"
            )
        probe.failure = (
            f"a separate uid cannot run {' nor '.join(candidates)} with its stdlib ({'; '.join(tails)}); runs stay uid 0 "
            "without capabilities. Fix: an interpreter every user can read (e.g. a venv made from "
            "/usr/bin/python3, or world-searchable directories above it)"
        )

    def _run_once(
        self, code: str, main: bool, cancel: threading.Event, uid: int | None, started: float, python: str
    ) -> tuple[SandboxResult, Containment]:
        try:
            with tempfile.TemporaryDirectory(prefix="agentnet-sandbox-", ignore_cleanup_errors=True) as tmp:
                return self._run_in(os.path.realpath(tmp), code, main, cancel, uid, started, python)
        except OSError as e:  # no temp dir, no interpreter, fork failed: the machine's problem
            missing = {"guard": "the child did not start"}
            stderr = f"sandbox could not run the code: {e}"
            return SandboxResult("error", None, "", stderr, _since(started)), Containment({}, missing)

    def _run_in(
        self, tmp: str, code: str, main: bool, cancel: threading.Event, uid: int | None, started: float, python: str
    ) -> tuple[SandboxResult, Containment]:
        with open(os.path.join(tmp, CODE_FILE), "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(code)
        if uid is not None:  # the guard switches to it (after mounting the tmpfs): this is for a run without one
            os.chown(tmp, uid, uid)
        report_r, report_w = os.pipe()
        settings = {
            "file": CODE_FILE,
            "module": "__main__" if main else "solution",
            "cpu_s": self.cpu_s,
            "memory_bytes": self.memory_mb * 2**20,
            "file_bytes": self.file_size_mb * 2**20,
            "disk_bytes": self.disk_mb * 2**20,
            "disk_inodes": _MAX_FILES + 2,  # the directory itself and solution.py count too
            "open_files": self.max_open_files,
            "uid": uid,
            "audit": self.audit_hook,
            "new_tasks": _NEW_TASKS,
            "report_fd": report_w,
            "strict": self.strict,
            "parent_uid": os.getuid(),
            "parent_pid": os.getpid(),
            "layers": list(self.kernel_layers),
        }
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": tmp,
            "TMPDIR": tmp,
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
        }
        out, err = Capture(self.max_output_bytes), Capture(self.max_output_bytes)
        try:
            proc = subprocess.Popen(
                [python, "-S", "-s", "-B", GUARD_PATH, json.dumps(settings)],
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                pass_fds=(report_w,),
            )
        except BaseException:
            os.close(report_r)
            raise
        finally:
            os.close(report_w)
        try:
            watch = DiskWatch(tmp, self.disk_mb * 2**20, _MAX_FILES, proc.pid)
            stop = pump(proc, out, err, started + self.timeout_s, cancel, watch)
        finally:  # whatever happened, nothing of the run outlives it
            kill_group(proc.pid)
            proc.wait()
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            report = _read_report(report_r)
        status, note = _status(proc.returncode, stop, self, report)
        stderr = err.text() + (f"\n[sandbox: {note}]" if note else "")
        hooked = (
            self.audit_hook and report.active and status != "error"
        )  # the guard got past its layers and installed the hook
        layers = tuple(report.active) + (("audit",) if hooked else ())
        return SandboxResult(status, proc.returncode, out.text(), stderr, _since(started), layers), report


async def run_python(
    code: str, *, timeout_s: float = 10.0, cpu_s: int = 10, memory_mb: int = 1024, max_output_bytes: int = 65536
) -> SandboxResult:
    """One run in a fresh `Sandbox` (no concurrency bound: share a Sandbox to get one)."""
    sandbox = Sandbox(timeout_s=timeout_s, cpu_s=cpu_s, memory_mb=memory_mb, max_output_bytes=max_output_bytes)
    return await sandbox.run_python(code)


def _system_pythons() -> list[str]:
    """System interpreters of this major.minor that are not this one (distinct files)."""
    seen = {os.path.realpath(sys.executable)}
    found = []
    for path in _SYSTEM_PYTHONS:
        real = os.path.realpath(path)
        if real not in seen and os.access(real, os.X_OK):
            seen.add(real)
            found.append(path)
    return found


def _fresh_uid() -> int:
    """A uid no account has (so no file on the machine is its own), random so that concurrent
    runs differ: each then counts only its own tasks for RLIMIT_NPROC and cannot enter another's directory."""
    while True:
        uid = _UID_BASE + secrets.randbelow(_UID_SPAN)
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid


def _read_report(fd: int) -> Containment:
    """The guard's JSON line, read once every writer is gone (so this never blocks)."""
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    try:
        data = json.loads(b"".join(chunks))
        return Containment(dict(data["active"]), dict(data["missing"]))
    except (ValueError, KeyError, TypeError):
        return Containment({}, {"guard": "the guard sent no report (it failed before setting its layers up)"})


def _since(started: float) -> float:
    return time.monotonic() - started


def _status(returncode: int | None, stop: str | None, sandbox: Sandbox, report: Containment) -> tuple[Status, str]:
    if stop == TIMEOUT:
        return "timeout", f"killed after the {sandbox.timeout_s:g} s wall-clock limit"
    if stop is not None:
        return "failed", stop
    if returncode == 0:
        return "passed", ""
    if returncode == STRICT_EXIT and sandbox.strict and report.missing:
        return "error", ""
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
