"""Model servers: start an engine, get an OpenAI-compatible URL and a backend for it."""

from agentnet.serving.engines import DEFAULT_ENGINE, ENGINES, Engine, ServeConfig, Server, start
from agentnet.serving.models import DEFAULT_MODEL, NAMED_MODELS, default_cache_dir, resolve
from agentnet.serving.pool import ModelDemand, ModelPool, parse_endpoints, serve_models

__all__ = [
    "DEFAULT_ENGINE",
    "DEFAULT_MODEL",
    "ENGINES",
    "Engine",
    "ModelDemand",
    "ModelPool",
    "NAMED_MODELS",
    "ServeConfig",
    "Server",
    "default_cache_dir",
    "parse_endpoints",
    "resolve",
    "serve_models",
    "start",
]
