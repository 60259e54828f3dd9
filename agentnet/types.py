"""Core value types shared by every layer: plain, typed, serialisable."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, Protocol

from agentnet.checks import MAX_COMPLETION_TOKENS, check_value, number
from agentnet.errors import ConfigError

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Usage:
    """Token counts as reported by the server's `usage` block."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __post_init__(self) -> None:
        # counts reach SQLite and LangGraph's msgpack checkpoints, which stop at 64 bits; a server's
        # counts are checked (with a tighter bound) where its reply is read, in agentnet.replies
        for name in ("prompt_tokens", "completion_tokens"):
            number(name, getattr(self, name), int, ge=0)  # and within 64 bits, as every int checked

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True)
class GenerationSettings:
    """Per-call sampling settings. `model=None` means the backend's default model."""

    model: str | None = None
    temperature: float = 0.0
    max_tokens: int = 256
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    json_mode: bool = False  # ask for a JSON object
    json_schema: str | None = None  # ask for JSON matching this JSON Schema (given as JSON text)
    logprobs: bool = False  # ask for token log-probabilities (a message keeps its answer's mean)

    def __post_init__(self) -> None:
        # one place for every check of a call's settings, whoever made them (a flag, a topology
        # file, a trainer): a NaN here would only fail at request time, after calls reached a server
        if not isinstance(self.stop, tuple):
            object.__setattr__(self, "stop", tuple(self.stop) if isinstance(self.stop, list) else self.stop)
        check_value("model", self.model, "str", optional=True)
        number("temperature", self.temperature, float, ge=0.0, le=2.0)
        number("max_tokens", self.max_tokens, int, ge=1)
        number("max_tokens", self.max_tokens, int, le=MAX_COMPLETION_TOKENS)
        number("top_p", self.top_p, float, gt=0.0, le=1.0)
        check_value("seed", self.seed, "int", optional=True)
        check_value("json_mode", self.json_mode, "bool")
        if not isinstance(self.stop, tuple) or not all(isinstance(s, str) for s in self.stop):
            raise ConfigError(f"stop={str(self.stop)[:60]} must be a list of strings")
        if self.json_schema is not None:
            try:
                ok = isinstance(json.loads(self.json_schema), dict)
            except (TypeError, ValueError, RecursionError):
                ok = False
            if not ok:
                raise ConfigError(
                    f"json_schema={str(self.json_schema)[:60]!r} is not a JSON object; give a JSON Schema as text"
                )

    def with_(self, **changes: Any) -> GenerationSettings:
        return replace(self, **changes)


FinishReason = Literal["stop", "length", "content_filter", "tool_calls", "error", "unknown"]


@dataclass(frozen=True)
class Completion:
    """One answered chat request."""

    text: str
    finish_reason: FinishReason
    usage: Usage
    latency_s: float
    model: str = ""
    attempts: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["usage"] = asdict(self.usage)
        return d


class ListsModels(Protocol):
    """A backend that can list its server's models (OpenAIBackend; not every `LLMBackend` can)."""

    async def list_models(self) -> list[str]: ...
