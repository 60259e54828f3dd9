"""Model servers: start an engine, get an OpenAI-compatible URL and a backend for it.

The pool of several models (`agentnet.serving.pool`) is imported from its module: it uses
`agentnet.replicas`, which uses `agentnet.serving.process`, and this package must not sit in
that loop."""

from agentnet.serving.engines import DEFAULT_ENGINE, ENGINES, Engine, ServeConfig, Server, start
from agentnet.serving.models import DEFAULT_MODEL, NAMED_MODELS, default_cache_dir, resolve

__all__ = [
    "DEFAULT_ENGINE",
    "DEFAULT_MODEL",
    "ENGINES",
    "Engine",
    "NAMED_MODELS",
    "ServeConfig",
    "Server",
    "default_cache_dir",
    "resolve",
    "start",
]
