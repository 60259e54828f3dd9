"""The sandbox escape suite: hostile programs against the real sandbox, each asserting the attack failed.

Every attack runs twice: with the kernel layers (what agentnet uses) and with the audit hook
alone (kernel_layers=(), what a machine without Landlock/seccomp gets), except the few in
KERNEL_ONLY that only a kernel layer stops. The parent's secret is a real environment variable
of a separate parent process, so /proc/<ppid>/environ really holds it. Metadata changes (chmod,
chown, utime, xattr, chattr) run with the audit hook off: the kernel layers alone refuse them.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from agentnet.tasks.sandbox import Sandbox
from tests.tasks.sandbox.attacks import (
    KERNEL_ONLY,
    METADATA,
    METADATA_BY_FD,
    METADATA_X86_64,
    NETWORK,
    PROCESSES,
    SECRETS,
    SIGNALS_AND_LIMITS,
    WRITES,
)

pytestmark = pytest.mark.filterwarnings("ignore::agentnet.tasks.sandbox.SandboxContainmentWarning")

REPO = str(Path(__file__).resolve().parents[3])
FULL = Sandbox(timeout_s=10.0, max_concurrency=2)
HOOK_ONLY = Sandbox(timeout_s=10.0, max_concurrency=2, kernel_layers=())
MODES = {"kernel": FULL, "hook-only": HOOK_ONLY}
# The audit hook off, as if crafted bytecode had switched it off: the kernel layers alone. As uid 0
# (no capabilities) the child owns the victim, so only seccomp stands in the way; a fresh uid
# owns nothing outside. Without seccomp (the control) every attack must really work.
KERNEL_ALONE = {
    "uid-0": Sandbox(uid=0, audit_hook=False, max_concurrency=2),
    "fresh-uid": Sandbox(audit_hook=False, max_concurrency=2),
}
NO_SECCOMP = Sandbox(uid=0, audit_hook=False, max_concurrency=2, kernel_layers=("capabilities", "tmpfs", "landlock"))
OUTSIDE_METADATA = {**METADATA, **(METADATA_X86_64 if platform.machine() == "x86_64" else {})}


def cases(attacks: dict[str, str]) -> list:
    return [
        pytest.param(name, mode, id=f"{name}[{mode}]")
        for name in attacks
        for mode in MODES
        if mode == "kernel" or name not in KERNEL_ONLY
    ]


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "keep.txt"
    path.write_text("keep")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("name, mode", cases(WRITES))
async def test_writes_outside_fail(name: str, mode: str, tmp_path: Path, victim: Path) -> None:
    target = tmp_path / f"escaped-{uuid.uuid4().hex}"
    code = WRITES[name].format(target=str(target), victim=str(victim), repo=REPO)
    result = await MODES[mode].run_python(code)
    assert "ESCAPED" not in result.stdout, result.stderr
    assert not target.exists() and result.status == "failed", result.stderr
    assert victim.read_text() == "keep" and victim.stat().st_mode & 0o777 == 0o600 and victim.stat().st_nlink == 1


@pytest.mark.parametrize("name, mode", cases({**PROCESSES, **NETWORK, **SIGNALS_AND_LIMITS}))
async def test_processes_network_signals_and_foreign_code_fail(name: str, mode: str) -> None:
    code = {**PROCESSES, **NETWORK, **SIGNALS_AND_LIMITS}[name].format(repo=REPO)
    result = await MODES[mode].run_python(code)
    assert "ESCAPED" not in result.stdout, result.stderr
    if name == "ctypes-classes-left-in-memory":  # finds nothing to call: the search ran over all classes
        assert result.passed and int(result.stdout) > 100, result
    else:
        assert result.status in ("failed", "crashed") or "PermissionError" in result.stderr, (
            result
        )  # (in a thread: exit 0)


_PARENT = """
import asyncio, json, os, site, sys
for path in json.loads(sys.argv[3]):  # this test's site-packages, also when its python is not the venv's
    site.addsitedir(path)
from agentnet.tasks.sandbox import Sandbox
secret = os.environ["AGENTNET_TEST_SECRET"].encode()
assert secret in open("/proc/self/environ", "rb").read()  # the attack has something to find
sandbox = Sandbox(max_concurrency=2, kernel_layers=tuple(json.loads(sys.argv[2])))
async def main():
    attacks = json.loads(sys.argv[1])
    results = await asyncio.gather(*(sandbox.run_python(code) for code in attacks.values()))
    print(json.dumps({name: [r.status, r.stdout, r.stderr] for name, r in zip(attacks, results)}))
asyncio.run(main())
"""


@pytest.mark.parametrize("mode", MODES)
def test_the_parents_secrets_stay_secret(mode: str) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    env = {**os.environ, "AGENTNET_TEST_SECRET": secret, "PYTHONWARNINGS": "ignore"}
    layers = json.dumps(list(MODES[mode].kernel_layers))
    sites = json.dumps([p for p in sys.path if p.endswith("site-packages")])
    parent = subprocess.run(
        [sys.executable, "-c", _PARENT, json.dumps(SECRETS), layers, sites],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert parent.returncode == 0, parent.stderr
    results = json.loads(parent.stdout)
    assert set(results) == set(SECRETS)
    leaked = [name for name, (_, out, err) in results.items() if secret in out or secret in err]
    assert leaked == []
    assert results["own-environ"][0] == "passed"  # its own (scrubbed) environment is readable, and holds nothing
    assert all(
        results[n][0] == "failed" for n in SECRETS if n not in ("own-environ", "proc-self-environ", "every-environ")
    )


@pytest.fixture
def meta_victim(tmp_path: Path) -> Path:
    path = tmp_path / "meta.txt"
    path.write_text("keep")
    path.chmod(0o600)
    try:
        os.setxattr(path, "user.keep", b"1")
    except OSError:  # no user xattrs on this file system: the xattr cases still must change nothing
        pass
    os.utime(path, ns=(10**18, 10**18))  # 2001: a change to "now" or to 1970 shows
    return path


def snapshot(path: Path) -> tuple:
    st = os.stat(path)  # ctime moves with any metadata change, even chown to the same owner
    return st.st_mode, st.st_uid, st.st_gid, st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns, sorted(os.listxattr(path))


@pytest.mark.parametrize("name", OUTSIDE_METADATA)
@pytest.mark.parametrize("mode", KERNEL_ALONE)
async def test_metadata_of_outside_files_is_refused_by_the_kernel_alone(
    name: str, mode: str, meta_victim: Path
) -> None:
    before = snapshot(meta_victim)
    result = await KERNEL_ALONE[mode].run_python(OUTSIDE_METADATA[name].format(victim=str(meta_victim)))
    assert "ESCAPED" not in result.stdout and result.status == "failed", result
    assert "audit" not in result.containment and "seccomp" in result.containment
    assert snapshot(meta_victim) == before


@pytest.mark.parametrize("name", METADATA_BY_FD)
@pytest.mark.parametrize("mode", KERNEL_ALONE)
async def test_metadata_calls_on_descriptors_are_refused_by_seccomp(name: str, mode: str) -> None:
    result = await KERNEL_ALONE[mode].run_python(METADATA_BY_FD[name].format())
    assert "ESCAPED" not in result.stdout and result.status == "failed", result
    assert "[Errno 1] Operation not permitted" in result.stderr, result.stderr


def _unless_the_kernel_lacks(name: str, stderr: str) -> None:
    if "[Errno 38]" in stderr or "[Errno 95]" in stderr:  # ENOSYS: a syscall newer than this kernel; ENOTSUP
        pytest.skip(f"{name}: not available on this kernel or file system ({stderr.strip().splitlines()[-1]})")


@pytest.mark.parametrize("name", OUTSIDE_METADATA)
async def test_without_seccomp_the_metadata_attacks_work(name: str, meta_victim: Path) -> None:
    """The control: each attack above is real, and seccomp is what stops it for uid 0."""
    before = snapshot(meta_victim)
    result = await NO_SECCOMP.run_python(OUTSIDE_METADATA[name].format(victim=str(meta_victim)))
    _unless_the_kernel_lacks(name, result.stderr)
    assert "ESCAPED" in result.stdout and snapshot(meta_victim) != before, result


@pytest.mark.parametrize("name", METADATA_BY_FD)
async def test_without_seccomp_the_descriptor_calls_work(name: str) -> None:
    result = await NO_SECCOMP.run_python(METADATA_BY_FD[name].format())
    _unless_the_kernel_lacks(name, result.stderr)
    assert "ESCAPED" in result.stdout, result


# Open a file, unlink it, write `per_file` MiB into it (or up to RLIMIT_FSIZE) and keep it open;
# again until an OSError; print the bytes held and its errno, then hold them `hold_s` seconds.
_HOLD = """
import errno, os, time
held, files = 0, []
try:
    while True:
        f = open("f%d" % len(files), "wb", buffering=0)
        os.unlink(f.name)
        files.append(f)
        for _ in range({per_file}):
            try:
                held += f.write(b"x" * 2**20)
            except OSError as e:
                if e.errno != errno.EFBIG:
                    raise
                break  # RLIMIT_FSIZE: on to the next file
        time.sleep({pause})
except OSError as e:
    print(held, e.errno, flush=True)
time.sleep({hold_s})
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the run's tmpfs needs root")
async def test_unlinked_but_open_files_count_against_the_tmpfs() -> None:
    result = await Sandbox(disk_mb=16, file_size_mb=4).run_python(_HOLD.format(per_file=2, pause=0, hold_s=0))
    held, code = map(int, result.stdout.split())
    assert "tmpfs" in result.containment and result.passed, result
    assert code == 28 and 14 * 2**20 <= held <= 16 * 2**20  # ENOSPC at the tmpfs's size


async def test_without_the_tmpfs_open_files_times_file_size_bound_what_is_held() -> None:
    sandbox = Sandbox(
        disk_mb=1024, file_size_mb=2, max_open_files=16, kernel_layers=("capabilities", "landlock", "seccomp")
    )
    result = await sandbox.run_python(_HOLD.format(per_file=3, pause=0, hold_s=0))
    held, errno = map(int, result.stdout.split())
    assert "tmpfs" not in result.containment and result.passed, result
    assert errno == 24 and held <= 16 * 2 * 2**20  # EMFILE: at most 16 files of 2 MiB (EFBIG past that)


async def test_without_the_tmpfs_the_parent_counts_unlinked_open_files() -> None:
    sandbox = Sandbox(disk_mb=8, file_size_mb=4, timeout_s=20.0, kernel_layers=("capabilities", "landlock", "seccomp"))
    result = await sandbox.run_python(_HOLD.format(per_file=2, pause=0.01, hold_s=30))
    assert result.status == "failed" and "8 MiB disk limit" in result.stderr, result


async def test_filling_the_disk_is_stopped() -> None:
    code = "i = 0\nwhile True:\n    open('f%d' % i, 'wb').write(b'x' * 2**21)\n    i += 1"
    result = await Sandbox(disk_mb=8, file_size_mb=4, timeout_s=20.0).run_python(code)
    assert result.status == "failed", result
    if "tmpfs" in result.containment:  # the kernel refuses the write
        assert "OSError: [Errno 28] No space left on device" in result.stderr
    else:  # the parent's watch kills the run
        assert "8 MiB disk limit" in result.stderr


async def test_creating_endless_files_is_stopped() -> None:
    code = "import os\ni = 0\ntry:\n    while True:\n        open(str(i), 'w').close()\n        i += 1\nexcept OSError as e:\n    print(i, e.errno)"
    result = await Sandbox(timeout_s=30.0).run_python(code)
    if "tmpfs" in result.containment:  # the kernel refuses the 10,001st file
        assert result.passed and result.stdout.split() == ["10000", "28"], result
    else:
        assert result.status == "failed" and "more than 10000 files" in result.stderr


async def test_the_open_file_limit_is_low() -> None:
    code = (
        "import resource\nprint(*resource.getrlimit(resource.RLIMIT_NOFILE))\nfiles = []\ntry:\n"
        "    while True:\n        files.append(open('solution.py'))\nexcept OSError as e:\n    print(len(files), e.errno)"
    )
    default, low = await FULL.run_python(code), await Sandbox(max_open_files=20).run_python(code)
    assert default.stdout.splitlines()[0] == "64 64" and low.stdout.splitlines()[0] == "20 20"
    opened, errno = map(int, low.stdout.splitlines()[1].split())
    assert 10 <= opened < 20 and errno == 24  # EMFILE; Python holds the rest


async def test_a_thread_bomb_ends_within_its_limits() -> None:
    code = (
        "import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()"
    )
    result = await Sandbox(timeout_s=5.0, memory_mb=256).run_python(code)
    assert result.status in ("failed", "timeout", "crashed")


async def test_a_fork_bomb_ends() -> None:
    result = await FULL.run_python("import os\nwhile True:\n    os.fork()")
    assert result.status == "failed" and "PermissionError" in result.stderr


def test_containment_reports_the_kernel_layers_here() -> None:
    """This machine (and CI) offers Landlock and seccomp; the report names what each enforces."""
    report = FULL.containment()
    assert {"landlock", "seccomp"} <= set(report.active), report
    if os.geteuid() == 0:  # this image: the venv's python is under /root, the system's of the same version runs
        assert {"uid", "tmpfs"} <= set(report.active) and not report.missing, report
    hook_only = HOOK_ONLY.containment()
    assert set(hook_only.missing) >= {"landlock", "seccomp"} and "landlock" not in hook_only.active
