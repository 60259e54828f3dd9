"""agentnet sandbox guard: the child's first code, run by path as `python -S -s -B guard.py SETTINGS`.

In order, before one line of the untrusted program runs: as root, a private tmpfs over the
run directory and the switch to the run's uid; resource limits; the kernel layers of
confine.py (capabilities, Landlock, seccomp), each recorded as active or missing in a report
written to an inherited pipe; Python-level stubs; an audit hook as the second layer; then the
program itself (`solution.py` in the run directory, the working directory).

The hook must survive a program that tampers with everything it can reach, so every function
it calls is captured here at start-up as a C-level builtin (posix.lstat, not os.path.realpath,
whose module globals the program can replace) and bound as a positional default: a default
tuple is immutable and replacing `__defaults__` or `__code__` is itself refused by the hook
(keyword defaults are not used: `__kwdefaults__` is a mutable dict). It uses no globals.

This file also imports in-process (tests call its functions); `main()` runs only as a script.
"""

from __future__ import annotations

import _stat
import builtins
import gc
import json
import os
import posix
import resource
import sys
import types

try:
    from . import confine  # imported in-process as agentnet.tasks.sandbox.guard
except ImportError:
    import confine  # type: ignore[no-redef, import-not-found]  # run by path: this directory is sys.path[0] (removed before the program runs)

# Reads allowed beside the stdlib (sys.path) and the run directory: shared libraries that
# stdlib extension modules load, the loader's cache, time zones, and the random/null devices.
SYSTEM_READS = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/usr/share/zoneinfo",
                "/etc/localtime", "/etc/ld.so.cache", "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")  # fmt: skip
WRITE_FILES = ("/dev/null",)
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
    layers += [("landlock", lambda: confine.landlock([root], reads[1:], list(WRITE_FILES))), ("seccomp", confine.seccomp)]
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
    for name in ("create_connection", "create_server", "socketpair", "fromfd", "getaddrinfo", "getnameinfo",
                 "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getfqdn"):  # fmt: skip
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
    for module, names in ((os, ("mkfifo", "mknod", "chroot", "pidfd_open")), (posix, ("mkfifo", "mknod", "chroot",
                          "pidfd_open")), (signal, ("pidfd_send_signal",)), (_signal, ("pidfd_send_signal",))):  # fmt: skip
        for name in names:
            if hasattr(module, name):
                setattr(module, name, blocked)


def make_realpath(lstat=posix.lstat, readlink=posix.readlink, getcwd=posix.getcwd, islink=_stat.S_ISLNK,
                  OSError=OSError, list=list, reversed=reversed):  # fmt: skip
    """A realpath built only on captured C functions (posixpath's looks up `os.lstat` at call time)."""

    def realpath(path, lstat=lstat, readlink=readlink, getcwd=getcwd, islink=islink, OSError=OSError, list=list,
                 reversed=reversed):  # fmt: skip
        if not path.startswith("/"):
            path = getcwd() + "/" + path
        todo, done, links = list(reversed(path.split("/"))), "", 0
        while todo:
            name = todo.pop()
            if name in ("", "."):
                continue
            if name == "..":
                done = done.rpartition("/")[0]
                continue
            candidate = done + "/" + name
            try:
                mode = lstat(candidate).st_mode
            except OSError:
                done = candidate  # does not exist (yet): the rest is taken as written
                continue
            if not islink(mode):
                done = candidate
                continue
            links += 1
            if links > 40:
                raise OSError("too many symbolic links")
            target = readlink(candidate)
            if target.startswith("/"):
                done = ""
            todo.extend(reversed(target.split("/")))
        return done or "/"

    return realpath


def make_hook(root: str, reads: list[str], pid: int, pgid: int, path_types: tuple | None = None):
    """The audit hook: refuse what the kernel layers refuse, for where they are missing, with a
    message that names the run's directory.

    `path_types`: the path-object classes to accept (pathlib's). An event carries the object the
    program passed, and a path object's `__fspath__` runs again when the hook converts it, so a
    program could answer differently the second time; None accepts any (Landlock is on and
    checks the path the kernel really opens). Only `str` and `bytes` content is immutable.
    Even pathlib's objects are refused while another Python thread runs (`_thread._count()`):
    it could change one between the hook's look and the open's. In the child every such
    thread is the program's; in a test process, any leftover thread counts."""
    from types import MappingProxyType

    import _thread

    realpath = make_realpath()
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    readable = tuple(realpath(p) for p in reads)  # the run directory first
    processes = frozenset(("subprocess.Popen", "os.system", "os.exec", "os.fork", "os.forkpty", "os.posix_spawn",
                           "os.spawn", "pty.spawn", "os.startfile"))  # fmt: skip
    # ctypes calls libc past every hook; the others open files, devices or sockets in C with no
    # audit event (sqlite's ATTACH and VACUUM INTO, readline's history, dbm, POSIX shared memory
    # and semaphores, syslog's /dev/log, NIS, the shadow file) or are CPython's test modules
    blocked_imports = frozenset(("ctypes", "_ctypes", "_posixsubprocess", "_testcapi", "_testinternalcapi",
                                 "_xxsubinterpreters", "cffi", "_cffi_backend", "_ctypes_test", "_testbuffer",
                                 "_testmultiphase", "_testclinic", "_xxtestfuzz", "_sqlite3", "readline", "_gdbm",
                                 "_dbm", "_posixshmem", "_multiprocessing", "syslog", "nis", "spwd", "ossaudiodev",
                                 "_tkinter", "_curses", "_curses_panel"))  # fmt: skip
    refused = frozenset(("gc.get_objects", "gc.get_referrers", "gc.get_referents", "resource.setrlimit",
                         "resource.prlimit", "os.symlink", "os.link", "code.__new__"))  # fmt: skip
    # __code__ of any function (stdlib never swaps it); the defaults only of the hook's own helpers
    # (namedtuple sets __new__.__defaults__)
    frozen_attributes = frozenset(("__defaults__", "__kwdefaults__"))
    protected_types = frozenset(c for t in path_types or () for c in t.__mro__ if c is not object)
    # event -> ((index of a path argument, index of its dir_fd argument or None), ...)
    mutations = MappingProxyType({
        "os.remove": ((0, 1),), "os.rmdir": ((0, 1),), "os.mkdir": ((0, 2),), "os.rename": ((0, 2), (1, 3)),
        "os.chmod": ((0, 2),), "os.chown": ((0, 3),), "os.utime": ((0, 3),), "os.truncate": ((0, None),),
        "os.setxattr": ((0, None),), "os.removexattr": ((0, None),), "shutil.rmtree": ((0, 1),),
    })  # fmt: skip

    def text(path, path_types=path_types, isinstance=isinstance, str=str, bytes=bytes, join="".join,
             decode=bytes.decode, fspath=posix.fspath, type=type, threads=_thread._count,
             PermissionError=PermissionError):  # fmt: skip
        """The path as an exact str (a str subclass could override the methods used below)."""
        if isinstance(path, str):
            return join((path,))
        if isinstance(path, bytes):
            return decode(path, "utf-8", "surrogateescape")
        if path_types is not None and (type(path) not in path_types or threads()):
            raise PermissionError("sandbox: a path given as a %s object is blocked here" % type(path).__name__)
        path = fspath(path)  # not text(): the hook's helpers have no closures a program could rewrite
        return join((path,)) if isinstance(path, str) else decode(path, "utf-8", "surrogateescape")

    def resolve(path, dir_fd=None, text=text, realpath=realpath, readlink=posix.readlink, type=type, int=int):
        if type(path) is int:  # an open file descriptor: where it points
            return readlink("/proc/self/fd/%d" % path)
        path = text(path)
        if dir_fd is not None and dir_fd >= 0 and not path.startswith("/"):
            path = readlink("/proc/self/fd/%d" % dir_fd) + "/" + path
        return realpath(path)

    def beneath(real, dirs):
        for d in dirs:
            if real == d or real.startswith(d + "/"):
                return True
        return False

    def inside(path, dir_fd=None, resolve=resolve, beneath=beneath, roots=(readable[0],), Exception=Exception):
        try:
            return beneath(resolve(path, dir_fd), roots)
        except Exception:
            return False

    def refuse(what, why=None, root=root, PermissionError=PermissionError):
        why = why or "only the run's directory %s is writable" % root
        raise PermissionError("sandbox: %s is blocked (%s)" % (what, why))

    def may_read(path, what, resolve=resolve, beneath=beneath, readable=readable, refuse=refuse, str=str, pid=pid,
                 len=len, Exception=Exception):  # fmt: skip
        try:
            real = resolve(path)
        except Exception:
            return refuse("%s %r" % (what, path), "it does not resolve")
        parts = real.split("/")
        if len(parts) > 2 and parts[1] == "proc" and parts[2] != str(pid):
            refuse("%s another process's %r" % (what, path), "only /proc/self is readable")
        if not beneath(real, readable):
            refuse("%s %r" % (what, path), "readable: the stdlib, system libraries and the run's directory")

    def check_open(path, mode, flags, text=text, resolve=resolve, beneath=beneath, readable=readable, refuse=refuse,
                   may_read=may_read, stat=posix.stat, isdir=_stat.S_ISDIR, ischr=_stat.S_ISCHR, isblk=_stat.S_ISBLK,
                   str=str, type=type, int=int, write_flags=write_flags, WRITE_FILES=WRITE_FILES,
                   Exception=Exception):  # fmt: skip
        if type(path) is int:
            return  # an fd already open: the checks ran when it was opened
        writing = flags & write_flags != 0 or (type(mode) is str and ("w" in mode or "a" in mode or "x" in mode or "+" in mode))
        try:
            written = text(path)
            real = resolve(written)
        except Exception:
            return refuse("opening %r (unresolvable)" % (path,))
        if not written.startswith("/") and ".." in written.split("/"):
            # the event has no dir_fd: a relative path is resolved from the working directory,
            # which `..` from a deeper dir_fd would leave
            refuse("opening a relative path with '..' (%r)" % (written,))
        try:
            kind = stat(real).st_mode
        except Exception:
            kind = 0
        if real in WRITE_FILES:
            return
        if beneath(real, readable[:1]):
            if ischr(kind) or isblk(kind):
                refuse("opening the device file %r" % (written,))
            if writing and ".." in written.split("/"):
                refuse("writing through '..' in %r" % (written,))
            return
        if writing:
            refuse("writing %r" % (written,))
        if isdir(kind):  # a directory fd outside would let dir_fd= calls escape
            refuse("opening the directory %r" % (written,))
        may_read(written, "reading")

    guarded = frozenset((realpath, text, resolve, beneath, inside, refuse, may_read, check_open))

    def hook(event, args, guarded=guarded, check_open=check_open, inside=inside, refuse=refuse, may_read=may_read,
             mutations=mutations, processes=processes, blocked_imports=blocked_imports, refused=refused, frozen=frozen_attributes,
             protected=protected_types, pid=pid, pgid=pgid, PermissionError=PermissionError, ImportError=ImportError,
             type=type, int=int):  # fmt: skip
        if event == "open":
            check_open(*args)
        elif event.startswith("socket."):
            raise PermissionError("sandbox: network access is blocked (%s)" % event)
        elif event in mutations:
            for where, dir_fd in mutations[event]:
                if not inside(args[where], None if dir_fd is None else args[dir_fd]):
                    refuse("%s on %r" % (event, args[where]))
        elif event == "os.listdir" or event == "os.scandir":
            if type(args[0]) is not int:
                may_read("." if args[0] is None else args[0], "listing")
        elif event == "os.chdir":
            if type(args[0]) is int or not inside(args[0]):
                refuse("changing directory to %r" % (args[0],))
        elif event in processes or event.startswith("ctypes."):
            raise PermissionError("sandbox: %s is blocked (no processes, no ctypes)" % event)
        elif event == "import":
            if args[0].partition(".")[0] in blocked_imports:
                raise ImportError("sandbox: importing %s is blocked" % args[0])
        elif event in refused:
            raise PermissionError("sandbox: %s is blocked" % event)
        elif event == "object.__setattr__" and (args[1] == "__code__" or args[1] in frozen and args[0] in guarded
                                                or args[0] in protected):
            raise PermissionError("sandbox: replacing %s of %r is blocked" % (args[1], args[0]))
        elif event == "os.kill":
            if args[0] not in (0, pid, -pgid):
                raise PermissionError("sandbox: signalling other processes is blocked")
        elif event == "os.killpg":
            if args[0] not in (0, pgid):
                raise PermissionError("sandbox: signalling other processes is blocked")

    return hook


def pathlib_types() -> tuple:
    """pathlib's path classes, for a hook without Landlock behind it (costs ~20 ms of imports)."""
    import pathlib

    return (pathlib.PosixPath, pathlib.PurePosixPath)


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
        sys.excepthook(type(e), e.with_traceback(tb), tb)  # the C default prints the last 1000 frames, fast at any depth
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
    sys.modules.pop("confine", None)  # the top-level name it has when this file runs by path
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
