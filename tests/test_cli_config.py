"""`--config FILE`: a command's settings from a YAML file, flags winning over it; a stored bench run
written as such a file (`agentnet runs RUN --config-out`) and replayed; bad files are one line, exit 2,
nothing created."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
import typer
import typer.core
import typer.testing
import yaml
from typer.testing import CliRunner

from agentnet.cli import app
from agentnet.configfile import settings_of
from agentnet.store import RunConfig, RunStore
from tests.openai_peer import OpenAIPeer, Step

runner = CliRunner()


def _run_id(output: str) -> str:
    return output.split("run ")[1].split(":")[0].strip()


def test_a_stored_bench_run_is_written_as_a_config_and_replayed(tmp_path, shared_data_dir, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    store, config = tmp_path / "runs.sqlite", tmp_path / "run.yaml"
    with OpenAIPeer([Step(text="The answer is 18")] * 20) as peer:
        first = runner.invoke(
            app,
            [
                "bench",
                "gsm8k",
                "--limit",
                "2",
                "--agents",
                "2",
                "--roles",
                "math_solver,inspector",
                "--decision",
                "last_agent",
                "--max-tokens",
                "64",
                "--base-url",
                peer.base_url,
                "--store",
                str(store),
                "--data-dir",
                str(shared_data_dir),
            ],
        )
        assert first.exit_code == 0, first.output
        run_id = _run_id(first.output)
        written = runner.invoke(app, ["runs", run_id, "--config-out", str(config), "--store", str(store)])
        assert written.exit_code == 0, written.output
        assert written.output.splitlines()[-1] == str(config)
        settings = yaml.safe_load(config.read_text())
        assert settings["task"] == "gsm8k" and settings["roles"] == ["math_solver", "inspector"]
        assert settings["max_tokens"] == 64 and settings["data_dir"] == str(shared_data_dir)
        config.write_text(config.read_text() + f"store: {store}\n")  # a command's own option, keyed by its flag
        again = runner.invoke(app, ["bench", "--config", str(config)])  # no task, no flags
        assert again.exit_code == 0, again.output
        assert len(peer.requests) == 8  # the replay ran its own 2 items × 2 agents
        overridden = runner.invoke(app, ["bench", "--config", str(config), "--limit", "1", "--store", str(store)])
        assert overridden.exit_code == 0, overridden.output
    with RunStore(store) as s:
        by_id = {r.id: r.config for r in s.runs()}
    original = by_id[_run_id(first.output)]
    assert by_id[_run_id(again.output)] == original  # the whole RunConfig, team and attack included
    assert by_id[_run_id(overridden.output)] == replace(original, limit=1)  # the flag won over the file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml", "runs.sqlite"]  # no default store made


def test_every_stored_setting_is_a_bench_option() -> None:
    """settings_of names each RunConfig field as bench's option for it: a replay can set them all."""
    settings = settings_of(RunConfig(task="gsm8k"))
    assert {"task", "limit", "agents", "topology", "adversaries", "logprobs", "engine", "model", "data_dir"} <= set(
        settings
    )
    bench = typer.main.get_command(app).commands["bench"]  # type: ignore[attr-defined]
    names = {p.name for p in bench.params}
    assert set(settings) <= names  # task is bench's argument, the rest its options


def test_run_takes_its_team_from_the_file_and_flags_win(tmp_path) -> None:
    config = tmp_path / "team.yaml"
    config.write_text("topology: chain\nagents: 3\ndecision: last_agent\nrounds: 1\n")
    with OpenAIPeer([Step(text="The answer is 4")] * 10) as peer:
        from_file = runner.invoke(app, ["run", "What is 2+2?", "--config", str(config), "--base-url", peer.base_url])
        assert from_file.exit_code == 0, from_file.output
        assert len(peer.requests) == 3  # three agents in a chain, the last one's answer
        flagged = runner.invoke(
            app, ["run", "What is 2+2?", "--config", str(config), "--agents", "2", "--base-url", peer.base_url]
        )
        assert flagged.exit_code == 0, flagged.output
        assert len(peer.requests) == 5
    assert from_file.stdout.startswith("Answer: 4") and flagged.stdout.startswith("Answer: 4")


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("missing.yaml", None, "--config missing.yaml does not exist; give a YAML file of settings (`agentnet bench "),
        ("run.txt", "agents: 2\n", "give a .yaml (or .json) file"),
        ("run.yaml", "agents: [\n", "is not valid YAML at line 2"),
        ("run.yaml", "- agents\n- 2\n", "holds a list, not KEY: VALUE settings"),
        ("run.yaml", "agnets: 2\n", "unknown setting 'agnets'; did you mean agents?"),
        ("run.yaml", "agents: four\n", "agents='four' is not a whole number"),
        ("run.yaml", "agents: 2.5\n", "agents=2.5 is not a whole number"),
        ("run.yaml", "agents: 0\n", "agents=0 is out of range: it must be at least 1 and at most 64"),
        ("run.yaml", "temperature: .nan\n", "temperature=nan is not a finite number"),
        ("run.yaml", "early_stop: maybe\n", "early_stop='maybe' is not true or false"),
        ("run.yaml", "decision: vote\n", "decision='vote' is not one of: '', final_refer"),
        ("run.yaml", "roles: {a: 1}\n", "give a list of texts"),
        ("run.yaml", "agents: null\n", "agents is empty (null)"),
        ("run.yaml", "adversary_answer: no\n", "adversary_answer=False: YAML read a bool; quote the text"),
        ("run.json", '{"limit": -1}', "limit=-1 is negative"),
    ],
)
def test_a_bad_config_file_is_one_line_exit_2_and_creates_nothing(tmp_path, monkeypatch, name, text, message) -> None:
    monkeypatch.chdir(tmp_path)
    path = Path(name)
    if text is not None:
        path.write_text(text)
    before = sorted(tmp_path.iterdir())
    result = runner.invoke(app, ["bench", "gsm8k", "--config", name, "--base-url", "http://127.0.0.1:1/v1"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
    assert sorted(tmp_path.iterdir()) == before  # no run store, nothing else


def test_config_out_needs_a_run_and_writes_nothing_without_one(tmp_path) -> None:
    with RunStore(tmp_path / "runs.sqlite"):
        pass
    for args, message in [([], "name it: agentnet runs RUN_ID --config-out"), (["nope"], "unknown run 'nope'")]:
        result = runner.invoke(
            app, ["runs", *args, "--config-out", str(tmp_path / "run.yaml"), "--store", str(tmp_path / "runs.sqlite")]
        )
        assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "run.yaml").exists()


def _commands(group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], typer.core.TyperCommand]]:
    out = []
    for name, cmd in group.commands.items():
        out += _commands(cmd, (*prefix, name)) if hasattr(cmd, "commands") else [((*prefix, name), cmd)]
    return out


def _key(param) -> str:
    """A parameter as a config file names it: an option by its long flag (`--store` → store)."""
    long = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
    return long[0][2:].replace("-", "_") if isinstance(param, typer.core.TyperOption) and long else param.name


CONFIGURED = [
    (path, cmd)
    for path, cmd in _commands(typer.main.get_command(app))
    if any(p.name == "config_file" for p in cmd.params)
]


def test_every_command_with_configs_prints_all_its_settings_and_reads_them_back(tmp_path, monkeypatch) -> None:
    """--print-config writes every option (and optional argument) of the command, its --config reads
    that file back to the same settings, and nothing runs (no server starts for `run`)."""
    monkeypatch.setenv("AGENTNET_SERVE_API_KEY", "s3cret")
    built = typer.main.get_command(app)
    monkeypatch.setattr(typer.testing, "_get_command", lambda _: built)  # built once, not per invocation
    assert {path[0] for path, _ in CONFIGURED} >= {"run", "bench", "serve", "serve-team", "train", "optimize", "topo"}
    for path, cmd in CONFIGURED:
        required = [p for p in cmd.params if isinstance(p, typer.core.TyperArgument) and p.required]
        args = [*path, *("x" for _ in required)]
        printed = runner.invoke(app, [*args, "--print-config"])
        assert printed.exit_code == 0, (path, printed.output)
        settings = yaml.safe_load(printed.stdout)
        expected = {_key(p) for p in cmd.params if p not in required} - {"config", "print_config", "api_key"}
        assert set(settings) == expected, path
        file = tmp_path / f"{'-'.join(path)}.yaml"
        file.write_text(printed.stdout)
        again = runner.invoke(app, [*args, "--config", str(file), "--print-config"])
        assert (again.exit_code, again.stdout) == (0, printed.stdout), path
    assert "s3cret" not in runner.invoke(app, ["serve-team", "--print-config"]).stdout


def test_print_config_shows_the_file_and_the_flags_merged(tmp_path) -> None:
    config = tmp_path / "team.yaml"
    config.write_text("topology: debate\nagents: 4\nroles: math_solver,inspector\nmax-tokens: 99\n")
    result = runner.invoke(app, ["bench", "gsm8k", "--config", str(config), "--agents", "3", "--print-config"])
    assert result.exit_code == 0, result.output
    settings = yaml.safe_load(result.stdout)
    assert settings["task"] == "gsm8k" and settings["topology"] == "debate" and settings["max_tokens"] == 99
    assert settings["agents"] == 3 and settings["roles"] == ["math_solver", "inspector"]
    assert list(tmp_path.iterdir()) == [config]  # nothing ran: no store


def test_a_resumed_run_answers_from_the_cache_it_was_made_with(tmp_path, shared_data_dir) -> None:
    # a resume without --cache used to run uncached: its calls neither read nor filled the run's cache
    store, cache = tmp_path / "runs.sqlite", tmp_path / "cache.sqlite"
    common = ["--store", str(store), "--concurrency", "1"]
    with OpenAIPeer([Step(text="The answer is 18")] + [Step(status=400)] * 8) as peer:
        first = runner.invoke(
            app,
            [
                "bench",
                "gsm8k",
                "--limit",
                "2",
                "--agents",
                "1",
                "--topology",
                "single",
                "--decision",
                "last_agent",
                "--base-url",
                peer.base_url,
                "--data-dir",
                str(shared_data_dir),
                "--cache",
                str(cache),
                *common,
            ],
        )
        assert first.exit_code == 1, first.output  # the second item failed
        run_id = _run_id(first.output)
        with RunStore(store) as s:
            assert s.run(run_id).config.cache == str(cache.resolve())
    with OpenAIPeer([Step(text="The answer is 3")]) as peer:
        resumed = runner.invoke(app, ["bench", "--resume", run_id, "--base-url", peer.base_url, *common])
        assert resumed.exit_code == 0, resumed.output
    with sqlite3.connect(cache) as db:
        assert db.execute("select count(*) from responses").fetchone()[0] == 2  # the retried item's answer joined it
