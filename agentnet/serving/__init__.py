"""Model servers: start an engine, get an OpenAI-compatible URL and a backend for it."""

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
