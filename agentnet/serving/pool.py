"""A pool of model servers for a team whose agents name different models.

`serve_models` takes the distinct models a team needs (`ModelDemand`: the model, the slots its
widest layer needs, and optionally the endpoints already serving it) and yields a `ModelPool`:
one backend per model name, for the runtime's `backends[agent.backend]`. A model without
endpoints gets one embedded engine; the machine's cores are divided between the engines (two
llama-server processes that each take every core thrash: measured 0.66 tokens/s per slot on
the 1.5B, see benchmarks/two_models.py). A model with endpoints is served by them: one is
used as is, several are replicas behind `agentnet.replicas.ReplicaBackend`.

Everything is checked before anything starts: the models resolve, every endpoint answers its
/models. Every engine is stopped when the block ends: normally, on an exception, and on
SIGTERM (turned into SystemExit while the pool runs, when no other handler is installed).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from types import FrameType

from agentnet.cache import CacheConfig
from agentnet.errors import ConfigError, MissingDependencyError
from agentnet.llm import LLMBackend, OpenAIBackend, RetryPolicy
from agentnet.replicas import Replica, ReplicaBackend
from agentnet.serving.engines import ENGINES, ServeConfig, Server, start
from agentnet.serving.models import resolve
from agentnet.serving.process import unreachable

# a replica gets one quick retry of its own before the call moves to another replica
REPLICA_RETRY = RetryPolicy(max_retries=1, base_delay_s=0.25, max_delay_s=1.0)
PROBE_TIMEOUT_S = 10.0


def check_url(url: str, what: str) -> str:
    """`url` without a trailing slash; a ConfigError unless it is http(s)."""
    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1].strip("/")) == 0:
        raise ConfigError(f"{what} {url!r} is not an http(s) URL; give e.g. http://gpu-box:8000/v1")
    return url.rstrip("/")


@dataclass(frozen=True)
class ModelDemand:
    """A model a team needs: `slots` = its widest layer (the most of its agents that run at
    once); `endpoints`: servers already serving it (several: replicas), none: start one here."""

    name: str
    slots: int = 1
    endpoints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ConfigError("a model demand has an empty model name; name a model (see `agentnet models`)")
        if self.slots < 1:
            raise ConfigError(f"slots={self.slots} for model {self.name!r} must be at least 1")
        urls = tuple(check_url(u, f"endpoint of {self.name}") for u in self.endpoints)
        if len(set(urls)) != len(urls):
            twice = next(u for u in urls if urls.count(u) > 1)
            raise ConfigError(f"endpoint {twice} is given twice for model {self.name!r}; list each once")
        object.__setattr__(self, "endpoints", urls)


def parse_endpoint(text: str) -> tuple[str, str]:
    """`MODEL=URL` (a `--endpoint` value) as (model, URL without trailing slash)."""
    model, sep, url = text.partition("=")
    if not sep or not model.strip() or not url.strip():
        raise ConfigError(
            f"--endpoint {text!r} is not MODEL=URL; give e.g. --endpoint qwen2.5-coder-1.5b=http://gpu-box:8000/v1"
        )
    return model.strip(), check_url(url.strip(), f"--endpoint {model.strip()}=")


def parse_endpoints(texts: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Repeated `--endpoint MODEL=URL` values grouped by model, in the order given (several
    URLs for one model are its replicas)."""
    grouped: dict[str, list[str]] = {}
    for text in texts:
        model, url = parse_endpoint(text)
        urls = grouped.setdefault(model, [])
        if url in urls:
            raise ConfigError(f"--endpoint {model}={url} is given twice; list each replica once")
        urls.append(url)
    return {model: tuple(urls) for model, urls in grouped.items()}


def with_endpoints(demands: Sequence[ModelDemand], endpoints: Mapping[str, Sequence[str]]) -> list[ModelDemand]:
    """`demands` with the parsed `--endpoint`s attached; an endpoint for a model no demand names
    is a ConfigError listing the team's models."""
    names = [d.name for d in demands]
    for model in endpoints:
        if model not in names:
            raise ConfigError(
                f"--endpoint names model {model!r}, which no agent uses; the team's models: {', '.join(names)}"
            )
    return [replace(d, endpoints=(*d.endpoints, *endpoints.get(d.name, ()))) for d in demands]


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def split_threads(slots: Sequence[int], cores: int) -> list[int]:
    """Threads per engine: the cores divided evenly (at least one each); a remainder goes to the
    engines with the most slots (ties: the first listed)."""
    if not slots:
        return []
    base, extra = divmod(cores, len(slots))
    order = sorted(range(len(slots)), key=lambda i: -slots[i])
    bonus = set(order[:extra])
    return [max(1, base + (i in bonus)) for i in range(len(slots))]


@dataclass
class ModelPool:
    """What `serve_models` yields: a backend per model name, and the servers behind each."""

    backends: dict[str, LLMBackend]
    servers: dict[str, list[Server]]  # model -> its started engine, or one Server per endpoint
    notes: list[str] = field(default_factory=list)

    @property
    def started(self) -> list[Server]:
        """The engines this pool started (and will stop)."""
        return [s for group in self.servers.values() for s in group if s.process is not None]

    def health(self) -> str | None:
        """None while every model has a server that answers, else why not (for the runner's
        `health`): an engine checks its process, endpoints a TCP connect (one replica is enough)."""
        for model, group in self.servers.items():
            problems = [_server_health(s) for s in group]
            if all(problems):
                return f"model {model}: {problems[0]}"
        return None

    def describe(self) -> list[str]:
        """One line per model: where it is served and how."""
        lines = []
        for model, group in self.servers.items():
            where = ", ".join(s.base_url for s in group)
            kind = group[0].engine if len(group) == 1 else f"{len(group)} replicas"
            lines.append(f"{model}: {kind} at {where}" + "".join(f" ({n})" for s in group for n in s.notes))
        return lines


def _server_health(server: Server) -> str | None:
    if server.process is not None:
        return server.process.health(server.base_url)
    return unreachable(server.base_url)


@contextmanager
def serve_models(
    demands: Sequence[ModelDemand],
    config: ServeConfig,
    *,
    timeout_s: float = 120.0,
    cache: CacheConfig = CacheConfig(),
) -> Iterator[ModelPool]:
    """Serve every model `demands` names for the block: endpoints checked, engines started (the
    cores divided between them, see `split_threads`), all engines stopped afterwards. Backends
    time each call out after `timeout_s` and sit behind the response `cache` when it is on."""
    demands, probed = _plan(demands, config)
    embedded = [d for d in demands if not d.endpoints]
    cores = available_cores()
    threads = (
        split_threads([d.slots for d in embedded], cores)
        if config.threads is None
        else [config.threads] * len(embedded)
    )
    pool = ModelPool({}, {})
    if len(embedded) > 1:
        pool.notes.append(
            f"{len(embedded)} engines share {cores} cores: "
            + ", ".join(f"{d.name} {t} thread(s)" for d, t in zip(embedded, threads, strict=True))
        )
    with ExitStack() as stack:
        stack.enter_context(_sigterm_exits())
        for i, (demand, n) in enumerate(zip(embedded, threads, strict=True)):
            # engines start one after the other in this thread: PR_SET_PDEATHSIG ties each to the
            # thread that spawned it, so a worker thread's end would stop its engine
            engine_config = replace(
                config,
                model=demand.name,
                parallel=demand.slots,
                threads=n,
                threads_batch=config.threads_batch or n,
                base_url=None,
                port=config.port if i == 0 else None,
            )
            server = stack.enter_context(start(engine_config))
            backend = server.backend(timeout_s=timeout_s, name=demand.name)
            pool.servers[demand.name] = [server]
            pool.backends[demand.name] = cache.wrap(backend, namespace=server.engine)
        for name, servers in probed.items():
            pool.servers[name] = servers
            pool.backends[name] = cache.wrap(_endpoint_backend(name, servers, timeout_s), namespace="external")
        pool.backends = {d.name: pool.backends[d.name] for d in demands}  # the team's order
        pool.servers = {d.name: pool.servers[d.name] for d in demands}
        yield pool


def check_demands(demands: Sequence[ModelDemand], config: ServeConfig) -> None:
    """What `serve_models` checks before it starts anything, on its own: for a command to call
    before it creates anything (a run in the store) — the models resolve, the engine is
    installed, every endpoint answers."""
    _plan(demands, config)


def _plan(demands: Sequence[ModelDemand], config: ServeConfig) -> tuple[list[ModelDemand], dict[str, list[Server]]]:
    """The demands as served (`--base-url` attached) and each endpoint model's probed servers;
    raises on the first problem, before anything starts."""
    checked = _checked(demands, config)
    embedded = [d for d in checked if not d.endpoints]
    if embedded:
        engine = ENGINES[config.engine]
        why_not = engine.available(config)
        if why_not:
            raise MissingDependencyError(why_not)
    for demand in embedded:  # a wrong model name fails here
        resolve(demand.name, config.cache_dir)
    probed = {d.name: [_probe(d.name, url, config) for url in d.endpoints] for d in checked if d.endpoints}
    return checked, probed


def _checked(demands: Sequence[ModelDemand], config: ServeConfig) -> list[ModelDemand]:
    if not demands:
        raise ConfigError("no models to serve; a team needs at least one agent")
    names = [d.name for d in demands]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ConfigError(f"model {twice!r} is demanded twice; give each model once with its widest layer's slots")
    out = list(demands)
    if config.base_url:  # --base-url: the one model without an endpoint is served there
        bare = [i for i, d in enumerate(out) if not d.endpoints]
        if len(bare) > 1:
            raise ConfigError(
                f"--base-url serves one model, the team has {len(bare)} without an endpoint "
                f"({', '.join(out[i].name for i in bare)}); give each --endpoint MODEL=URL"
            )
        if bare:
            out[bare[0]] = replace(out[bare[0]], endpoints=(config.base_url,))
    elif config.engine == "external":
        bare_names = [d.name for d in out if not d.endpoints]
        if bare_names:
            raise ConfigError(
                f"model {bare_names[0]!r} has no endpoint and --engine external starts none; "
                f"give --endpoint {bare_names[0]}=URL or choose an engine ({', '.join(ENGINES)})"
            )
    return out


def _probe(model: str, url: str, config: ServeConfig) -> Server:
    """The endpoint as a Server, after it answered its /models; the name to send in requests is
    `model` when served there, else the endpoint's only model."""
    import httpx

    import agentnet.replies as replies

    key = os.environ.get(config.api_key_env)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    where = f"--endpoint {model}={url}"
    try:
        response = httpx.get(f"{url}/models", headers=headers, timeout=PROBE_TIMEOUT_S)
        if response.status_code != 200:
            raise ConfigError(
                f"{where}: GET /models answered HTTP {response.status_code}; check the URL (it ends in /v1) and the API key (${config.api_key_env})"
            )
        served = replies.model_ids(replies.json_object(response.content, response.headers.get("content-type", "")))
    except httpx.HTTPError as e:
        raise ConfigError(
            f"{where} does not answer ({type(e).__name__}: {e}); start its server or fix the URL"
        ) from None
    except replies.BadReply as e:
        raise ConfigError(
            f"{where}: /models is not an OpenAI model list ({e}); is it an OpenAI-compatible server?"
        ) from None
    if model in served:
        name, notes = model, []
    elif len(served) == 1:
        name, notes = served[0], [f"serves {model} as {served[0]}"]
    else:
        raise ConfigError(
            f"{where} serves {', '.join(served) or 'no model'}, not {model}; "
            "serve it under that name (vLLM: --served-model-name) or point --endpoint at its server"
        )
    return Server("external", url, name, api_key=key, notes=notes)


def _endpoint_backend(model: str, servers: list[Server], timeout_s: float) -> LLMBackend:
    limit = ENGINES["external"].max_concurrency
    if len(servers) == 1:
        return servers[0].backend(timeout_s=timeout_s, name=model, max_concurrency=limit)

    def one(server: Server) -> OpenAIBackend:
        return server.backend(timeout_s=timeout_s, name=model, max_concurrency=limit, retry=REPLICA_RETRY)

    return ReplicaBackend([Replica(s.base_url, one(s)) for s in servers], name=model)


@contextmanager
def _sigterm_exits() -> Iterator[None]:
    """While the pool runs, SIGTERM raises SystemExit(143), so the `with` blocks stop every
    engine; left alone when not on the main thread or when a handler is already installed."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def exit_143(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(143)

    previous: Callable[[int, FrameType | None], object] | int | None = signal.signal(signal.SIGTERM, exit_143)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
