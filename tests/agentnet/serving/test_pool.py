"""The model pool, with real child processes standing in for llama-server: a script that takes
llama-server's flags, prints them to its log and serves tests/faults.py's fake on --port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agentnet.errors import ConfigError, MissingDependencyError, ServerStartError, UnknownNameError
from agentnet.serving import ServeConfig
from agentnet.serving import pool as pool_module
from agentnet.serving.pool import (
    ModelDemand,
    check_demands,
    parse_endpoint,
    parse_endpoints,
    serve_models,
    split_threads,
    with_endpoints,
)
from agentnet.serving.process import free_port
from agentnet.types import GenerationSettings, Message
from tests.faults import FaultServer, Step

ROOT = Path(__file__).resolve().parents[3]
FAKE = f"""\
#!{sys.executable}
import sys
sys.path.insert(0, {str(ROOT)!r})
from tests.faults import FaultServer
args = sys.argv[1:]
print("flags:", " ".join(args), flush=True)
if args[args.index("--alias") + 1] == "broken":
    sys.exit(3)
FaultServer([], port=int(args[args.index("--port") + 1]), lifetime_s=60).__enter__().join()
"""
ASK = [Message("user", "hi")]


@pytest.fixture
def fake(tmp_path: Path) -> ServeConfig:
    binary = tmp_path / "llama-server"
    binary.write_text(FAKE)
    binary.chmod(0o755)
    return ServeConfig(binary=str(binary), ctx_size=512, cache_dir=tmp_path / "cache")


def gguf(tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.gguf"
    path.write_bytes(b"GGUF-fake")  # passes the magic check; the fake never reads it
    return str(path)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def flags(log: Path | None) -> str:
    assert log is not None
    return next(line for line in log.read_text().splitlines() if line.startswith("flags:"))


def test_one_engine_per_model_with_the_cores_divided(
    tmp_path: Path, fake: ServeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool_module, "available_cores", lambda: 2)
    small, large = gguf(tmp_path, "small"), gguf(tmp_path, "large")
    with serve_models([ModelDemand(small, slots=2), ModelDemand(large, slots=1)], fake) as pool:
        assert list(pool.backends) == [small, large]
        started = pool.started
        logs = [flags(s.log_path) for s in started]
        answers = [asyncio.run(pool.backends[m].complete(ASK, GenerationSettings())).text for m in (small, large)]
        assert pool.health() is None
        assert pool.notes == [f"2 engines share 2 cores: {small} 1 thread(s), {large} 1 thread(s)"]
    assert answers == ["ok", "ok"]
    assert (
        "--alias small" in logs[0]
        and "--parallel 2 --ctx-size 1024" in logs[0]
        and "--threads 1 --threads-batch 1" in logs[0]
    )
    assert (
        "--alias large" in logs[1]
        and "--parallel 1 --ctx-size 512" in logs[1]
        and "--threads 1 --threads-batch 1" in logs[1]
    )
    assert all(gone(s.process.pid) for s in started if s.process)


def test_split_threads_divides_the_cores_and_gives_the_rest_to_the_widest() -> None:
    assert split_threads([4], 2) == [2]
    assert split_threads([1, 3], 2) == [1, 1]
    assert split_threads([1, 3], 5) == [2, 3]
    assert split_threads([2, 2, 2], 2) == [1, 1, 1]  # never zero: oversubscribed, not starved
    assert split_threads([], 2) == []


def test_explicit_threads_are_given_to_every_engine(tmp_path: Path, fake: ServeConfig) -> None:
    from dataclasses import replace

    with serve_models(
        [ModelDemand(gguf(tmp_path, "a")), ModelDemand(gguf(tmp_path, "b"))], replace(fake, threads=3)
    ) as pool:
        logs = [flags(s.log_path) for s in pool.started]
    assert all("--threads 3 " in line for line in logs)


def test_an_exception_mid_run_stops_every_engine(tmp_path: Path, fake: ServeConfig) -> None:
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="mid-run"):
        with serve_models([ModelDemand(gguf(tmp_path, "a")), ModelDemand(gguf(tmp_path, "b"))], fake) as pool:
            pids = [s.process.pid for s in pool.started if s.process]
            assert len(pids) == 2 and not any(gone(p) for p in pids)
            raise RuntimeError("mid-run")
    assert all(gone(p) for p in pids)


def test_an_engine_that_fails_to_start_stops_those_already_started(tmp_path: Path, fake: ServeConfig) -> None:
    logs = fake.cache_dir / "logs"
    with pytest.raises(ServerStartError, match="exited with code 3"):
        with serve_models([ModelDemand(gguf(tmp_path, "a")), ModelDemand(gguf(tmp_path, "broken"))], fake):
            pytest.fail("the block must not run")
    assert any("--alias a " in flags(p) for p in logs.iterdir())  # the first engine was started …
    assert _running_fakes(tmp_path) == []  # … and stopped


def _running_fakes(tmp_path: Path) -> list[int]:
    """Pids of live processes running this test's fake binary."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if any(str(tmp_path).encode() in part and part.endswith(b"llama-server") for part in cmd) and state != "Z":
            found.append(int(entry.name))
    return found


def test_sigterm_stops_every_engine(tmp_path: Path, fake: ServeConfig) -> None:
    script = textwrap.dedent(f"""
        import json, sys, time
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        from agentnet.serving import ServeConfig
        from agentnet.serving.pool import ModelDemand, serve_models
        config = ServeConfig(binary={fake.binary!r}, ctx_size=512, cache_dir=Path({str(fake.cache_dir)!r}))
        demands = [ModelDemand({gguf(tmp_path, "a")!r}), ModelDemand({gguf(tmp_path, "b")!r})]
        try:
            with serve_models(demands, config) as pool:
                print(json.dumps([s.process.pid for s in pool.started]), flush=True)
                time.sleep(60)
        finally:
            print("left the pool", flush=True)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    pids = json.loads(child.stdout.readline())
    assert len(pids) == 2 and not any(gone(p) for p in pids)
    child.send_signal(signal.SIGTERM)
    rest, _ = child.communicate(timeout=30)
    assert (child.returncode, rest) == (143, "left the pool\n")
    assert all(gone(p) for p in pids)  # stopped and reaped by the pool, not orphaned


def test_a_wrong_model_fails_before_any_engine_starts(tmp_path: Path, fake: ServeConfig) -> None:
    with pytest.raises(UnknownNameError, match="unknown model 'no-such-model'"):
        with serve_models([ModelDemand(gguf(tmp_path, "a")), ModelDemand("no-such-model")], fake):
            pytest.fail("the block must not run")
    assert not (fake.cache_dir / "logs").exists()


def test_check_demands_refuses_a_missing_engine_before_anything_starts(tmp_path: Path, fake: ServeConfig) -> None:
    from dataclasses import replace

    demands = [ModelDemand(gguf(tmp_path, "a"))]
    check_demands(demands, fake)  # all is well: nothing raised, nothing started
    with pytest.raises(MissingDependencyError, match="is not an executable file"):
        check_demands(demands, replace(fake, binary=str(tmp_path / "absent")))
    with pytest.raises(MissingDependencyError, match="is not an executable file"):
        with serve_models(demands, replace(fake, binary=str(tmp_path / "absent"))):
            pass
    assert not (fake.cache_dir / "logs").exists()


def test_an_endpoint_that_does_not_answer_fails_in_one_line_before_any_engine_starts(
    tmp_path: Path, fake: ServeConfig
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    demands = [ModelDemand(gguf(tmp_path, "a")), ModelDemand("big", endpoints=(dead,))]
    with pytest.raises(ConfigError) as info:
        with serve_models(demands, fake):
            pytest.fail("the block must not run")
    assert str(info.value).startswith(f"--endpoint big={dead} does not answer (ConnectError")
    assert "\n" not in str(info.value)
    assert not (fake.cache_dir / "logs").exists()


@contextmanager
def listing(status: int, body: bytes) -> Iterator[str]:
    """A server whose every GET answers `status` with `body` (a model list, or not one)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


TWO_MODELS = json.dumps({"data": [{"id": "a"}, {"id": "b"}]}).encode()


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (200, TWO_MODELS, "serves a, b, not m; serve it under that name (vLLM: --served-model-name)"),
        (200, b"<html>hi</html>", "/models is not an OpenAI model list"),
        (401, b"{}", "GET /models answered HTTP 401; check the URL (it ends in /v1) and the API key ($OPENAI_API_KEY)"),
    ],
)
def test_an_endpoint_that_does_not_serve_the_model_is_refused(
    fake: ServeConfig, status: int, body: bytes, message: str
) -> None:
    with listing(status, body) as url:
        with pytest.raises(ConfigError) as info:
            with serve_models([ModelDemand("m", endpoints=(url,))], fake):
                pass
    assert str(info.value).startswith(f"--endpoint m={url}") and message in str(info.value)
    assert "\n" not in str(info.value)
    with listing(200, TWO_MODELS) as url, serve_models([ModelDemand("b", endpoints=(url,))], fake) as pool:
        assert pool.servers["b"][0].model == "b"  # served under the team's name: no renaming


def test_endpoints_serve_their_model_and_several_are_replicas(fake: ServeConfig) -> None:
    with FaultServer([Step(text="one")]) as one, FaultServer([]) as a, FaultServer([]) as b:
        demands = [
            ModelDemand("small", endpoints=(one.base_url,)),
            ModelDemand("big", endpoints=(a.base_url, b.base_url)),
        ]
        with serve_models(demands, fake) as pool:
            single = asyncio.run(pool.backends["small"].complete(ASK, GenerationSettings()))
            spread = [
                asyncio.run(pool.backends["big"].complete(ASK, GenerationSettings())).extra["replica"] for _ in range(2)
            ]
            assert pool.started == [] and pool.health() is None
            assert [s.notes for s in pool.servers["small"]] == [["serves small as peer"]]  # the fake's only model
    assert (single.text, single.model, one.requests[0]["model"]) == ("one", "peer", "peer")
    assert spread == [a.base_url, b.base_url]
    assert not (fake.cache_dir / "logs").exists()


def test_health_names_the_model_whose_engine_died(tmp_path: Path, fake: ServeConfig) -> None:
    a = gguf(tmp_path, "a")
    with serve_models([ModelDemand(a), ModelDemand(gguf(tmp_path, "b"))], fake) as pool:
        process = pool.servers[a][0].process
        assert process is not None
        os.kill(process.pid, signal.SIGKILL)
        process.proc.wait()
        assert (pool.health() or "").startswith(f"model {a}: the server (pid {process.pid}) was killed by SIGKILL")


def test_external_engine_needs_an_endpoint_per_model_and_base_url_serves_one(tmp_path: Path, fake: ServeConfig) -> None:
    from dataclasses import replace

    with pytest.raises(
        ConfigError, match="model 'x' has no endpoint and --engine external starts none; give --endpoint x=URL"
    ):
        with serve_models([ModelDemand("x")], replace(fake, engine="external")):
            pass
    with pytest.raises(ConfigError, match="--base-url serves one model, the team has 2 without an endpoint"):
        with serve_models([ModelDemand("x"), ModelDemand("y")], replace(fake, base_url="http://h:1/v1")):
            pass
    with FaultServer([]) as peer:
        with serve_models([ModelDemand("x")], replace(fake, base_url=peer.base_url)) as pool:
            assert pool.servers["x"][0].base_url == peer.base_url


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("qwen", "--endpoint 'qwen' is not MODEL=URL"),
        ("=http://h/v1", "is not MODEL=URL"),
        ("qwen=", "is not MODEL=URL"),
        ("qwen=gpu-box:8000/v1", "--endpoint qwen= 'gpu-box:8000/v1' is not an http(s) URL"),
        ("qwen=ftp://h/v1", "is not an http(s) URL"),
    ],
)
def test_bad_endpoint_strings_are_one_line_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_endpoint(text)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_endpoints_group_by_model_and_attach_to_the_demands() -> None:
    assert parse_endpoint(" m = http://h:8000/v1/ ") == ("m", "http://h:8000/v1")
    grouped = parse_endpoints(["big=http://a/v1", "small=http://c/v1", "big=http://b/v1"])
    assert grouped == {"big": ("http://a/v1", "http://b/v1"), "small": ("http://c/v1",)}
    with pytest.raises(ConfigError, match="given twice"):
        parse_endpoints(["big=http://a/v1", "big=http://a/v1/"])
    demands = with_endpoints([ModelDemand("small", 2), ModelDemand("big")], grouped)
    assert demands == [ModelDemand("small", 2, ("http://c/v1",)), ModelDemand("big", 1, ("http://a/v1", "http://b/v1"))]
    with pytest.raises(ConfigError, match="model 'huge', which no agent uses; the team's models: small, big"):
        with_endpoints([ModelDemand("small"), ModelDemand("big")], {"huge": ("http://h/v1",)})


def test_bad_demands_are_config_errors(fake: ServeConfig) -> None:
    with pytest.raises(ConfigError, match="slots=0 for model 'm' must be at least 1"):
        ModelDemand("m", slots=0)
    with pytest.raises(ConfigError, match="is not an http"):
        ModelDemand("m", endpoints=("h:1",))
    with pytest.raises(ConfigError, match="demanded twice"):
        with serve_models([ModelDemand("m"), ModelDemand("m", 2)], fake):
            pass
    with pytest.raises(ConfigError, match="no models to serve"):
        with serve_models([], fake):
            pass
