"""The kernel layers' pure parts in-process (applying them is irreversible: see test_escapes.py)."""

from __future__ import annotations

import ctypes
import os

import pytest

from agentnet.tasks.sandbox import confine


def test_handled_rights_grow_with_the_landlock_abi() -> None:
    assert confine.handled_fs(1) == 0x1FFF
    assert confine.handled_fs(2) == 0x1FFF | confine.FS_REFER
    assert confine.handled_fs(4) == confine.handled_fs(3) == 0x1FFF | confine.FS_REFER | confine.FS_TRUNCATE
    assert confine.handled_fs(7) == confine.handled_fs(3) | confine.FS_IOCTL_DEV


def test_seccomp_rules_keep_threads_and_self_signals() -> None:
    rules = confine._rules(4242, 1)
    by_name: dict[str, list] = {}
    for name, action, conditions in rules:
        by_name.setdefault(name, []).append((action, conditions))
    assert by_name["clone"][0] == (1, [(0, 7, confine.CLONE_THREAD, 0)])  # refused only without CLONE_THREAD
    assert len(by_name["clone"]) == 1 + 8  # and with any namespace flag
    assert by_name["clone3"] == [(0x00050000 | 38, [])]  # ENOSYS: glibc falls back to clone
    for name in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        assert by_name[name] == [(1, [(0, 1, 4242, 0)])]  # refused unless aimed at itself
    assert by_name["prlimit64"] == [(1, [(2, 1, 0, 0)])]  # reading a limit passes NULL
    assert {"execve", "fork", "socket", "ptrace", "io_uring_setup", "bpf", "unshare", "mount"} <= set(by_name)


def test_every_syscall_name_is_known_to_libseccomp() -> None:
    try:
        lib = ctypes.CDLL("libseccomp.so.2")
    except OSError:
        pytest.skip("libseccomp.so.2 is not installed (apt-get install libseccomp2)")
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    names = {name for name, _, _ in confine._rules(1, 1)}
    unknown = [n for n in sorted(names) if lib.seccomp_syscall_resolve_name(n.encode()) < 0]
    assert set(unknown) <= set(confine.NEWER)  # no typos; newer than this libseccomp: added by number


def test_landlock_abi_is_reported_or_unavailable_with_a_hint() -> None:
    try:
        assert confine.landlock_abi() >= 1
    except confine.Unavailable as e:
        assert "CONFIG_SECURITY_LANDLOCK" in str(e)


def test_effective_capabilities_reads_this_process() -> None:
    caps = confine.effective_capabilities()
    assert (caps > 0) == (os.geteuid() == 0)


def test_metadata_calls_are_refused_on_every_path() -> None:
    rules = confine._rules(4242, 1)
    unconditional = {name for name, action, conditions in rules if action == 1 and not conditions}
    for family in (
        ["chmod", "fchmod", "fchmodat", "fchmodat2"],
        ["chown", "fchown", "lchown", "fchownat"],
        ["utime", "utimes", "utimensat", "futimesat"],
        ["setxattr", "lsetxattr", "fsetxattr", "setxattrat"],
        ["removexattr", "lremovexattr", "fremovexattr", "removexattrat"],
    ):
        assert set(family) <= unconditional, family
    ioctls = [conditions for name, _, conditions in rules if name == "ioctl"]
    assert [(1, 7, 0xFFFFFFFF, 0x40086602)] in ioctls  # FS_IOC_SETFLAGS, on the 32 bits the kernel reads
    assert all(c[0][1:3] == (7, 0xFFFFFFFF) for c in ioctls)


def test_newer_syscalls_have_the_generic_tables_numbers() -> None:
    assert confine.NEWER == {"fchmodat2": 452, "setxattrat": 463, "removexattrat": 466, "file_setattr": 469}
