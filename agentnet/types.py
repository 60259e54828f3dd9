"""Core value types shared by every layer: plain, typed, serialisable."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

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

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature <= 2.0:
            raise ConfigError(f"temperature={self.temperature} is out of range; use 0.0 to 2.0")
        if self.max_tokens < 1:
            raise ConfigError(f"max_tokens={self.max_tokens} must be at least 1")
        if not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"top_p={self.top_p} is out of range; use a value in (0, 1]")
        if self.json_schema is not None:
            try:
                ok = isinstance(json.loads(self.json_schema), dict)
            except ValueError:
                ok = False
            if not ok:
                raise ConfigError(f"json_schema={self.json_schema[:60]!r} is not a JSON object; give a JSON Schema as text")

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
