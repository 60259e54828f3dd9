"""The guard's functions in-process: its path checks, limits and the hook's own robustness.

The hook is called directly (never installed here: an audit hook cannot be removed)."""

from __future__ import annotations

import dis
import os
import pathlib
import resource
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest

from agentnet.tasks.sandbox import audit, guard


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    root = tmp_path / "run"
    (root / "sub").mkdir(parents=True)
    return root


@pytest.fixture
def hook(run_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(run_dir)
    reads = guard.read_roots(str(run_dir), sys.path)
    return audit.make_hook(str(run_dir), reads, os.getpid(), os.getpgrp(), audit.pathlib_types())


def refused(hook, event: str, *args: object) -> bool:
    try:
        hook(event, args)
    except (PermissionError, ImportError):
        return True
    return False


# The hook accepts a pathlib object only while no other Python thread runs (one could change
# it between the hook's look and the open's). pytest's process may hold threads other tests
# left behind (tqdm's monitor, an HTTP peer's handler), so that case runs where the guard
# itself runs: a fresh interpreter whose only thread is the main one.
_ALONE = """
import _thread, os, pathlib, sys
from agentnet.tasks.sandbox import audit, guard
root = os.getcwd()
hook = audit.make_hook(root, guard.read_roots(root, sys.path), os.getpid(), os.getpgrp(), audit.pathlib_types())
assert _thread._count() == 0, "a thread runs already"
try:
    hook("open", (eval(sys.argv[1]), "w", 0))
except PermissionError as e:
    print(e)
"""


def refused_alone(run_dir: Path, path: str) -> bool:
    """Whether a single-threaded process's hook refuses opening `path` (an expression) for writing."""
    done = subprocess.run(
        [sys.executable, "-c", _ALONE, path], cwd=run_dir, capture_output=True, text=True, timeout=60, check=True
    )
    return "sandbox:" in done.stdout


def test_realpath_agrees_with_posixpath(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "d")
    (tmp_path / "up").symlink_to("..")
    realpath = audit.make_realpath()
    for p in ["d/../d/x", "link/y", "up/up/z", "missing/../q", "/proc/self/cwd", ".", "/", "//a//b/"]:
        full = p if p.startswith("/") else f"{tmp_path}/{p}"
        assert realpath(full) == os.path.realpath(full), p


def test_realpath_ignores_a_tampered_os_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "link").symlink_to("/etc")
    realpath = audit.make_realpath()
    monkeypatch.setattr(os, "lstat", lambda *a, **k: os.stat(tmp_path))  # "nothing is a link"
    monkeypatch.setattr(os, "readlink", lambda *a, **k: str(tmp_path))
    monkeypatch.setattr(os.path, "realpath", lambda p, **k: p)
    assert realpath(f"{tmp_path}/link/passwd") == "/etc/passwd"


def test_writes_only_inside_and_never_through_dotdot(hook, run_dir: Path) -> None:
    assert not refused(hook, "open", "a.txt", "w", os.O_WRONLY | os.O_CREAT)
    assert not refused(hook, "open", str(run_dir / "sub" / "b"), "w", 0)
    assert refused(hook, "open", "/tmp/outside", "w", 0)
    assert refused(hook, "open", "sub/../a.txt", None, os.O_RDONLY)  # relative '..': the event has no dir_fd
    assert refused(hook, "open", f"{run_dir}/sub/../a", "w", 0)
    assert refused(hook, "open", "/proc/self/cwd/../x", "w", 0)
    assert not refused(hook, "open", "/dev/null", "w", 0)


def test_directory_fds_outside_are_refused_whatever_os_path_says(hook, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os.path, "isdir", lambda p: False)  # the QA escape replaced this first
    monkeypatch.setattr(os, "stat", lambda *a, **k: os.lstat("/etc/hostname"))
    assert refused(hook, "open", "/usr/lib", None, os.O_RDONLY)
    assert refused(hook, "open", "/usr/lib", None, os.O_PATH)
    assert not refused(hook, "open", "sub", None, os.O_RDONLY)  # inside: fine


def test_mutations_resolve_their_dir_fd(hook, run_dir: Path) -> None:
    outside = os.open("/tmp", os.O_RDONLY)  # as if the program had got one
    inside = os.open(run_dir, os.O_RDONLY)
    try:
        assert refused(hook, "os.mkdir", "x", 0o777, outside)
        assert refused(hook, "os.rename", "a", "b", inside, outside)
        assert not refused(hook, "os.mkdir", "x", 0o777, inside)
        assert refused(hook, "os.remove", "/etc/hostname", -1)
        assert refused(hook, "os.chmod", outside, 0o777, -1)  # an fd: where it points
    finally:
        os.close(outside)
        os.close(inside)


def test_reads_are_limited_to_the_stdlib_system_libraries_and_the_run(hook) -> None:
    assert not refused(hook, "open", os.__file__, "r", 0)
    assert not refused(hook, "open", "/etc/ld.so.cache", "rb", 0)
    for secret in ["/etc/passwd", f"/proc/{os.getppid()}/environ", "/proc/1/environ", str(Path.home() / ".bashrc")]:
        assert refused(hook, "open", secret, "rb", 0), secret
    assert refused(hook, "os.listdir", "/etc")
    assert not refused(hook, "os.listdir", None)  # the run directory


def test_path_objects_that_answer_twice_are_refused(hook, run_dir: Path) -> None:
    class Flip:
        calls = 0

        def __fspath__(self) -> str:
            self.calls += 1
            return "/tmp/escaped" if self.calls % 2 else str(run_dir / "ok")

    class Sly(str):
        def startswith(self, *a: object) -> bool:
            return True

        def split(self, *a: object) -> list[str]:
            return []

    assert refused(hook, "open", Flip(), "w", 0)
    assert refused(hook, "open", Sly("/tmp/escaped"), "w", 0)
    assert refused(hook, "open", b"/tmp/escaped", "w", 0)
    assert not refused_alone(run_dir, 'pathlib.Path("sub/x")')  # pathlib itself is fine
    assert refused_alone(run_dir, 'pathlib.Path("/tmp/escaped")')


def test_path_objects_are_refused_while_another_thread_runs(hook) -> None:
    """Whatever else runs in this process: the test's own thread is enough."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, args=(60,))
    thread.start()
    try:
        assert refused(hook, "open", pathlib.Path("sub/x"), "w", 0)
        assert refused(hook, "open", pathlib.PurePosixPath("sub/x"), "w", 0)
        assert not refused(hook, "open", "sub/x", "w", 0)  # a str cannot change under the hook
    finally:
        stop.set()
        thread.join()


def test_the_hook_refuses_tampering_with_functions_and_pathlib(hook) -> None:
    helper = hook.__defaults__[1]  # check_open: what a traceback frame of the hook exposes
    for name in ("__code__", "__defaults__", "__kwdefaults__"):
        assert refused(hook, "object.__setattr__", helper, name, None)
    mine = audit.make_realpath()
    assert refused(hook, "object.__setattr__", mine, "__code__", None)
    assert not refused(hook, "object.__setattr__", mine, "__defaults__", None)  # namedtuple does this
    assert refused(hook, "object.__setattr__", pathlib.PurePath, "__fspath__", None)
    assert not refused(hook, "object.__setattr__", type("Mine", (), {}), "x", 1)


def test_processes_ctypes_signals_and_limits(hook) -> None:
    for event in (
        "subprocess.Popen",
        "os.system",
        "os.fork",
        "os.posix_spawn",
        "os.exec",
        "ctypes.dlopen",
        "gc.get_referrers",
        "code.__new__",
        "resource.setrlimit",
        "os.link",
        "socket.connect",
    ):
        assert refused(hook, event, None, None, None, None), event
    assert refused(hook, "import", "ctypes.util", None, None, None, None)
    assert refused(hook, "os.kill", os.getppid(), 9)
    assert not refused(hook, "os.kill", os.getpid(), 0)
    assert refused(hook, "os.killpg", 1, 9)


def _helpers(hook) -> list[types.FunctionType]:
    found, todo = [], [hook]
    while todo:
        f = todo.pop()
        found.append(f)
        todo += [d for d in f.__defaults__ or () if isinstance(d, types.FunctionType) and d not in found]
    return found


def test_the_hook_holds_no_state_a_program_could_rewrite(hook) -> None:
    """What a program can reach from a traceback frame of the hook: its defaults. All of them are
    immutable or C functions; no helper has a closure cell or reads a global."""
    immutable = (
        str,
        int,
        bool,
        bytes,
        tuple,
        frozenset,
        type(None),
        types.BuiltinFunctionType,
        types.MappingProxyType,
        types.MethodDescriptorType,
        type,
        types.FunctionType,
    )
    helpers = _helpers(hook)
    assert len(helpers) >= 8
    for f in helpers:
        assert f.__closure__ is None and f.__kwdefaults__ is None, f.__name__
        assert all(isinstance(d, immutable) for d in f.__defaults__ or ()), f.__name__
        loads = [i.argval for i in dis.get_instructions(f) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF")]
        assert loads == [], f.__name__  # builtins too: a program can replace builtins.isinstance


def test_limits_follow_the_settings_and_skip_nproc_for_root() -> None:
    cfg = {"cpu_s": 3, "memory_bytes": 2**28, "file_bytes": 2**20, "new_tasks": 64, "open_files": 40}
    as_root = guard.limits_for(cfg, 0, 500)
    assert as_root[resource.RLIMIT_CPU] == (3, 4) and as_root[resource.RLIMIT_AS] == (2**28, 2**28)
    assert as_root[resource.RLIMIT_NOFILE] == (40, 40) and as_root[resource.RLIMIT_FSIZE] == (2**20, 2**20)
    assert resource.RLIMIT_NPROC not in as_root and as_root[resource.RLIMIT_CORE] == (0, 0)
    assert guard.limits_for(cfg, 1000, 10)[resource.RLIMIT_NPROC] == (74, 74)


def test_set_limit_never_asks_above_the_current_hard_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(guard.resource, "getrlimit", lambda which: (5, 7))
    monkeypatch.setattr(guard.resource, "setrlimit", lambda which, limits: calls.append(limits))
    guard.set_limit(resource.RLIMIT_CPU, 10, 11)
    assert calls == [(7, 7)]


def test_user_tasks_counts_threads_of_that_uid(tmp_path: Path) -> None:
    for pid, threads in (("10", 3), ("11", 1)):
        for t in range(threads):
            (tmp_path / pid / "task" / str(t)).mkdir(parents=True)
    (tmp_path / "self").mkdir()
    assert guard.user_tasks(os.getuid(), str(tmp_path)) == 4
    assert guard.user_tasks(os.getuid() + 1, str(tmp_path)) == 0


def test_read_roots_put_the_run_first_and_drop_relative_entries() -> None:
    roots = guard.read_roots("/run/x", ["", "rel", "/usr/lib/python3.11"])
    assert roots[:2] == ["/run/x", "/usr/lib/python3.11"] and "/etc/ld.so.cache" in roots and "rel" not in roots


def test_left_out_layers_are_reported_missing_and_nothing_is_applied(run_dir: Path) -> None:
    before = open("/proc/self/status").read()
    active, missing = guard.confine_kernel({"layers": [], "parent_uid": os.getuid()}, str(run_dir), [str(run_dir)])
    assert active == {} and set(missing) >= {"landlock", "seccomp"}
    assert all(why == "left out by Sandbox(kernel_layers=...)" for why in missing.values())
    status = open("/proc/self/status").read()
    assert [ln for ln in status.splitlines() if ln.startswith(("Seccomp:", "CapEff:", "NoNewPrivs:"))] == [
        ln for ln in before.splitlines() if ln.startswith(("Seccomp:", "CapEff:", "NoNewPrivs:"))
    ]
