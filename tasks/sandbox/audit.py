"""The sandbox's second layer: the audit hook guard.py installs just before the program runs.

It refuses what the kernel layers refuse (writes outside the run's directory, reads beyond the
stdlib and system libraries, processes, sockets, ctypes), for where those layers are missing,
with a message naming the run's directory. Like guard.py it runs by path in the child (guard.py
imports it before anything of the program's can load) and imports in-process for tests.

The hook must survive a program that tampers with everything it can reach, so every function
it calls is captured here at start-up as a C-level builtin (posix.lstat, not os.path.realpath,
whose module globals the program can replace) and bound as a positional default: a default
tuple is immutable and replacing `__defaults__` or `__code__` is itself refused by the hook
(keyword defaults are not used: `__kwdefaults__` is a mutable dict). It uses no globals.
"""

from __future__ import annotations

import _stat
import os
import posix

WRITE_FILES = ("/dev/null",)  # writable beside the run's directory


def make_realpath(
    lstat=posix.lstat,
    readlink=posix.readlink,
    getcwd=posix.getcwd,
    islink=_stat.S_ISLNK,
    OSError=OSError,
    list=list,
    reversed=reversed,
):
    """A realpath built only on captured C functions (posixpath's looks up `os.lstat` at call time)."""

    def realpath(
        path,
        lstat=lstat,
        readlink=readlink,
        getcwd=getcwd,
        islink=islink,
        OSError=OSError,
        list=list,
        reversed=reversed,
    ):
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
    processes = frozenset(
        (
            "subprocess.Popen",
            "os.system",
            "os.exec",
            "os.fork",
            "os.forkpty",
            "os.posix_spawn",
            "os.spawn",
            "pty.spawn",
            "os.startfile",
        )
    )
    # ctypes calls libc past every hook; the others open files, devices or sockets in C with no
    # audit event (sqlite's ATTACH and VACUUM INTO, readline's history, dbm, POSIX shared memory
    # and semaphores, syslog's /dev/log, NIS, the shadow file) or are CPython's test modules
    blocked_imports = frozenset(
        (
            "ctypes",
            "_ctypes",
            "_posixsubprocess",
            "_testcapi",
            "_testinternalcapi",
            "_xxsubinterpreters",
            "cffi",
            "_cffi_backend",
            "_ctypes_test",
            "_testbuffer",
            "_testmultiphase",
            "_testclinic",
            "_xxtestfuzz",
            "_sqlite3",
            "readline",
            "_gdbm",
            "_dbm",
            "_posixshmem",
            "_multiprocessing",
            "syslog",
            "nis",
            "spwd",
            "ossaudiodev",
            "_tkinter",
            "_curses",
            "_curses_panel",
        )
    )
    refused = frozenset(
        (
            "gc.get_objects",
            "gc.get_referrers",
            "gc.get_referents",
            "resource.setrlimit",
            "resource.prlimit",
            "os.symlink",
            "os.link",
            "code.__new__",
        )
    )
    # __code__ of any function (stdlib never swaps it); the defaults only of the hook's own helpers
    # (namedtuple sets __new__.__defaults__)
    frozen_attributes = frozenset(("__defaults__", "__kwdefaults__"))
    protected_types = frozenset(c for t in path_types or () for c in t.__mro__ if c is not object)
    # event -> ((index of a path argument, index of its dir_fd argument or None), ...)
    mutations = MappingProxyType(
        {
            "os.remove": ((0, 1),),
            "os.rmdir": ((0, 1),),
            "os.mkdir": ((0, 2),),
            "os.rename": ((0, 2), (1, 3)),
            "os.chmod": ((0, 2),),
            "os.chown": ((0, 3),),
            "os.utime": ((0, 3),),
            "os.truncate": ((0, None),),
            "os.setxattr": ((0, None),),
            "os.removexattr": ((0, None),),
            "shutil.rmtree": ((0, 1),),
        }
    )

    def text(
        path,
        path_types=path_types,
        isinstance=isinstance,
        str=str,
        bytes=bytes,
        join="".join,
        decode=bytes.decode,
        fspath=posix.fspath,
        type=type,
        threads=_thread._count,
        PermissionError=PermissionError,
    ):
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

    def may_read(
        path,
        what,
        resolve=resolve,
        beneath=beneath,
        readable=readable,
        refuse=refuse,
        str=str,
        pid=pid,
        len=len,
        Exception=Exception,
    ):
        try:
            real = resolve(path)
        except Exception:
            return refuse("%s %r" % (what, path), "it does not resolve")
        parts = real.split("/")
        if len(parts) > 2 and parts[1] == "proc" and parts[2] != str(pid):
            refuse("%s another process's %r" % (what, path), "only /proc/self is readable")
        if not beneath(real, readable):
            refuse("%s %r" % (what, path), "readable: the stdlib, system libraries and the run's directory")

    def check_open(
        path,
        mode,
        flags,
        text=text,
        resolve=resolve,
        beneath=beneath,
        readable=readable,
        refuse=refuse,
        may_read=may_read,
        stat=posix.stat,
        isdir=_stat.S_ISDIR,
        ischr=_stat.S_ISCHR,
        isblk=_stat.S_ISBLK,
        str=str,
        type=type,
        int=int,
        write_flags=write_flags,
        WRITE_FILES=WRITE_FILES,
        Exception=Exception,
    ):
        if type(path) is int:
            return  # an fd already open: the checks ran when it was opened
        writing = flags & write_flags != 0 or (
            type(mode) is str and ("w" in mode or "a" in mode or "x" in mode or "+" in mode)
        )
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

    def hook(
        event,
        args,
        guarded=guarded,
        check_open=check_open,
        inside=inside,
        refuse=refuse,
        may_read=may_read,
        mutations=mutations,
        processes=processes,
        blocked_imports=blocked_imports,
        refused=refused,
        frozen=frozen_attributes,
        protected=protected_types,
        pid=pid,
        pgid=pgid,
        PermissionError=PermissionError,
        ImportError=ImportError,
        type=type,
        int=int,
    ):
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
        elif event == "object.__setattr__" and (
            args[1] == "__code__" or args[1] in frozen and args[0] in guarded or args[0] in protected
        ):
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
