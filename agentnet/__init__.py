"""agentnet: teams of LLM agents that communicate over learnable graphs.

Importing this package is light: no torch, no langgraph, no model loading.
"""

from agentnet.errors import (
    AgentNetError,
    BackendError,
    BackendTimeoutError,
    ConfigError,
    MissingDependencyError,
    ModelError,
    ServerStartError,
    UnknownNameError,
)
from agentnet.llm import LLMBackend, OpenAIBackend, RetryPolicy
from agentnet.types import Completion, GenerationSettings, Message, Usage

__version__ = "0.1.0"

__all__ = [
    "AgentNetError",
    "BackendError",
    "BackendTimeoutError",
    "Completion",
    "ConfigError",
    "GenerationSettings",
    "LLMBackend",
    "Message",
    "MissingDependencyError",
    "ModelError",
    "OpenAIBackend",
    "RetryPolicy",
    "ServerStartError",
    "UnknownNameError",
    "Usage",
]
