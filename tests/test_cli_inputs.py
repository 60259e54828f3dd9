"""Bad input on the command line: one line, exit 2, nothing created — for every float option of
every command (generated from the app, so a new option is covered the day it is added), huge and
zero ints, output directories that cannot be one; and a run never left "running"."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import typing
from typing import Any

import pytest
import typer
import typer.core
import typer.testing
from typer.testing import CliRunner

from agentnet.cli import app
from agentnet.store import RunStore
from tests.agentnet.viewer.runs import make_store

runner = CliRunner()


def _commands(group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out = []
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            out += _commands(cmd, (*prefix, name))
        else:
            out.append(((*prefix, name), cmd))
    return out


def _is_float(param) -> bool:
    annotation = param.type_descriptor.annotation
    return float in (annotation, *typing.get_args(annotation))


# (Typer 0.29 carries its own click: parameters are recognised by Typer's classes)
COMMANDS = _commands(typer.main.get_command(app))
FLOAT_OPTIONS = [
    (path, cmd, opt)
    for path, cmd in COMMANDS
    for opt in cmd.params
    if isinstance(opt, typer.core.TyperOption) and _is_float(opt) and not opt.hidden
]


def _args(path: tuple[str, ...], cmd) -> list[str]:
    """The command with a placeholder for each required argument."""
    required = [p for p in cmd.params if isinstance(p, typer.core.TyperArgument) and p.required]
    return [*path, *("x" for _ in required)]


def one_line_exit_2(result, *expected: str) -> None:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for text in expected:
        assert text in lines[0], result.output


def test_there_are_float_options_to_check() -> None:
    flags = {opt.opts[0] for _, _, opt in FLOAT_OPTIONS}
    assert {"--timeout", "--temperature", "--prompt-price", "--lambda-tokens", "--lr"} <= flags
    assert len(FLOAT_OPTIONS) >= 60


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_every_float_option_of_every_command_refuses_non_finite_values(value, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    built = typer.main.get_command(app)
    monkeypatch.setattr(typer.testing, "_get_command", lambda _: built)  # built once: 7 ms an invocation, not 90
    for path, cmd, opt in FLOAT_OPTIONS:
        flag = opt.opts[0]
        result = runner.invoke(app, [*_args(path, cmd), flag, value])
        one_line_exit_2(result, f"{flag} {value.replace('inf', 'inf')}", "is not a finite number")
    assert list(tmp_path.iterdir()) == []  # no store, report, model or run folder was made


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "gsm8k", "--timeout", "0"], "--timeout 0.0 must be above 0"),
        (["bench", "gsm8k", "--timeout", "-1"], "--timeout -1.0 must be above 0"),
        (["bench", "gsm8k", "--timeout", "nan"], "--timeout nan is not a finite number"),
        (["run", "q", "--timeout", "0"], "--timeout 0.0 must be above 0"),
        (["bench", "gsm8k", "--limit", str(10**30)], "--limit 10000000…(31 digits) does not fit in 64 bits"),
        (["bench", "gsm8k", "--concurrency", str(2**63)], "--concurrency 9223372036854775808 does not fit in 64 bits"),
        (["bench", "gsm8k", "--max-tokens", "0"], "--max-tokens 0 is out of range: it must be at least 1"),
        (
            ["bench", "gsm8k", "--max-tokens", str(10**7)],
            "--max-tokens 10000000 is out of range: it must be at least 1 and at most 1,000,000",
        ),
        (["bench", "gsm8k", "--seed", str(-(2**63) - 1)], "does not fit in 64 bits"),
        (["report", "x", "--prompt-price", "-1"], "--prompt-price -1.0 must be at least 0"),
        (["report", "x", "--completion-price", "nan"], "--completion-price nan is not a finite number"),
        (["train", "gdesigner", "--lambda-tokens", "nan"], "--lambda-tokens nan is not a finite number"),
        (["train", "gdesigner", "--lambda-tokens", "-1"], "--lambda-tokens -1.0 must be at least 0"),
        (["train", "gdesigner", "--token-scale", "0"], "token_scale=0.0 must be positive"),
        (["train", "commformer", "--edge-lr", "0"], "edge_lr=0.0 must be positive"),
        (["train", "gptswarm", "--init-prob", "1"], "--init-prob 1.0 is out of range: it must be above 0 and below 1"),
        (["optimize", "--optimizer-temperature", "3"], "is out of range: it must be at least 0 and at most 2"),
    ],
)
def test_bad_numbers_are_one_line_before_anything_exists(args, message, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    one_line_exit_2(runner.invoke(app, args), message)
    assert list(tmp_path.iterdir()) == []  # `bench --timeout 0` used to leave agentnet_runs.sqlite with a run "running"


# -- output options ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("outputs") / "runs.sqlite"
    ids = make_store(path)
    return path, ids["attacked"]


@pytest.mark.parametrize("command", ["show", "report"])
def test_an_existing_file_as_out_is_one_line_and_stays_as_it_was(command, stored, tmp_path) -> None:
    path, run = stored
    target = tmp_path / "taken.txt"
    target.write_text("mine")
    result = runner.invoke(app, [command, run, "--store", str(path), "--out", str(target)])
    one_line_exit_2(result, f"--out {target} is a file, not a directory")
    assert target.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["taken.txt"]


@pytest.mark.parametrize("command", ["show", "report"])
def test_a_path_under_a_file_is_one_line(command, stored, tmp_path) -> None:
    path, run = stored
    (tmp_path / "file").write_text("x")
    result = runner.invoke(app, [command, run, "--store", str(path), "--out", str(tmp_path / "file" / "sub")])
    one_line_exit_2(result, "is a file, so no directory can be made under it")


@pytest.mark.parametrize("command", ["show", "report"])
@pytest.mark.parametrize("where", ["/proc/x", "/sys/agentnet-report"])
def test_a_special_filesystem_as_out_is_one_line(command, where, stored) -> None:
    path, run = stored
    result = runner.invoke(app, [command, run, "--store", str(path), "--out", where])
    one_line_exit_2(result, f"--out {where} is on the ", "filesystem, which holds no output")
    assert not Path(where).exists()


def test_an_unwritable_directory_is_one_line_and_leaves_nothing(stored, tmp_path, monkeypatch) -> None:
    import tempfile

    path, run = stored

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", refused)  # root ignores directory modes; the refusal is what matters
    result = runner.invoke(app, ["report", run, "--store", str(path), "--out", str(tmp_path / "r")])
    one_line_exit_2(result, f"--out {tmp_path / 'r'}: cannot write under {tmp_path} (Permission denied)")
    assert list(tmp_path.iterdir()) == []


def test_a_failure_half_way_leaves_no_partial_report(stored, tmp_path, monkeypatch) -> None:
    import agentnet.run_report

    path, run = stored

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(
        agentnet.run_report, "plot_accuracy_vs_tokens", disk_full
    )  # after the viewer pages were written
    result = runner.invoke(app, ["report", run, "--store", str(path), "--out", str(tmp_path / "r")])
    one_line_exit_2(result, "writing failed (No space left on device); nothing was written there")
    assert list(tmp_path.iterdir()) == []  # neither the report folder nor its temporary twin


def test_a_report_into_an_existing_folder_replaces_its_files_and_keeps_the_rest(stored, tmp_path) -> None:
    path, run = stored
    out = tmp_path / "r"
    out.mkdir()
    (out / "report.md").write_text("old")
    (out / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["report", run, "--store", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report.md").read_text() != "old" and (out / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no temporary folder left beside it


def test_show_writes_its_pages_where_asked(stored, tmp_path) -> None:
    path, run = stored
    result = runner.invoke(app, ["show", run, "--store", str(path), "--out", str(tmp_path / "a" / "b")])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(tmp_path / "a" / "b" / "index.html")
    assert (tmp_path / "a" / "b" / "index.html").is_file() and [p.name for p in tmp_path.iterdir()] == ["a"]


# -- runs never left "running" ---------------------------------------------------------------
def test_a_server_that_never_answers_leaves_the_run_failed_with_the_reason(tmp_path, monkeypatch) -> None:
    from agentnet.llm import RetryPolicy

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, retry, rng: 0.0)  # the retries, without their back-off
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are accepted by the kernel; nothing ever answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
    try:
        result = runner.invoke(
            app,
            [
                "bench",
                "asymmetric",
                "--limit",
                "1",
                "--base-url",
                url,
                "--model",
                "m",
                "--timeout",
                "0.2",
                "--store",
                str(tmp_path / "runs.sqlite"),
                "--data-dir",
                str(tmp_path),
            ],
        )
    finally:
        silent.close()
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    with RunStore(tmp_path / "runs.sqlite") as store:
        [run] = store.runs()
    assert run.status == "failed" and run.reason is not None and "no complete answer within 0.2s" in run.reason


def test_a_run_stopped_by_ctrl_c_before_its_first_request_is_interrupted(tmp_path) -> None:
    from agentnet.evaluation import bench_run
    from agentnet.store import RunConfig

    store = RunStore(tmp_path / "runs.sqlite")
    with pytest.raises(KeyboardInterrupt), bench_run(store, RunConfig(task="t"), 3) as run_id:
        raise KeyboardInterrupt
    run = store.run(run_id)
    assert (run.status, run.reason) == ("interrupted", "interrupted (Ctrl-C or cancelled)")
    with pytest.raises(RuntimeError), bench_run(store, RunConfig(task="t"), 3) as other:
        raise RuntimeError("a bug")
    assert (store.run(other).status, store.run(other).reason) == ("failed", "RuntimeError: a bug")
    assert sqlite3.connect(tmp_path / "runs.sqlite").execute(
        "SELECT COUNT(*) FROM runs WHERE status = 'running'"
    ).fetchone() == (0,)


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("/proc/x.png", "--out /proc/x.png is on the proc filesystem"),
        ("file/x.png", "is a file, so no directory can be made under it"),
        (".", "--out . is a directory; give a file name"),
    ],
)
def test_a_drawing_that_cannot_be_written_is_one_line(out, message, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("x")
    one_line_exit_2(runner.invoke(app, ["topo", "show", "chain", "--out", out]), message)
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_a_drawing_goes_where_asked_and_nothing_else_is_left(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["topo", "show", "chain", "--out", "new/t.png"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["t.png"]


@pytest.mark.parametrize(
    "command", [["train", "gdesigner", "--task", "asymmetric", "--limit", "2"], ["optimize", "--task", "asymmetric"]]
)
def test_a_training_run_folder_that_is_a_file_is_one_line_before_any_server(command, tmp_path, monkeypatch) -> None:
    pytest.importorskip("torch", reason="SKIPPED LOUDLY: torch missing; install the [graph] extra")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").write_text("x")
    result = runner.invoke(app, [*command, "--out", "taken", "--base-url", "http://127.0.0.1:9/v1"])
    one_line_exit_2(result, "--out taken is a file, not a directory")


def test_a_width_that_would_ask_for_terabytes_is_one_line() -> None:
    result = runner.invoke(app, ["train", "gdesigner", "--hidden", str(10**9)])
    one_line_exit_2(result, "--hidden 1000000000 is out of range: it must be at least 1 and at most 4,096")
