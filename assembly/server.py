"""A server and a backend for a command: start (or reach) it, check it answers, hand out the backend."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from rich.console import Console

from agentnet.cache import CacheConfig
from agentnet.checks import check_fields
from agentnet.errors import AgentNetError
from agentnet.llm import LLMBackend
from agentnet.serving import ServeConfig, Server, start


@dataclass(frozen=True)
class ClientConfig:
    """How commands talk to the server."""

    timeout: float = field(default=120.0, metadata={"help": "Seconds per LLM call before it is retried.", "gt": 0})
    cache: CacheConfig = field(default_factory=CacheConfig)
    endpoints: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "MODEL=URL: serve that model of the team from a running OpenAI-compatible server instead of starting one; "
            "repeat it for replicas of one model.",
            "flags": ("--endpoint",),
            "repeat": True,
        },
    )

    def __post_init__(self) -> None:
        check_fields(self)


def serve_config(config: ServeConfig) -> ServeConfig:
    """A `--base-url` means an external server, whatever the engine option says."""
    return replace(config, engine="external") if config.base_url and config.engine != "external" else config


@contextmanager
def connect(config: ServeConfig, client: ClientConfig = ClientConfig()) -> Iterator[tuple[Server, LLMBackend]]:
    """The server `config` describes (started for the block, stopped after it) and a backend
    for it (behind the response cache, when one is given); an external URL is asked for its
    models first, so a wrong one fails at once."""
    config = serve_config(config)
    with start(config) as server:
        backend = server.backend(timeout_s=client.timeout)
        if server.process is None:
            asyncio.run(backend.list_models())
        yield server, client.cache.wrap(backend, namespace=config.engine)


def server_health(server: Server) -> Callable[[], str | None]:
    """What the runner asks after a failed item: None while the server is up, else why it is not."""
    from agentnet.serving.process import unreachable

    if server.process is not None:
        process = server.process
        return lambda: process.health(server.base_url)
    return lambda: unreachable(server.base_url)


def serve_until_interrupted(config: ServeConfig, out: Console, err: Console) -> None:
    """`agentnet serve`: start the server, print its URL and a request to try, keep it until Ctrl-C."""
    from agentnet.display import announce, curl_hint

    with start(config) as server:
        announce(server, err)
        out.print(f"{server.base_url}", highlight=False)
        err.print(f"[dim]try: {curl_hint(server)}[/]", highlight=False)
        try:
            while server.process is not None and server.process.alive():
                time.sleep(0.5)
        except KeyboardInterrupt:
            err.print("[dim]stopping…[/]")
            return
    raise AgentNetError(f"the server exited unexpectedly; see its log {server.log_path}")
