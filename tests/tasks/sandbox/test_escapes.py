"""The sandbox escape suite: hostile programs against the real sandbox, each asserting the attack failed.

Every attack runs twice: with the kernel layers (what agentnet uses) and with the audit hook
alone (kernel_layers=(), what a machine without Landlock/seccomp gets), except the few in
KERNEL_ONLY that only a kernel layer stops. The parent's secret is a real environment variable
of a separate parent process, so /proc/<ppid>/environ really holds it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from agentnet.tasks.sandbox import Sandbox
from tests.tasks.sandbox.attacks import KERNEL_ONLY, NETWORK, PROCESSES, SECRETS, SIGNALS_AND_LIMITS, WRITES

pytestmark = pytest.mark.filterwarnings("ignore::agentnet.tasks.sandbox.SandboxContainmentWarning")

REPO = str(Path(__file__).resolve().parents[3])
FULL = Sandbox(timeout_s=10.0, max_concurrency=2)
HOOK_ONLY = Sandbox(timeout_s=10.0, max_concurrency=2, kernel_layers=())
MODES = {"kernel": FULL, "hook-only": HOOK_ONLY}


def cases(attacks: dict[str, str]) -> list:
    return [pytest.param(name, mode, id=f"{name}[{mode}]") for name in attacks for mode in MODES
            if mode == "kernel" or name not in KERNEL_ONLY]  # fmt: skip


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
        assert result.status in ("failed", "crashed") or "PermissionError" in result.stderr, result  # (in a thread: exit 0)


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
    parent = subprocess.run([sys.executable, "-c", _PARENT, json.dumps(SECRETS), layers, sites], env=env,
                            capture_output=True, text=True, timeout=120, cwd=REPO)  # fmt: skip
    assert parent.returncode == 0, parent.stderr
    results = json.loads(parent.stdout)
    assert set(results) == set(SECRETS)
    leaked = [name for name, (_, out, err) in results.items() if secret in out or secret in err]
    assert leaked == []
    assert results["own-environ"][0] == "passed"  # its own (scrubbed) environment is readable, and holds nothing
    assert all(results[n][0] == "failed" for n in SECRETS if n not in ("own-environ", "proc-self-environ", "every-environ"))


async def test_filling_the_disk_is_stopped(tmp_path: Path) -> None:
    sandbox = Sandbox(disk_mb=8, file_size_mb=4, timeout_s=20.0)
    code = "i = 0\nwhile True:\n    open('f%d' % i, 'wb').write(b'x' * 2**21)\n    i += 1"
    result = await sandbox.run_python(code)
    assert result.status == "failed" and "8 MiB disk limit" in result.stderr and result.duration_s < 10


async def test_creating_endless_files_is_stopped() -> None:
    result = await Sandbox(timeout_s=30.0).run_python("import os\ni = 0\nwhile True:\n    open(str(i), 'w')\n    i += 1")
    assert result.status == "failed" and "more than 10000 files" in result.stderr


async def test_a_thread_bomb_ends_within_its_limits() -> None:
    code = "import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()"
    result = await Sandbox(timeout_s=5.0, memory_mb=256).run_python(code)
    assert result.status in ("failed", "timeout", "crashed") and result.duration_s < 8


async def test_a_fork_bomb_ends() -> None:
    result = await FULL.run_python("import os\nwhile True:\n    os.fork()")
    assert result.status == "failed" and result.duration_s < 5


def test_containment_reports_the_kernel_layers_here() -> None:
    """This machine (and CI) offers Landlock and seccomp; the report names what each enforces."""
    report = FULL.containment()
    assert {"landlock", "seccomp"} <= set(report.active), report
    if os.geteuid() == 0:
        assert "uid" in report.active or ("capabilities" in report.active and "uid" in report.missing)
    hook_only = HOOK_ONLY.containment()
    assert set(hook_only.missing) >= {"landlock", "seccomp"} and "landlock" not in hook_only.active
