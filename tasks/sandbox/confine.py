"""Kernel-enforced containment for the sandbox child: a private tmpfs, a separate uid,
capabilities, Landlock and seccomp.

The guard calls these before any untrusted code runs; each returns a one-line description of
what it enforced, or raises `Unavailable` with why and how to get the layer. After them the
process cannot regain what it dropped: no_new_privs is set, Landlock domains and seccomp
filters are inherited and cannot be removed.

Python 3.11 has no bindings for these system calls, so they go through ctypes on libc and on
libseccomp (the seccomp library every Debian/Ubuntu ships for apt and systemd; it maps
syscall names to numbers per architecture, which a hand-written BPF program would hard-code).
`ctypes.util.find_library` is never used: it may start processes (ldconfig, gcc).

Like guard.py this file runs under `python -S` with only the standard library.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat

PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_CAP_VERSION_3 = 0x20080522

# Landlock (include/uapi/linux/landlock.h); the syscall numbers are the same on every
# architecture agentnet runs on (x86_64, aarch64: the generic table).
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_MAKE_CHAR, FS_MAKE_BLOCK = 1 << 6, 1 << 11
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV  # valid on a file
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1 << 0, 1 << 1

_LANDLOCK_HINT = "needs Linux >= 5.13 built with CONFIG_SECURITY_LANDLOCK and landlock in the lsm= boot list"
_SECCOMP_HINT = "install libseccomp (Debian/Ubuntu: apt-get install libseccomp2) on a kernel with CONFIG_SECCOMP_FILTER"


class Unavailable(Exception):
    """The kernel (or the machine) refused a layer; the message says why and how to get it."""


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.prctl.restype = ctypes.c_int
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return libc


def _fail(what: str) -> Unavailable:
    code = ctypes.get_errno()
    return Unavailable(f"{what}: {errno.errorcode.get(code, code)} ({os.strerror(code)})")


def no_new_privs() -> None:
    """Required by Landlock and seccomp without CAP_SYS_ADMIN; also makes execve unable to
    grant privileges (setuid bits, file capabilities)."""
    if _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise _fail("prctl(PR_SET_NO_NEW_PRIVS)")


def die_with_parent(parent_pid: int) -> str:
    """SIGKILL this process when the thread that started it exits (a SIGKILLed evaluator would
    otherwise leave a sleeping child behind). The runner's worker thread waits for the child, so
    it outlives it in every normal run."""
    import signal

    if _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise _fail("prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent_pid:  # the parent died before the line above: nobody will wait for us
        os._exit(137)
    return "killed with its parent"


# --- capabilities ----------------------------------------------------------------------------


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> str:
    """Empty the bounding, ambient, effective, permitted and inheritable sets.

    Why: a root child that keeps uid 0 (no separate uid possible) would otherwise bypass file
    permissions, raise hard rlimits, and read any process's /proc entries; with no
    capabilities, ptrace-mode checks on a fully privileged parent fail.
    """
    libc = _libc()
    last = _last_cap()
    for cap in range(last + 1):  # needs CAP_SETPCAP, so before the capset below
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.EPERM):
            raise _fail(f"prctl(PR_CAPBSET_DROP, {cap})")
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)  # EINVAL before Linux 4.3: nothing to clear
    header, data = _CapHeader(_CAP_VERSION_3, 0), (_CapData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        raise _fail("capset")
    return "all capabilities dropped"


def _last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 63


def effective_capabilities() -> int:
    """CapEff of this process (0 once dropped), read from /proc/self/status."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return -1


# --- Landlock --------------------------------------------------------------------------------


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is __attribute__((packed)): 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; raises Unavailable when there is none."""
    abi = _libc().syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    if abi < 0:
        raise _fail(f"Landlock ({_LANDLOCK_HINT})")
    return int(abi)


def handled_fs(abi: int) -> int:
    """Every filesystem right this ABI knows: what the ruleset denies unless a rule allows it."""
    rights = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def landlock(write_dirs: list[str], read_paths: list[str], write_files: list[str]) -> str:
    """Allow writing only beneath `write_dirs` (and to `write_files`, e.g. /dev/null), reading only
    beneath those and `read_paths`, executing nothing; no TCP bind/connect (ABI >= 4); no signals
    or abstract unix sockets to processes outside this domain (ABI >= 6).

    A Landlock domain also denies ptrace-mode access to every process outside it, which is what
    guards the parent's /proc/<pid>/environ, mem and cwd. Paths that do not exist are skipped.
    """
    libc, abi = _libc(), landlock_abi()
    fs = handled_fs(abi)
    attr = _RulesetAttr(
        fs, NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0, SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL if abi >= 6 else 0
    )
    size = 8 if abi < 4 else 16 if abi < 6 else 24  # older kernels reject fields they do not know
    ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise _fail("landlock_create_ruleset")
    try:
        write = fs & ~(FS_EXECUTE | FS_MAKE_CHAR | FS_MAKE_BLOCK)
        rules = [(p, write) for p in write_dirs] + [
            (p, FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE) for p in write_files
        ]
        rules += [(p, FS_READ_FILE | FS_READ_DIR) for p in read_paths]
        for path, rights in rules:
            _add_rule(libc, int(ruleset), path, rights & fs)
        no_new_privs()
        if libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise _fail("landlock_restrict_self")
    finally:
        os.close(ruleset)
    scope = ", no signals or abstract sockets outside" if abi >= 6 else " (ABI < 6: signals not scoped)"
    net = ", no TCP" if abi >= 4 else " (ABI < 4: TCP not covered)"
    return f"ABI {abi}: writes only in the run directory, reads only system and stdlib paths{net}{scope}"


def _add_rule(libc: ctypes.CDLL, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # not on this machine: nothing to allow
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_RIGHTS  # directory-only rights on a file are EINVAL
        rule = _PathBeneath(rights, fd)
        if (
            libc.syscall(
                _SYS_ADD_RULE,
                ctypes.c_int(ruleset),
                ctypes.c_int(_RULE_PATH_BENEATH),
                ctypes.byref(rule),
                ctypes.c_uint32(0),
            )
            != 0
        ):
            raise _fail(f"landlock_add_rule({path!r})")
    finally:
        os.close(fd)


# --- a private tmpfs and a separate uid ------------------------------------------------------

CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18


def private_tmpfs(path: str, size_bytes: int, inodes: int, uid: int) -> str:
    """Mount a tmpfs of `size_bytes` and `inodes` over `path`, in a mount namespace of this
    process alone (it goes away with the process; nothing shows on the host).

    Why: the kernel then refuses (ENOSPC) a write or a new file past the limit, counting what
    a walk of the directory cannot see: files unlinked while kept open, or kept mapped. Needs
    CAP_SYS_ADMIN (root), so it runs before the uid switch and the capability drop; the
    process must be single-threaded (unshare(CLONE_NEWNS) also unshares the cwd).
    """
    libc = _libc()
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    if libc.unshare(CLONE_NEWNS) != 0:
        raise _fail("unshare(CLONE_NEWNS) (a tmpfs needs root with CAP_SYS_ADMIN)")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:  # else the mount propagates to the host
        raise _fail("making the mounts private")
    options = f"size={size_bytes},nr_inodes={inodes},mode=0700,uid={uid},gid={uid}"
    if (
        libc.mount(b"agentnet-sandbox", os.fsencode(path), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options.encode())
        != 0
    ):
        raise _fail(f"mount -t tmpfs -o {options}")
    os.chdir(path)  # the old cwd is the directory under the mount
    return f"{size_bytes // 2**20} MiB, {inodes} inodes, counting unlinked-but-open files"


def switch_user(uid: int) -> None:
    """Become `uid`/`uid` with no supplementary groups (as root, before the program runs).

    A credential change clears the dumpable flag, which would make /proc/self root's; exec (what
    Popen's `user=` does) sets it again, so this does too. Another process of this uid could then
    ptrace this one: the uid is fresh per run, and seccomp refuses ptrace anyway."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if _libc().prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0:
        raise _fail("prctl(PR_SET_DUMPABLE)")
    os.umask(0o077)


# --- seccomp ---------------------------------------------------------------------------------

_ACT_ALLOW = 0x7FFF0000
_CMP_NE, _CMP_MASKED_EQ = 1, 7
CLONE_THREAD = 0x00010000
_CLONE_NAMESPACES = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080)
_TIOCSTI, _TIOCLINUX = 0x5412, 0x541C  # push characters into a terminal's input; console tricks

# Always refused (EPERM). Process creation, other processes, namespaces and mounts, kernel
# surfaces that sandboxes disable (bpf, io_uring — whose operations skip seccomp —, keyrings,
# userfaultfd, perf), raising limits, and every socket.
# One line per kind of syscall (fmt: skip keeps them so; the formatter would list one name a line)
DENIED = (
    "fork", "vfork", "execve", "execveat", "socket", "socketpair", "tkill",
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "kcmp",
    "pidfd_open", "pidfd_getfd", "pidfd_send_signal",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "mount_setattr", "move_mount", "open_tree",
    "fsopen", "fsconfig", "fsmount", "fspick", "name_to_handle_at", "open_by_handle_at", "mknod", "mknodat",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "iopl", "ioperm", "swapon", "swapoff", "reboot", "syslog", "acct", "quotactl", "quotactl_fd",
    "setrlimit", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
    "vhangup", "uselib", "memfd_create", "memfd_secret",
)  # fmt: skip

# Metadata changes, refused on every path: Landlock (to ABI 7) has no right for them, seccomp
# cannot read a path, and a uid-0 child without capabilities owns every root file outside (a
# separate uid owns nothing there, so file permissions refuse these too). Programs lose chmod,
# utime and xattrs inside their directory as well (shutil.copy2's copystat fails; copy works).
# One line per kind of change (fmt: skip keeps them so; the formatter would list one name a line)
METADATA = (
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "utime", "utimes", "utimensat", "futimesat",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "setxattrat", "removexattrat",
    "file_setattr",
)  # fmt: skip
# Syscalls newer than the libseccomp a distribution may ship (2.5.4 knows none of these): the
# numbers of the generic table, which every architecture shares from 424 on.
NEWER = {"fchmodat2": 452, "setxattrat": 463, "removexattrat": 466, "file_setattr": 469}
# File attribute ioctls a file's owner may use: chattr flags, project ids, the inode version.
_FS_IOC = (0x40086602, 0x40046602, 0x401C5820, 0x40087602, 0x40047602)  # SETFLAGS(32), FSSETXATTR, SETVERSION(32)


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)  # SCMP_ACT_ERRNO


def seccomp() -> str:
    """Load a filter (default: allow) that refuses DENIED, METADATA, clone without CLONE_THREAD or with a
    namespace flag (threads stay possible), clone3 (ENOSYS: glibc falls back to clone, whose flags
    a filter can read), signals to any other process, prlimit64 that sets a limit, TIOCSTI and
    the file-attribute ioctls.
    Other architectures' syscalls (i386 `int 0x80`, x32) kill the process: libseccomp's default."""
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError as e:
        raise Unavailable(f"seccomp: cannot load libseccomp.so.2 ({e}); {_SECCOMP_HINT}") from None
    lib.seccomp_init.restype, lib.seccomp_init.argtypes = ctypes.c_void_p, [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_load.argtypes = lib.seccomp_release.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(_ACT_ALLOW)
    if not ctx:
        raise Unavailable(f"seccomp: seccomp_init failed; {_SECCOMP_HINT}")
    try:
        eperm = _errno_action(errno.EPERM)
        count = 0
        for name, action, conditions in _rules(os.getpid(), eperm):
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number < 0:
                number = NEWER.get(name, -1)
            if number < 0:
                continue  # not a syscall on this architecture (e.g. fork on aarch64)
            cmps = (_ArgCmp * max(1, len(conditions)))(*[_ArgCmp(*c) for c in conditions])
            rc = lib.seccomp_rule_add_array(ctx, action, number, len(conditions), cmps)
            if rc < 0:
                raise Unavailable(f"seccomp: adding the rule for {name} failed ({os.strerror(-rc)}); {_SECCOMP_HINT}")
            count += 1
        rc = lib.seccomp_load(ctx)
        if rc < 0:
            raise Unavailable(f"seccomp: loading the filter failed ({os.strerror(-rc)}); {_SECCOMP_HINT}")
    finally:
        lib.seccomp_release(ctx)
    return (
        f"{count} rules: no processes, sockets, signals to others, namespaces, mounts, raised limits or "
        "metadata changes (chmod, chown, utime, xattr, chattr)"
    )


def _rules(pid: int, eperm: int) -> list[tuple[str, int, list[tuple[int, int, int, int]]]]:
    """(syscall, action, [(arg, op, a, b), ...]) — the conditions of one rule are ANDed."""
    rules: list[tuple[str, int, list[tuple[int, int, int, int]]]] = [(name, eperm, []) for name in DENIED + METADATA]
    rules.append(("clone3", _errno_action(errno.ENOSYS), []))
    rules.append(("clone", eperm, [(0, _CMP_MASKED_EQ, CLONE_THREAD, 0)]))  # a new process, not a thread
    rules += [("clone", eperm, [(0, _CMP_MASKED_EQ, flag, flag)]) for flag in _CLONE_NAMESPACES]
    for name in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        rules.append((name, eperm, [(0, _CMP_NE, pid, 0)]))  # the first argument is the target process
    rules.append(("prlimit64", eperm, [(2, _CMP_NE, 0, 0)]))  # a new limit (glibc's getrlimit passes NULL)
    # the kernel reads the request as 32 bits: compare those only, or high bits set by a raw syscall slip past
    rules += [
        ("ioctl", eperm, [(1, _CMP_MASKED_EQ, 0xFFFFFFFF, request)]) for request in (_TIOCSTI, _TIOCLINUX, *_FS_IOC)
    ]
    return rules
