"""The parent's containment policy: a fresh uid as root, the report, loud fallback, strict mode."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentnet.tasks.sandbox import GUARD_PATH, Sandbox, SandboxConfigError, SandboxContainmentWarning, runner

pytestmark = pytest.mark.filterwarnings("ignore::agentnet.tasks.sandbox.SandboxContainmentWarning")

# An interpreter any uid can run (the project's may sit under /root, which only root may enter).
SYSTEM_PYTHON = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if shutil.which(p)), None)


async def test_a_run_names_its_active_layers() -> None:
    result = await Sandbox().run_python("print('hi')")
    assert result.passed and {"landlock", "seccomp", "audit"} <= set(result.containment)


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid and tmpfs layers need root")
async def test_as_root_every_layer_is_on_with_the_default_interpreter() -> None:
    """This machine image: the venv's python is a pyenv build under /root (mode 700); the child
    then starts from the system python3 of the same version, and every layer holds."""
    result = await Sandbox().run_python("print('hi')")
    assert result.passed and {"uid", "tmpfs", "landlock", "seccomp", "audit"} <= set(result.containment), result
    report = Sandbox().containment()
    assert not report.missing and "a fresh unprivileged user, running /" in report.active["uid"], report


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid layer needs root")
async def test_the_guard_runs_from_a_directory_only_root_may_enter(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clone under /root: the guard starts as root, reads its files, and only then becomes the run's uid."""
    private = tmp_path / "clone"
    private.mkdir(mode=0o700)
    for name in ("guard.py", "confine.py", "audit.py"):
        shutil.copy(Path(GUARD_PATH).with_name(name), private / name)
    monkeypatch.setattr(runner, "GUARD_PATH", str(private / "guard.py"))
    result = await Sandbox().run_python("import os\nprint(os.getuid())")
    assert result.passed and int(result.stdout) >= 0x5A000000 and "uid" in result.containment, result


@pytest.mark.skipif(os.geteuid() != 0 or SYSTEM_PYTHON is None, reason="needs root and a world-readable python3")
def test_an_unreachable_default_interpreter_falls_back_to_the_systems(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "python").symlink_to(os.path.realpath(sys.executable))
    assert SYSTEM_PYTHON is not None
    system = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if system != "%d.%d" % sys.version_info[:2]:
        pytest.skip(f"{SYSTEM_PYTHON} is Python {system}, not this one's version")
    monkeypatch.setattr(sys, "executable", str(private / "python"))
    report = Sandbox().containment()
    assert "uid" in report.active and f"a separate uid cannot run {private / 'python'}" in report.active["uid"], report


@pytest.mark.skipif(os.geteuid() != 0 or SYSTEM_PYTHON is None, reason="needs root and a world-readable python3")
async def test_as_root_the_code_runs_as_a_fresh_uid_without_groups(tmp_path) -> None:
    sandbox = Sandbox(python=SYSTEM_PYTHON)
    code = "import os\nprint(os.getuid(), os.getgid(), os.getgroups(), os.stat('.').st_uid)"
    first, second = await sandbox.run_python(code), await sandbox.run_python(code)
    uid, gid, groups, owner = first.stdout.split(maxsplit=3)
    assert first.passed and int(uid) >= 0x5A000000 and uid == gid == owner.strip() and groups == "[]"
    assert second.stdout.split()[0] != uid  # one uid per run
    assert "uid" in first.containment and "capabilities" not in first.containment  # a non-root uid has none


@pytest.mark.skipif(os.geteuid() != 0, reason="only root changes uid")
def test_an_interpreter_the_uid_cannot_read_falls_back_loudly(tmp_path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    python = private / "python"
    python.symlink_to(os.path.realpath(sys.executable))
    sandbox = Sandbox(python=str(python))
    with pytest.warns(SandboxContainmentWarning, match="uid is off: a separate uid cannot run"):
        sandbox._run("print(1)", True, __import__("threading").Event())
    report = sandbox.containment()
    assert (
        "uid" in report.missing
        and "capabilities" in report.active
        and "interpreter every user can read" in report.missing["uid"]
    )


def test_a_left_out_layer_warns_with_its_name() -> None:
    sandbox = Sandbox(kernel_layers=("capabilities", "seccomp"))
    with pytest.warns(SandboxContainmentWarning, match="landlock is off: left out"):
        result = sandbox._run("print(1)", True, __import__("threading").Event())
    assert result.passed and "landlock" not in result.containment and "seccomp" in result.containment


async def test_strict_refuses_to_run_without_a_layer(tmp_path) -> None:
    marker = "print('the code ran')"
    refused = await Sandbox(strict=True, kernel_layers=("capabilities", "seccomp")).run_python(marker)
    assert refused.status == "error" and "the code ran" not in refused.stdout
    assert "strict containment: missing landlock" in refused.stderr and "audit" not in refused.containment
    assert (
        await Sandbox(strict=True).run_python(marker)
    ).stdout == "the code ran\n"  # every layer here (a uid fallback is fine)


@pytest.mark.parametrize(
    "settings, named",
    [
        ({"disk_mb": 0}, "disk_mb=0"),
        ({"uid": -1}, "uid=-1"),
        ({"kernel_layers": ("apparmor",)}, "kernel_layers="),
        ({"max_open_files": 3}, "max_open_files=3"),
        ({"python": ""}, "python=''"),
        ({"audit_hook": 0}, "audit_hook=0"),
    ],
)
def test_bad_containment_settings_are_config_errors(settings: dict, named: str) -> None:
    with pytest.raises(SandboxConfigError, match=named):
        Sandbox(**settings)


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_killed_evaluator_takes_its_sleeping_child_along() -> None:
    program = "import time\nprint('started', flush=True)\ntime.sleep(60)"
    evaluator = subprocess.Popen(
        [
            sys.executable,
            "-W",
            "ignore",
            "-c",
            f"import asyncio\nfrom agentnet.tasks.sandbox import Sandbox\nasyncio.run(Sandbox(timeout_s=60).run_python({program!r}))",
        ],
        start_new_session=True,
    )
    children: list[int] = []
    for _ in range(200):
        time.sleep(0.05)
        if children := _children_of(evaluator.pid):
            break
    assert len(children) == 1
    time.sleep(0.5)  # past the guard's start-up
    evaluator.kill()
    evaluator.wait()
    for _ in range(40):
        if not _alive(children[0]):
            break
        time.sleep(0.05)
    assert not _alive(children[0])  # without PR_SET_PDEATHSIG it would sleep on for a minute
