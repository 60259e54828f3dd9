"""agentnet sandbox guard: the child's first code, run by path as `python -S -s -B guard.py SETTINGS`.

In order, before one line of the untrusted program runs: as root, a private tmpfs over the
run directory and the switch to the run's uid; resource limits; the kernel layers of
confine.py (capabilities, Landlock, seccomp), each recorded as active or missing in a report
written to an inherited pipe; Python-level stubs; an audit hook as the second layer; then the
program itself (`solution.py` in the run directory, the working directory).

The audit hook lives in audit.py (imported here before the program can load anything).

This file also imports in-process (tests call its functions); `main()` runs only as a script.
"""

from __future__ import annotations

import builtins
import gc
import json
import os
import posix
import resource
import sys
import types

try:  # imported in-process as agentnet.tasks.sandbox.guard
    from . import confine
    from .audit import WRITE_FILES, make_hook, pathlib_types
except ImportError:  # run by path: this directory is sys.path[0] (removed before the program runs)
    import confine  # type: ignore[no-redef, import-not-found]
    from audit import WRITE_FILES, make_hook, pathlib_types  # type: ignore[no-redef, import-not-found]

# Reads allowed beside the stdlib (sys.path) and the run directory: shared libraries that
# stdlib extension modules load, the loader's cache, time zones, and the random/null devices.
SYSTEM_READS = (
    "/usr/lib",
    "/usr/lib64",
    "/lib",
    "/lib64",
    "/usr/local/lib",
    "/usr/share/zoneinfo",
    "/etc/localtime",
    "/etc/ld.so.cache",
    "/dev/null",
    "/dev/zero",
    "/dev/urandom",
    "/dev/random",
)
STRICT_EXIT = 97  # strict mode: a kernel layer is missing, the program was not run


def set_limit(which: int, soft: int, hard: int) -> None:
    _, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(which, (soft, hard))


def user_tasks(uid: int, proc: str = "/proc") -> int:
    """Processes and threads of `uid`: what RLIMIT_NPROC counts."""
    count = 0
    for pid in os.listdir(proc):
        if pid.isdigit():
            try:
                if os.stat(f"{proc}/{pid}").st_uid == uid:
                    count += len(os.listdir(f"{proc}/{pid}/task"))
            except OSError:
                pass  # exited while we looked
    return count


def limits_for(cfg: dict, uid: int, tasks: int) -> dict[int, tuple[int, int]]:
    """The rlimits to set. RLIMIT_NPROC only for a non-root uid: the kernel exempts uid 0."""
    chosen = {
        resource.RLIMIT_CPU: (cfg["cpu_s"], cfg["cpu_s"] + 1),  # SIGXCPU at the soft limit, SIGKILL 1 s later
        resource.RLIMIT_AS: (cfg["memory_bytes"], cfg["memory_bytes"]),
        resource.RLIMIT_FSIZE: (cfg["file_bytes"], cfg["file_bytes"]),
        resource.RLIMIT_NOFILE: (cfg["open_files"], cfg["open_files"]),  # bounds unlinked-but-open files too
        resource.RLIMIT_CORE: (0, 0),
    }
    if uid != 0:
        chosen[resource.RLIMIT_NPROC] = (tasks + cfg["new_tasks"],) * 2
    return chosen


def read_roots(root: str, path: list[str]) -> list[str]:
    """Where the program may read: its directory, the stdlib (`path`, sys.path under -S), SYSTEM_READS."""
    return [root] + [p for p in path if p and p.startswith("/")] + list(SYSTEM_READS)


def confine_kernel(cfg: dict, root: str, reads: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Apply the kernel layers; returns (active, missing): layer -> what it enforces / why it is off."""
    active: dict[str, str] = {}
    missing: dict[str, str] = {}
    uid = os.getuid()
    if uid not in (0, cfg.get("parent_uid", uid)):
        active["uid"] = f"uid {uid}, a fresh unprivileged user, running {sys.executable}"
    if "parent_pid" in cfg:
        try:
            active["parent-death"] = confine.die_with_parent(cfg["parent_pid"])
        except (confine.Unavailable, OSError, AttributeError) as e:
            missing["parent-death"] = str(e)
    try:
        privileged = os.geteuid() == 0 or confine.effective_capabilities() != 0
    except (OSError, ValueError):  # no /proc: assume the worst, dropping is harmless
        privileged = True
    layers = [("capabilities", confine.drop_capabilities)] if privileged else []
    layers += [
        ("landlock", lambda: confine.landlock([root], reads[1:], list(WRITE_FILES))),
        ("seccomp", confine.seccomp),
    ]
    for name, apply in layers:
        if name not in cfg.get("layers", (name,)):
            missing[name] = "left out by Sandbox(kernel_layers=...)"
            continue
        try:
            active[name] = apply()
        except (confine.Unavailable, OSError, AttributeError) as e:
            missing[name] = str(e)
    return active, missing


def private_disk(cfg: dict, root: str) -> tuple[dict[str, str], dict[str, str]]:
    """As root, mount the run's tmpfs over `root` (which becomes the cwd) and copy the program in."""
    if "tmpfs" not in cfg.get("layers", ("tmpfs",)):
        return {}, {"tmpfs": "left out by Sandbox(kernel_layers=...)"}
    bound = "disk use is bounded by RLIMIT_FSIZE x RLIMIT_NOFILE for unlinked-but-open files, plus the parent's watch"
    if os.geteuid() != 0:
        return {}, {"tmpfs": f"mounting one needs root; {bound}"}
    with open(cfg["file"], "rb") as f:
        source = f.read()
    try:
        done = confine.private_tmpfs(root, cfg["disk_bytes"], cfg["disk_inodes"], cfg.get("uid") or 0)
    except (confine.Unavailable, OSError, AttributeError) as e:
        return {}, {"tmpfs": f"{e}; {bound}"}
    with open(cfg["file"], "xb") as f:  # as root, before the limits: the run's inode budget counts it
        f.write(source)
    if cfg.get("uid"):
        os.chown(cfg["file"], cfg["uid"], cfg["uid"])
    return {"tmpfs": done}, {}


def stub_network() -> None:
    import socket

    def deny(*args: object, **kwargs: object) -> None:
        raise PermissionError("sandbox: network access is blocked")

    class BlockedSocket(socket.socket):  # a subclass, so `class X(socket.socket)` still works
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise PermissionError("sandbox: network access is blocked")

    socket.socket = socket.SocketType = BlockedSocket  # type: ignore[misc]
    for name in (
        "create_connection",
        "create_server",
        "socketpair",
        "fromfd",
        "getaddrinfo",
        "getnameinfo",
        "gethostbyname",
        "gethostbyname_ex",
        "gethostbyaddr",
        "getfqdn",
    ):
        setattr(socket, name, deny)


def stub_unaudited() -> None:
    """Calls with no audit event: process creation below subprocess, file creation anywhere
    (mkfifo, mknod), chroot, signals via pidfds. (seccomp refuses them too, where it is on.)"""
    import _posixsubprocess
    import _signal  # type: ignore[import-not-found]  # CPython's C module behind signal: typeshed has no stub
    import signal

    def blocked(*args: object, **kwargs: object) -> None:
        raise PermissionError("sandbox: this call is blocked (no processes, no files outside the run's directory)")

    _posixsubprocess.fork_exec = blocked  # type: ignore[assignment]
    for module, names in (
        (os, ("mkfifo", "mknod", "chroot", "pidfd_open")),
        (posix, ("mkfifo", "mknod", "chroot", "pidfd_open")),
        (signal, ("pidfd_send_signal",)),
        (_signal, ("pidfd_send_signal",)),
    ):
        for name in names:
            if hasattr(module, name):
                setattr(module, name, blocked)


def run_program(cfg: dict, root: str) -> None:
    path = os.path.join(root, cfg["file"])
    sys.argv = [cfg["file"]]
    module = types.ModuleType(cfg["module"])
    module.__file__, module.__builtins__ = path, builtins  # type: ignore[attr-defined]
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
        sys.excepthook(
            type(e), e.with_traceback(tb), tb
        )  # the C default prints the last 1000 frames, fast at any depth
        sys.stderr.flush()
        raise SystemExit(1)


def report(fd: int, active: dict[str, str], missing: dict[str, str], refused: bool) -> None:
    """Tell the parent what holds; closing the fd means the program that follows cannot write here."""
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps({"active": active, "missing": missing, "refused": refused}))


def forget_ctypes() -> None:
    """ctypes was needed to set the kernel layers up; the program must import it afresh (refused)."""
    for name in [m for m in sys.modules if m == "ctypes" or m.startswith("ctypes.") or m == "_ctypes"]:
        del sys.modules[name]
    sys.modules.pop("confine", None)  # the top-level names they have when this file runs by path
    sys.modules.pop("audit", None)
    globals().pop("confine", None)
    gc.collect()  # ctypes' own classes go with their module


def main(argv: list[str]) -> None:
    cfg = json.loads(argv[1])
    root = os.path.realpath(os.getcwd())
    if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.dirname(os.path.realpath(__file__)):
        del sys.path[0]  # this file's directory: the program's imports must not see agentnet's files
    disk_active, disk_missing = private_disk(cfg, root)
    if cfg.get("uid") is not None:  # started as root: the tmpfs first, then nothing of root's stays
        confine.switch_user(cfg["uid"])
    for which, (soft, hard) in limits_for(cfg, os.getuid(), user_tasks(os.getuid()) if os.getuid() else 0).items():
        set_limit(which, soft, hard)
    reads = read_roots(root, sys.path)
    active, missing = confine_kernel(cfg, root, reads)
    active, missing = {**disk_active, **active}, {**disk_missing, **missing}
    forget_ctypes()
    # without a tmpfs the kernel still bounds disk use (RLIMIT_FSIZE x RLIMIT_NOFILE): not a reason to refuse
    lacking = [layer for layer in missing if layer != "tmpfs"]
    refuse = bool(cfg.get("strict") and lacking)
    report(cfg["report_fd"], active, missing, refuse)
    if refuse:
        sys.stderr.write("sandbox: strict containment: missing %s; the code was not run\n" % ", ".join(lacking))
        sys.stderr.flush()
        os._exit(STRICT_EXIT)
    if cfg.get("audit", True):  # off only in tests of the kernel layers alone
        stub_network()
        stub_unaudited()
        path_types = None if "landlock" in active else pathlib_types()
        sys.addaudithook(make_hook(root, reads, os.getpid(), os.getpgrp(), path_types))
    run_program(cfg, root)


if __name__ == "__main__":
    main(sys.argv)
