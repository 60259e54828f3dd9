from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from agentnet.cli import app
from agentnet.serving.process import free_port
from tests.openai_peer import OpenAIPeer, Step

runner = CliRunner()


def test_cli_starts_without_the_training_extras() -> None:
    # `make demo` installs only [qwen]: torch, PyG, transformers and TRL must stay lazy
    blocked = ("torch", "torch_geometric", "sentence_transformers", "transformers", "trl", "peft")
    code = (
        f"import sys; sys.modules.update(dict.fromkeys({blocked!r}))\n"
        "from typer.testing import CliRunner\nfrom agentnet.cli import app\n"
        "r = CliRunner().invoke(app, ['train', 'gdesigner', '--help'])\n"
        "assert r.exit_code == 0 and '--skip-decision' in r.output, r.output\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in " + repr(blocked) + " and sys.modules[m]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_help_does_not_load_the_runtime() -> None:
    # LangGraph (via agentnet.runtime) costs ~0.7 s of a ~1.5 s start; options and help must not need it
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom agentnet.cli import app\n"
        "for args in (['--help'], ['bench', '--help'], ['serve-team', '--help'], ['train', 'gdesigner', '--help'],"
        " ['train', 'optima', '--help'], ['optimize', '--help'], ['run', '--help']):\n"
        "    r = CliRunner().invoke(app, args)\n"
        "    assert r.exit_code == 0, (args, r.output)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('langgraph', 'langchain_core')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_models_lists_named_models() -> None:
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    assert "smollm2-135m" in result.output and "qwen2.5-coder-0.5b" in result.output


def test_models_shows_the_install_command_with_its_extra(tmp_path) -> None:
    from agentnet.serving.models import NAMED_MODELS, model_status

    result = runner.invoke(app, ["models", "--cache-dir", str(tmp_path)], env={"COLUMNS": "300"})
    for m in NAMED_MODELS.values():
        status = model_status(m, tmp_path)
        assert status in result.output  # e.g. "pip install … -e '.[qwen15]'": the extra is not eaten as markup


def test_unknown_role_is_one_line_exit_2() -> None:
    result = runner.invoke(app, ["run", "2+2?", "--roles", "wizard", "--base-url", "http://127.0.0.1:1/v1"])
    assert result.exit_code == 2
    assert "unknown role 'wizard'" in result.output and "Traceback" not in result.output


def test_unknown_model_lists_known_names() -> None:
    result = runner.invoke(app, ["serve", "--model", "gpt-17"])
    assert result.exit_code == 2 and "known: smollm2-135m, qwen2.5-coder-0.5b" in result.output


def test_closed_port_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = runner.invoke(app, ["run", "2+2?", "--base-url", url, "--model", "m"])
    assert result.exit_code == 2
    assert "cannot connect" in result.output and url in result.output and "Traceback" not in result.output


def test_run_against_a_server_prints_answer_and_token_table() -> None:
    replies = [Step(text="I think 4"), Step(text="Checked: 4"), Step(text="The answer is 4")]
    with OpenAIPeer(replies) as peer:
        result = runner.invoke(app, ["run", "What is 2+2?", "--base-url", peer.base_url])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == ["Answer: 4", "votes: a0 4 · a1 4 · a2 4"]  # the default team: three side by side, a vote
    assert lines[2].startswith("── a0 (Math Solver)")  # the first reply that gave the answer
    assert "Math Solver" in result.output and "Inspector" in result.output
    assert "total" in result.output and "21" in result.output  # 3 calls × 7 prompt tokens


@pytest.mark.integration
def test_run_on_the_embedded_server() -> None:
    result = runner.invoke(
        app, ["run", "What is 12+7?", "--agents", "2", "--max-tokens", "48", "--model", "smollm2-135m"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Answer: ") and "total" in result.stdout  # the answer line, the token table


def test_run_debate_streams_and_saves_the_trajectory(tmp_path) -> None:
    from agentnet.trajectory import Trajectory

    replies = [Step(text=f"The answer is {n}") for n in (4, 5, 4, 4, 4, 4)]
    with OpenAIPeer(replies) as peer:
        result = runner.invoke(
            app,
            [
                "run",
                "What is 2+2?",
                "--base-url",
                peer.base_url,
                "--topology",
                "debate",
                "--agents",
                "3",
                "--rounds",
                "2",
                "--decision",
                "majority_vote",
                "--stream",
                "--show-graph",
                "--save",
                str(tmp_path / "t.json"),
            ],
        )
    assert result.exit_code == 0, result.output
    assert "round 1 temporal: a0→a0, a0→a1" in result.output  # --show-graph
    assert "── a2 · round 1" in result.output  # streamed headers
    assert "Answer: 4" in result.output
    saved = Trajectory.load(tmp_path / "t.json")
    assert saved.calls == 6 and saved.answer == "4" and saved.graph.rounds == 2


def test_unknown_topology_lists_known() -> None:
    result = runner.invoke(app, ["run", "q", "--topology", "ring", "--base-url", "http://127.0.0.1:1/v1"])
    assert result.exit_code == 2 and "unknown topology 'ring'; known: single, chain" in result.output


def test_roles_lists_the_library() -> None:
    result = runner.invoke(app, ["roles"])
    assert result.exit_code == 0 and "liar" in result.output and "Programming Expert" in result.output


def test_bench_stores_results_resumes_and_reports(tmp_path, shared_data_dir) -> None:
    store = tmp_path / "runs.sqlite"
    args = ["--store", str(store), "--data-dir", str(shared_data_dir)]
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
                "--decision",
                "last_agent",
                "--base-url",
                peer.base_url,
                *args,
            ],
        )
        assert first.exit_code == 0, first.output
        run_id = first.output.split("run ")[1].split(":")[0].strip()
        again = runner.invoke(app, ["bench", "--resume", run_id, "--base-url", peer.base_url, *args])
        assert again.exit_code == 0, again.output
        assert "(0 to go)" in again.output
        assert len(peer.requests) == 4  # 2 items × 2 agents, nothing re-run
    listed = runner.invoke(app, ["runs", "--store", str(store)])
    assert run_id in listed.output and "50.0%" in listed.output  # item 1's gold is 18, item 2's is not
    report = runner.invoke(app, ["report", run_id, "--out", str(tmp_path / "rep"), "--store", str(store)])
    assert report.exit_code == 0, report.output
    assert (tmp_path / "rep" / "report.html").exists() and (tmp_path / "rep" / "accuracy_vs_tokens.png").exists()


def test_bench_without_data_names_the_paths_and_the_flag(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("AGENTNET_DATA_DIR", raising=False)
    result = runner.invoke(
        app,
        [
            "bench",
            "gsm8k",
            "--data-dir",
            str(tmp_path),
            "--store",
            str(tmp_path / "r.sqlite"),
            "--base-url",
            "http://127.0.0.1:1/v1",
        ],
    )
    assert result.exit_code == 2
    assert str(tmp_path / "gsm8k" / "test.jsonl") in result.output and "--data-dir" in result.output


@pytest.mark.integration
def test_sigterm_to_a_command_stops_the_server_it_started():
    import os
    import signal
    import subprocess
    import sys
    import time

    from agentnet.serving.process import port_is_free
    from tests.conftest import _require_local

    _require_local()
    port = free_port("127.0.0.1")
    cli = subprocess.Popen(
        [sys.executable, "-m", "agentnet.cli", "serve", "--model", "smollm2-135m", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert cli.stdout is not None and str(port) in cli.stdout.readline()  # the URL, once it serves
        assert not port_is_free("127.0.0.1", port)
        cli.send_signal(signal.SIGTERM)
        assert cli.wait(timeout=30) == 143
        deadline = time.monotonic() + 10
        while not port_is_free("127.0.0.1", port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert port_is_free("127.0.0.1", port), "the llama.cpp server outlived the CLI"
    finally:
        if cli.poll() is None:
            os.kill(cli.pid, signal.SIGKILL)


def test_train_optima_refuses_a_positive_token_weight_in_one_line():
    result = CliRunner().invoke(app, ["train", "optima", "--lambda-tokens", "0.3", "--limit", "1"])
    assert result.exit_code == 2
    assert "lambda_tokens=0.3" in result.output and "Traceback" not in result.output


def test_train_lists_topologies_and_optima():
    result = CliRunner().invoke(app, ["train", "--help"])
    assert result.exit_code == 0
    assert all(name in result.output for name in ("gdesigner", "commformer", "optima"))


def test_bench_temporal_is_refused_for_learned_topologies(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "asymmetric",
            "--limit",
            "1",
            "--temporal",
            "complete",
            "--topology",
            "gdesigner:missing.pt",
            "--store",
            str(tmp_path / "s.sqlite"),
        ],
    )
    assert result.exit_code == 2 and "--temporal complete applies to fixed shapes" in result.output


def test_tasks_lists_every_task_with_its_roles_and_decision() -> None:
    result = runner.invoke(app, ["tasks"])
    assert result.exit_code == 0
    assert "humaneval" in result.output and "code_writer" in result.output and "asymmetric" in result.output


def test_topo_show_prints_and_draws_a_fixed_shape_and_a_graph_file(tmp_path) -> None:
    result = runner.invoke(
        app, ["topo", "show", "star", "--agents", "3", "--rounds", "1", "--out", str(tmp_path / "s.png")]
    )
    assert result.exit_code == 0, result.output
    assert "round 0 spatial: a1→a0, a2→a0" in result.output and (tmp_path / "s.png").stat().st_size > 0
    from agentnet.assembly.team import topology_for
    from agentnet.configs import TeamConfig

    graph = topology_for(TeamConfig(topology="chain", agents=2))
    (tmp_path / "g.json").write_text(graph.to_json())
    result = runner.invoke(app, ["topo", "show", str(tmp_path / "g.json"), "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 0 and "round 0 spatial: a0→a1" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "   "], "the query is empty"),
        (["run", "q", "--topology", "star", "--agents", "1"], "star needs at least 2 agents, got 1"),
        (["run", "q", "--agents", "65"], "--agents 65 is out of range: it must be at least 1 and at most 64"),
        (["run", "q", "--rounds", "0"], "--rounds 0 is out of range: it must be at least 1"),
        (["run", "q", "--topology", "missing.json"], "cannot read the graph file missing.json"),
        (["bench", "gsm8k", "--limit", "-1"], "limit=-1 is negative"),
        (["bench", "gsm8k", "--concurrency", "0"], "concurrency=0 must be at least 1"),
        (
            ["bench", "gsm8k", "--agents", "4", "--adversaries", "4"],
            "adversaries=4 leaves no honest agent in a team of 4",
        ),
        (["bench", "gsm8k", "--adversaries", "-1"], "adversaries=-1 is negative"),
        (["run", "q", "--adversaries", "1", "--adversary-answer", " "], "give one value on one line"),
        (["run", "q", "--adversary-role", "saboteur"], "saboteur"),
        (["train", "gdesigner", "--agents", "2", "--adversaries", "2"], "adversaries=2 leaves no honest agent"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_creates_nothing(tmp_path, monkeypatch, args, message) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [*args, "--base-url", "http://127.0.0.1:1/v1"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # no run store, no files


def _graph_file(path, **changes) -> str:
    from agentnet.assembly.team import topology_for
    from agentnet.configs import TeamConfig

    data = topology_for(TeamConfig(topology="chain", agents=2, rounds=2)).to_dict() | changes
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"active": [[], ["a0", "a1"]]}, "no agent is active in round 0"),
        ({"active": [["a0"], ["a0", "a1"]]}, "touches a1, which is inactive in round 0"),
    ],
)
def test_a_graph_file_with_a_bad_team_is_one_line_exit_2(
    tmp_path, monkeypatch, shared_data_dir, changes, message
) -> None:
    graph = _graph_file(tmp_path / "g.json", **changes)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for args in (
        ["run", "q", "--topology", graph],
        ["bench", "gsm8k", "--topology", graph, "--data-dir", str(shared_data_dir)],
        ["topo", "show", graph],
    ):
        result = runner.invoke(app, [*args, *(["--base-url", "http://127.0.0.1:1/v1"] if args[0] != "topo" else [])])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
    assert list(work.iterdir()) == []


def test_a_stop_head_on_a_one_round_team_is_one_line_exit_2(tmp_path, monkeypatch, shared_data_dir) -> None:
    pytest.importorskip("torch_geometric", reason="SKIPPED LOUDLY: the [graph] extra is missing")
    monkeypatch.chdir(tmp_path)
    for kind in ("gdesigner", "commformer"):
        result = runner.invoke(
            app,
            [
                "train",
                kind,
                "--rounds",
                "1",
                "--stop",
                "--limit",
                "2",
                "--out",
                "run",
                "--data-dir",
                str(shared_data_dir),
                "--base-url",
                "http://127.0.0.1:1/v1",
            ],
        )
        assert result.exit_code == 2, result.output
        assert "a stop head needs rounds > 1" in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--screen", "2"], "use --activation (G-Designer or CommFormer) or --screen 0"),
        (["--screen", "3", "--activation"], "use --screen 2 or fewer"),
        (["--screen", "-1", "--activation"], "screen=-1 must be 0 (off)"),
    ],
)
def test_a_bad_screening_is_one_line_exit_2_before_any_server(
    tmp_path, monkeypatch, shared_data_dir, args, message
) -> None:
    pytest.importorskip("torch_geometric", reason="SKIPPED LOUDLY: the [graph] extra is missing")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app,
        [
            "train",
            "gdesigner",
            *args,
            "--limit",
            "2",
            "--out",
            "run",
            "--data-dir",
            str(shared_data_dir),
            "--base-url",
            "http://127.0.0.1:1/v1",
        ],
    )
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_topo_show_names_the_skipped_agents_and_the_skipped_decision(tmp_path) -> None:
    graph = _graph_file(
        tmp_path / "g.json",
        active=[["a0", "a1"], ["a1"]],
        spatial=[[["a0", "a1"]], []],
        temporal=[[["a0", "a1"]]],
        decide=False,
    )
    result = runner.invoke(app, ["topo", "show", graph, "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 0, result.output
    assert "round 1 runs: a1  (skipped: a0)" in result.output
    assert "decision: skipped (a1's answer is the team's)" in result.output and "calls: 3" in result.output
    assert (tmp_path / "g.png").stat().st_size > 0


def test_train_gdesigner_then_use_the_model_in_bench_and_topo_show(tmp_path, shared_data_dir) -> None:
    pytest.importorskip("torch_geometric", reason="SKIPPED LOUDLY: the [graph] extra is missing")
    data = ["--data-dir", str(shared_data_dir)]
    with OpenAIPeer([Step(text="The answer is 18")] * 40) as peer:
        trained = runner.invoke(
            app,
            [
                "train",
                "gdesigner",
                "--task",
                "gsm8k",
                "--limit",
                "2",
                "--steps",
                "1",
                "--batch",
                "2",
                "--agents",
                "2",
                "--rounds",
                "1",
                "--lr",
                "0.05",
                "--out",
                str(tmp_path / "run"),
                "--base-url",
                peer.base_url,
                *data,
            ],
        )
        assert trained.exit_code == 0, trained.output
        model = tmp_path / "run" / "model.pt"
        assert f"use it: --topology gdesigner:{model}" in trained.output and model.exists()
        again = runner.invoke(
            app,
            [
                "train",
                "gdesigner",
                "--task",
                "gsm8k",
                "--limit",
                "2",
                "--steps",
                "1",
                "--batch",
                "2",
                "--agents",
                "2",
                "--rounds",
                "1",
                "--out",
                str(tmp_path / "run"),
                "--base-url",
                peer.base_url,
                *data,
            ],
        )
        assert again.exit_code == 0 and "resuming" in again.output  # done already: nothing re-run
        calls = len(peer.requests)
        bench = runner.invoke(
            app,
            [
                "bench",
                "gsm8k",
                "--limit",
                "1",
                "--topology",
                f"gdesigner:{model}",
                "--store",
                str(tmp_path / "s.sqlite"),
                "--base-url",
                peer.base_url,
                *data,
            ],
        )
        assert bench.exit_code == 0, bench.output
        assert len(peer.requests) > calls
        # the file's team, not --agents' default of 3
        assert f"gdesigner:{model} × 2 agents × 1 round(s)" in " ".join(bench.output.split())
    shown = runner.invoke(app, ["topo", "show", f"gdesigner:{model}", "--out", str(tmp_path / "t.png")])
    assert shown.exit_code == 0 and "agents: a0" in shown.output


def test_optimize_runs_a_step_and_writes_its_report(tmp_path, shared_data_dir) -> None:
    replies = (
        [Step(text="The answer is 18")] * 8
        + [Step(text='{"reasoning": "r", "suggestion": {}}')]
        + [Step(text="The answer is 18")] * 8
    )
    with OpenAIPeer(replies) as peer:
        result = runner.invoke(
            app,
            [
                "optimize",
                "--task",
                "gsm8k",
                "--train",
                "1",
                "--val",
                "1",
                "--steps",
                "1",
                "--batch",
                "1",
                "--agents",
                "2",
                "--decision",
                "last_agent",
                "--free-text",
                "--data-dir",
                str(shared_data_dir),
                "--out",
                str(tmp_path / "trace"),
                "--base-url",
                peer.base_url,
            ],
        )
    assert result.exit_code == 0, result.output
    assert "baseline" in result.output and "step 0:" in result.output
    assert (tmp_path / "trace" / "report.md").exists() and (tmp_path / "trace" / "best_params.json").exists()


def test_every_option_of_every_command_has_help() -> None:
    import typer.main

    def commands(cmd, path: str = ""):
        if hasattr(cmd, "commands"):  # a group (typer ships its own click)
            for name, sub in cmd.commands.items():
                yield from commands(sub, f"{path} {name}")
        else:
            yield path, cmd

    options = [
        (f"{path} {p.opts[0]}", p.help)
        for path, cmd in commands(typer.main.get_command(app))
        for p in cmd.params
        if p.param_type_name == "option"
    ]
    assert len(options) > 200
    assert [name for name, help in options if not (help or "").strip()] == []


@pytest.mark.integration
def test_a_cached_bench_rerun_is_served_from_the_cache_with_the_same_answers(tmp_path, shared_data_dir) -> None:
    from agentnet.store import RunStore
    from tests.conftest import _require_local

    _require_local()
    store = tmp_path / "runs.sqlite"
    args = [
        "bench",
        "gsm8k",
        "--limit",
        "2",
        "--agents",
        "2",
        "--decision",
        "last_agent",
        "--max-tokens",
        "32",
        "--model",
        "smollm2-135m",
        "--cache",
        str(tmp_path / "calls.sqlite"),
        "--store",
        str(store),
        "--data-dir",
        str(shared_data_dir),
    ]
    first, second = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code in (0, 1) and second.exit_code == first.exit_code, second.output
    with RunStore(store) as s:
        a, b = (s.summary(r.id) for r in sorted(s.runs(), key=lambda r: r.created))  # first run, then the re-run
        rows = [
            {r.item_id: (r.answer, r.prompt_tokens, r.completion_tokens) for r in s.results(x.run.id)} for x in (a, b)
        ]
    assert rows[0] == rows[1]  # identical answers and the same tokens spent
    assert b.hit_rate is not None and b.hit_rate >= 0.95 and (a.hit_rate or 0.0) < 0.5


@pytest.mark.parametrize(
    "kind, extra",
    [
        ("commformer", ["--no-gate", "--activation", "--skip-decision"]),
        ("gptswarm", []),
        ("agentprune", ["--prune-every", "1"]),
        ("agentdropout", ["--skip-decision"]),
    ],
)
def test_train_every_learned_kind_from_the_registry(tmp_path, shared_data_dir, kind: str, extra: list[str]) -> None:
    pytest.importorskip("torch", reason="SKIPPED LOUDLY: the [graph] extra is missing")
    with OpenAIPeer([Step(text="The answer is 18")] * 40) as peer:
        result = runner.invoke(
            app,
            [
                "train",
                kind,
                "--task",
                "gsm8k",
                "--limit",
                "2",
                "--steps",
                "2",
                "--batch",
                "2",
                "--agents",
                "3",
                "--rounds",
                "1",
                *extra,
                "--out",
                str(tmp_path / kind),
                "--data-dir",
                str(shared_data_dir),
                "--base-url",
                peer.base_url,
            ],
        )
    assert result.exit_code == 0, result.output
    assert f"use it: --topology {kind}:{tmp_path / kind / 'model.pt'}" in result.output
    lines = (tmp_path / kind / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and '"planned_calls"' in lines[0]


def test_topo_show_marks_the_planted_adversary(tmp_path) -> None:
    result = runner.invoke(
        app,
        [
            "topo",
            "show",
            "complete",
            "--agents",
            "3",
            "--adversaries",
            "1",
            "--adversary-seed",
            "0",
            "--out",
            str(tmp_path / "g.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "adversary: liar" in result.output and (tmp_path / "g.png").stat().st_size > 0
