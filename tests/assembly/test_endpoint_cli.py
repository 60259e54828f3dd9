"""`agentnet serve-team` as a user runs it: a child process serving two teams whose model is a
fake OpenAI server (no model), asked over HTTP, stopped with SIGINT; and bad input as one line."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agentnet.cli import app
from agentnet.serving.process import free_port
from agentnet.store import RunStore
from tests.openai_peer import OpenAIPeer, Step


def _wait_ready(url: str, child: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert child.poll() is None, child.stderr.read() if child.stderr else "exited"
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("serve-team did not come up")


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 0), (signal.SIGTERM, 143)])
def test_serve_team_serves_two_teams_records_them_and_stops_on_a_signal(tmp_path: Path, stop: int, code: int) -> None:
    store, port = tmp_path / "runs.sqlite", free_port()
    with OpenAIPeer([Step(text="Let me see: 6 x 7 = 42. The answer is 42")] * 8, lifetime_s=120) as peer:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agentnet.cli",
                "serve-team",
                "--port",
                str(port),
                "--store",
                str(store),
                "--endpoint",
                f"m={peer.base_url}",
                "--team",
                "pair=cot@m,cot@m;topology=complete;decision=majority_vote",
                "--team",
                "solo=cot@m;topology=single",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            url = f"http://127.0.0.1:{port}/v1"
            _wait_ready(url, child)
            models = [m["id"] for m in httpx.get(f"{url}/models", timeout=5).json()["data"]]
            reply = httpx.post(
                f"{url}/chat/completions",
                timeout=30,
                json={"model": "pair", "messages": [{"role": "user", "content": "What is 6 x 7?"}]},
            )
            solo = httpx.post(
                f"{url}/chat/completions",
                timeout=30,
                json={"model": "solo", "messages": [{"role": "user", "content": "And 7 x 6?"}]},
            )
        finally:
            child.send_signal(stop)
            _, stderr = child.communicate(timeout=60)
    assert models == ["pair", "solo"]
    assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] == "42"
    assert reply.json()["agentnet"]["calls"] == 2 and solo.json()["agentnet"]["calls"] == 1
    assert child.returncode == code, stderr
    assert f"serving on http://127.0.0.1:{port}/v1" in stderr and "Traceback" not in stderr
    with RunStore.existing(store) as runs:
        by_split = {r.config.split: r for r in runs.runs()}
        assert set(by_split) == {"serve-team:pair", "serve-team:solo"}
        assert {r.status for r in by_split.values()} == {"finished"}
        assert {r.config.model for r in by_split.values()} == {"m"}
        (row,) = runs.results(by_split["serve-team:pair"].id)
        assert row.item_id == reply.json()["id"] and row.extracted == "42"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--team", "cot@m"], "is not NAME=SPEC"),
        (["--team", "a=cot@m;colour=red"], "'colour=red' is not KEY=VALUE"),
        (["--team", "a=wizard@m"], "--team a: unknown role 'wizard'"),
        (["--team", "a=cot@m", "--team", "a=pal@m"], "names a twice"),
        (["--team", "a=cot@m;task=nope"], "--team a: unknown task 'nope'"),
        (["--port", "70000"], "--port"),
        (["--queue", "-1"], "--queue"),
    ],
)
def test_bad_serve_team_input_is_one_line_before_anything_starts(tmp_path: Path, args: list[str], says: str) -> None:
    store = tmp_path / "runs.sqlite"
    result = CliRunner().invoke(
        app,
        ["serve-team", "--store", str(store), "--endpoint", "m=http://127.0.0.1:9/v1", *args],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 2, result.output
    assert says in result.output and "Traceback" not in result.output
    assert not store.exists()
