from __future__ import annotations

import pytest
from typer.testing import CliRunner

from agentnet.cli import app
from agentnet.serving.process import free_port
from tests.openai_peer import OpenAIPeer, Step

runner = CliRunner()


def test_models_lists_named_models() -> None:
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    assert "smollm2-135m" in result.output and "qwen2.5-coder-0.5b" in result.output


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
    assert "Answer: The answer is 4" in result.output
    assert "Math Solver" in result.output and "Inspector" in result.output
    assert "total" in result.output and "21" in result.output  # 3 calls × 7 prompt tokens


@pytest.mark.integration
def test_run_on_the_embedded_server() -> None:
    result = runner.invoke(app, ["run", "What is 12+7?", "--agents", "2", "--max-tokens", "48"])
    assert result.exit_code == 0, result.output
    assert "Answer:" in result.output and "Tokens per agent" in result.output



def test_run_debate_streams_and_saves_the_trajectory(tmp_path) -> None:
    from agentnet.trajectory import Trajectory

    replies = [Step(text=f"The answer is {n}") for n in (4, 5, 4, 4, 4, 4)]
    with OpenAIPeer(replies) as peer:
        result = runner.invoke(app, [
            "run", "What is 2+2?", "--base-url", peer.base_url, "--topology", "debate", "--agents", "3",
            "--rounds", "2", "--decision", "majority_vote", "--stream", "--show-graph",
            "--save", str(tmp_path / "t.json"),
        ])  # fmt: skip
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
        first = runner.invoke(app, ["bench", "gsm8k", "--limit", "2", "--agents", "2", "--decision", "last_agent",
                                    "--base-url", peer.base_url, *args])  # fmt: skip
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


def test_bench_without_data_names_the_paths_and_the_flag(tmp_path) -> None:
    result = runner.invoke(app, ["bench", "gsm8k", "--data-dir", str(tmp_path), "--store", str(tmp_path / "r.sqlite"),
                                 "--base-url", "http://127.0.0.1:1/v1"])  # fmt: skip
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
    cli = subprocess.Popen([sys.executable, "-m", "agentnet.cli", "serve", "--model", "smollm2-135m", "--port", str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
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
    result = CliRunner().invoke(app, ["bench", "asymmetric", "--limit", "1", "--temporal", "complete",
                                      "--topology", "gdesigner:missing.pt", "--store", str(tmp_path / "s.sqlite")])  # fmt: skip
    assert result.exit_code == 2 and "--temporal complete applies to fixed shapes" in result.output
