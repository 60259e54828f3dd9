from __future__ import annotations

import asyncio
import json
import os
import signal
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from agentnet.tasks.sandbox import GUARD_PATH, Sandbox, SandboxConfigError, run_python


def outside_path() -> Path:
    return Path(tempfile.gettempdir()) / f"outside_{uuid.uuid4().hex}"


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_passing_code_prints_and_exits_zero() -> None:
    result = await run_python(
        "import hashlib, json, math\nprint(json.dumps([math.gcd(12, 18), hashlib.md5(b'').hexdigest()]))"
    )
    assert result.status == "passed" and result.passed and result.returncode == 0
    assert json.loads(result.stdout) == [6, "d41d8cd98f00b204e9800998ecf8427e"] and result.stderr == ""
    assert result.duration_s > 0


async def test_failing_assert_is_failed_with_a_traceback_into_the_code() -> None:
    result = await run_python("def f():\n    return 1\nassert f() == 2, 'f is wrong'\n")
    assert result.status == "failed" and not result.passed and result.returncode == 1
    assert 'File "solution.py", line 3' in result.stderr and "AssertionError: f is wrong" in result.stderr
    assert GUARD_PATH not in result.stderr  # the guard's own frames are dropped


async def test_syntax_error_and_sys_exit() -> None:
    broken = await run_python("def f(:\n    pass\n")
    assert (
        broken.status == "failed" and 'File "solution.py", line 1' in broken.stderr and "SyntaxError" in broken.stderr
    )
    exited = await run_python("import sys\nsys.exit(3)")
    assert exited.status == "failed" and exited.returncode == 3


async def test_infinite_loop_times_out_and_its_process_group_is_gone() -> None:
    result = await run_python("import os\nprint(os.getpid(), flush=True)\nwhile True:\n    pass\n", timeout_s=1.0)
    assert result.status == "timeout" and result.returncode == -signal.SIGKILL
    assert result.duration_s >= 1.0  # (how soon after the limit it ends is a benchmark's business)
    assert "1 s wall-clock limit" in result.stderr
    pid = int(result.stdout.split()[0])  # printed before the loop: partial output survives a kill
    assert gone(pid)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the session's group (pgid == pid) has no member left


async def test_cpu_limit_ends_a_busy_loop_as_timeout() -> None:
    result = await run_python("while True:\n    pass\n", timeout_s=20.0, cpu_s=1)
    assert result.status == "timeout" and result.returncode == -signal.SIGXCPU
    assert "1 s CPU limit" in result.stderr


async def test_a_crash_is_reported_not_raised() -> None:
    result = await run_python("import os\nos.abort()")
    assert result.status == "crashed" and result.returncode == -signal.SIGABRT and "SIGABRT" in result.stderr


@pytest.mark.parametrize(
    "code",
    [
        "import os\nos.fork()",
        "import os\nwhile True:\n    os.fork()",  # a fork bomb
        "import subprocess\nsubprocess.run(['echo', 'hi'])",
        "import os\nos.system('echo hi')",
        "import os\nos.execv('/bin/echo', ['echo', 'hi'])",
        "import os\nos.posix_spawn('/bin/echo', ['echo', 'hi'], {})",
        "import multiprocessing\nmultiprocessing.Process(target=print).start()",
        "import _posixsubprocess\n_posixsubprocess.fork_exec()",  # below subprocess: no audit event, replaced
    ],
)
async def test_starting_processes_is_blocked(code: str) -> None:
    result = await run_python(code)
    assert result.status == "failed" and "PermissionError: sandbox:" in result.stderr
    assert "hi" not in result.stdout


@pytest.mark.parametrize(
    "code",
    [
        "import socket\nsocket.socket()",
        "import _socket\n_socket.socket()",  # the C class under the stub: the audit hook
        "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)",
        "import socket\nsocket.getaddrinfo('localhost', 80)",
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9', timeout=1)",
    ],
)
async def test_network_is_blocked(code: str) -> None:
    result = await run_python(code)
    assert result.status == "failed"
    assert "PermissionError: sandbox: network access is blocked" in result.stderr


async def test_urlopen_sees_a_permission_error() -> None:
    code = (
        "import urllib.error, urllib.request\n"
        "try:\n    urllib.request.urlopen('http://127.0.0.1:9', timeout=1)\n"
        "except urllib.error.URLError as e:\n    print(type(e.reason).__name__)\n"
    )
    assert (await run_python(code)).stdout == "PermissionError\n"


@pytest.mark.parametrize(
    "template",
    [
        "open({path!r}, 'w').write('x')",
        "open({path!r}, 'a').write('x')",
        "import pathlib\npathlib.Path({path!r}).write_text('x')",
        "import os\nos.close(os.open({path!r}, os.O_WRONLY | os.O_CREAT))",
        "import os\nos.mkdir({path!r})",
        "import os\nos.mkfifo({path!r})",  # no audit event: replaced
        "import os\nopen('mine', 'w').write('x')\nos.rename('mine', {path!r})",
        "import shutil\nopen('mine', 'w').write('x')\nshutil.copy('mine', {path!r})",
        "import os\nos.chdir('/')\nopen({path!r}, 'w')",
        "import os\nd = os.open('.', os.O_RDONLY)\nos.open('../' + os.path.basename({path!r}), os.O_WRONLY | os.O_CREAT, dir_fd=d)",
        "import os\nopen('/proc/self/cwd/../' + os.path.basename({path!r}), 'w')",
        "import os\nos.symlink({path!r}, 'link')\nopen('link', 'w')",
    ],
)
async def test_writing_outside_the_run_directory_is_blocked(template: str) -> None:
    path = outside_path()
    result = await run_python(template.format(path=str(path)))
    assert result.status == "failed" and "PermissionError: sandbox:" in result.stderr
    assert not path.exists()


@pytest.mark.parametrize(
    "template",
    [
        "import os\nos.remove({path!r})",
        "open({path!r}, 'w').write('overwritten')",
        "import os\nos.truncate({path!r}, 0)",
        "import os\nos.chmod({path!r}, 0o777)",
        "import os\nfd = os.open({path!r}, os.O_RDONLY)\nos.chmod(fd, 0o777)",
        "import shutil\nshutil.rmtree({parent!r})",
    ],
)
async def test_existing_files_outside_cannot_be_changed(tmp_path: Path, template: str) -> None:
    victim = tmp_path / "keep.txt"
    victim.write_text("keep")
    victim.chmod(0o600)
    result = await run_python(template.format(path=str(victim), parent=str(tmp_path)))
    assert result.status == "failed" and "PermissionError: sandbox:" in result.stderr
    assert victim.read_text() == "keep" and victim.stat().st_mode & 0o777 == 0o600


async def test_writing_inside_the_run_directory_is_allowed() -> None:
    code = (
        "import os, pathlib, shutil, tempfile\n"
        "open('a.txt', 'w').write('one')\n"
        "os.makedirs('d/e')\n"
        "pathlib.Path('d/e/b.txt').write_text('two')\n"
        "fd, name = tempfile.mkstemp()\n"
        "os.write(fd, b'three'); os.close(fd)\n"
        "print(open('a.txt').read(), open('d/e/b.txt').read(), open(name).read(), name.startswith(os.getcwd()))\n"
        "shutil.rmtree('d'); os.remove('a.txt'); os.remove(name)\n"
        "print(sorted(os.listdir('.')))\n"
    )
    result = await run_python(code)
    assert result.status == "passed", result.stderr
    assert result.stdout.splitlines() == ["one two three True", "['solution.py']"]  # the guard runs from the package


async def test_reading_outside_the_stdlib_is_not_allowed_nor_is_ctypes() -> None:
    read = await run_python("print(len(open('/etc/passwd').read()) > 0)")  # allowed before kernel containment
    assert read.status == "failed" and "PermissionError: sandbox: reading '/etc/passwd' is blocked" in read.stderr
    blocked = await run_python("import ctypes")
    assert blocked.status == "failed" and "ImportError: sandbox: importing ctypes is blocked" in blocked.stderr


async def test_memory_hog_fails_in_the_child_only() -> None:
    result = await run_python("x = bytearray(4 * 1024**3)\nprint('allocated')", memory_mb=512)
    assert result.status in ("failed", "crashed") and "allocated" not in result.stdout
    assert "MemoryError" in result.stderr
    assert (await run_python("print('still fine')")).stdout == "still fine\n"  # and so is this process


async def test_huge_output_is_truncated_keeping_both_ends() -> None:
    code = "import sys\nprint('start')\nfor _ in range(100):\n    sys.stdout.write('x' * 100_000)\nprint()\nprint('the end')"
    result = await run_python(code, max_output_bytes=1000)
    assert result.status == "passed"
    assert (
        len(result.stdout) < 1100 and result.stdout.startswith("start\nxxx") and result.stdout.endswith("x\nthe end\n")
    )
    assert "bytes omitted ...]" in result.stdout


async def test_environment_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTNET_SANDBOX_SECRET", "do-not-leak")
    result = await run_python("import json, os, sys\nprint(json.dumps(dict(os.environ)))\nprint(sys.flags.no_site)")
    env_line, no_site = result.stdout.splitlines()
    env = json.loads(env_line)
    assert set(env) == {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED"}
    assert "do-not-leak" not in result.stdout and env["PYTHONHASHSEED"] == "0" and env["HOME"] == env["TMPDIR"]
    assert no_site == "1"


async def test_hash_seed_is_fixed_and_main_is_optional() -> None:
    code = "print(hash('agentnet'))\nif __name__ == '__main__':\n    print('main')"
    first, second = await asyncio.gather(run_python(code), run_python(code))
    assert first.stdout == second.stdout and first.stdout.endswith("main\n")
    as_module = await Sandbox().run_python(code, main=False)
    assert as_module.stdout == first.stdout.replace("main\n", "")


async def test_concurrent_runs_are_bounded_by_the_sandbox() -> None:
    sandbox = Sandbox(max_concurrency=2)
    code = "import time\nstart = time.time()\ntime.sleep(0.3)\nprint(start, time.time())"
    started = time.monotonic()
    results = await asyncio.gather(*(sandbox.run_python(code) for _ in range(6)))
    assert all(r.passed for r in results)
    spans = [tuple(map(float, r.stdout.split())) for r in results]
    overlap = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert 1 <= overlap <= 2 and time.monotonic() - started >= 0.9  # three waves of 0.3 s


async def test_unbounded_runs_go_at_once() -> None:
    """Four runs of the module-level function (a fresh Sandbox each) are all asleep at one moment."""
    code = "import time\nstart = time.time()\ntime.sleep(2.0)\nprint(start, time.time())"
    results = await asyncio.gather(*(run_python(code) for _ in range(4)))
    assert all(r.passed for r in results)
    spans = [tuple(map(float, r.stdout.split())) for r in results]
    assert max(s for s, _ in spans) < min(e for _, e in spans)  # the last to start began before the first ended


def test_one_sandbox_serves_several_event_loops() -> None:
    sandbox = Sandbox(max_concurrency=1)
    for _ in range(2):  # a semaphore bound to the first loop would fail in the second
        assert asyncio.run(sandbox.run_python("print(1)")).stdout == "1\n"


def _sandbox_children() -> list[int]:
    children = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and GUARD_PATH.encode() in cmdline:
            children.append(int(pid))
    return children


async def test_cancelling_a_run_kills_it() -> None:
    run = asyncio.ensure_future(run_python("import time\ntime.sleep(60)", timeout_s=60))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if children := _sandbox_children():
            break
    assert len(children) == 1
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    for _ in range(40):
        if gone(children[0]):
            break
        await asyncio.sleep(0.05)
    assert gone(children[0])


async def test_without_pidfd_exits_and_timeouts_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agentnet.tasks.sandbox.process._pidfd", lambda pid: None)  # kernels before 5.3
    assert (await run_python("print('ok')")).stdout == "ok\n"
    assert (
        await run_python("import os\nos.close(1)\nos.close(2)\nwhile True:\n    pass", timeout_s=0.5)
    ).status == "timeout"


async def test_the_sandbox_itself_failing_is_an_error_result() -> None:
    result = await Sandbox(python="/nonexistent/python3").run_python("print(1)")
    assert result.status == "error" and result.returncode is None and "/nonexistent/python3" in result.stderr


@pytest.mark.parametrize(
    "limits, named",
    [
        ({"timeout_s": 0}, "timeout_s=0"),
        ({"timeout_s": float("inf")}, "timeout_s=inf"),
        ({"memory_mb": 10}, "memory_mb=10 must be an integer of at least 64"),
        ({"cpu_s": 1.5}, "cpu_s=1.5"),
        ({"max_concurrency": 0}, "max_concurrency=0"),
    ],
)
def test_impossible_limits_are_config_errors(limits: dict[str, float], named: str) -> None:
    with pytest.raises(SandboxConfigError, match=named.replace(".", r"\.")):
        Sandbox(**limits)
