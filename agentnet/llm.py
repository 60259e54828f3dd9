"""The LLM boundary: one async protocol and one implementation over any OpenAI-compatible server.

`OpenAIBackend` talks to vLLM, the llama.cpp server, OpenAI or Ollama alike (structured
output is the one place they differ: `ResponseFormat`). It retries
connection errors, timeouts, 429 and 5xx itself (the openai client's own retries are
off) so that every `Completion` records how many attempts it took and the back-off is
configurable; a hard failure becomes a `BackendError` naming the URL and a fix.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, get_args, runtime_checkable

from agentnet.errors import BackendError, BackendTimeoutError, ConfigError
from agentnet.types import Completion, GenerationSettings, Message, Usage

if TYPE_CHECKING:
    import openai

DeltaCallback = Callable[[str], None]

# How a server takes a JSON Schema for structured output: the OpenAI API's
# {"type": "json_schema", ...} (OpenAI, vLLM, llama.cpp's llama-server, Ollama) or
# llama-cpp-python's server, which only accepts {"type": "json_object", "schema": ...}.
ResponseFormat = Literal["openai", "llama-cpp-python"]
RESPONSE_FORMATS: tuple[str, ...] = get_args(ResponseFormat)


def response_format(settings: GenerationSettings, style: ResponseFormat) -> dict[str, Any] | None:
    """The request's `response_format` for `settings` (None: free text)."""
    if settings.json_schema is not None:
        schema = json.loads(settings.json_schema)
        if style == "llama-cpp-python":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
    if settings.json_mode:
        return {"type": "json_object"}
    return None


@runtime_checkable
class LLMBackend(Protocol):
    """Anything that answers chat requests. `name` identifies it in trajectories."""

    name: str

    async def complete(
        self,
        messages: Sequence[Message],
        settings: GenerationSettings,
        *,
        on_delta: DeltaCallback | None = None,
    ) -> Completion:
        """Answer one chat request. With `on_delta`, stream text pieces to it as they arrive."""
        ...


T = TypeVar("T")


class PerLoop:
    """One object per running event loop.

    asyncio primitives and HTTP connection pools are bound to the loop that first used
    them; a backend shared by several `asyncio.run` calls needs one of each per loop.
    """

    def __init__(self, factory: Callable[[], T]):
        self._factory = factory
        self._items: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> Any:
        loop = asyncio.get_running_loop()
        item = self._items.get(loop)
        if item is None:
            item = self._items[loop] = self._factory()
        return item

    def pop_current(self) -> Any | None:
        return self._items.pop(asyncio.get_running_loop(), None)


def concurrency_limit(max_concurrency: int | None) -> PerLoop:
    """A per-loop semaphore (or a no-op context when unlimited)."""
    if max_concurrency is not None and max_concurrency < 1:
        raise ConfigError(f"max_concurrency={max_concurrency} must be at least 1 (or None)")
    if max_concurrency is None:
        return PerLoop(_Unlimited)
    return PerLoop(lambda: asyncio.Semaphore(max_concurrency))


class _Unlimited:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential back-off and full jitter."""

    max_retries: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def delay(self, retry: int, rng: random.Random) -> float:
        cap = min(self.max_delay_s, self.base_delay_s * 2**retry)
        return cap / 2 + rng.uniform(0, cap / 2)


_RETRYABLE_STATUS = {408, 409, 429}


def _status_hint(status: int, model: str | None, url: str) -> str:
    if status in (401, 403):
        return "check the API key (for `--engine external` set the env var named by --api-key-env)"
    if status == 404:
        return f"model {model!r} may not be served here; list served models at {url}/models"
    if status in (400, 422):
        return "the server rejected the request (prompt longer than the context window?)"
    return "see the server's log"


class OpenAIBackend:
    """An `LLMBackend` over the `openai` client for any OpenAI-compatible base_url."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        name: str = "default",
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        retry: RetryPolicy = RetryPolicy(),
        max_concurrency: int | None = 8,
        seed: int | None = None,
        response_format: ResponseFormat = "openai",
    ):
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url {base_url!r} must start with http:// or https://")
        if response_format not in RESPONSE_FORMATS:
            raise ConfigError(f"response_format={response_format!r} unknown; use one of {', '.join(RESPONSE_FORMATS)}")
        if timeout_s <= 0:
            raise ConfigError(f"timeout_s={timeout_s} must be positive")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = name
        self.max_concurrency = max_concurrency
        self._api_key = api_key or "not-needed"  # local servers ignore it; the client needs one
        self._timeout_s, self._connect_timeout_s = timeout_s, connect_timeout_s
        self._retry = retry
        self.response_format = response_format
        self._rng = random.Random(seed)
        self._clients = PerLoop(self._new_client)
        self._limit = concurrency_limit(max_concurrency)

    def __repr__(self) -> str:
        return f"OpenAIBackend({self.base_url!r}, model={self.model!r}, name={self.name!r})"

    def _new_client(self) -> openai.AsyncOpenAI:
        import httpx
        import openai

        timeout = httpx.Timeout(self._timeout_s, connect=self._connect_timeout_s)
        return openai.AsyncOpenAI(
            base_url=self.base_url, api_key=self._api_key, timeout=timeout, max_retries=0
        )

    async def aclose(self) -> None:
        client = self._clients.pop_current()
        if client is not None:
            await client.close()

    async def list_models(self) -> list[str]:
        page = await self._with_retries(lambda c: c.models.list(), model=None)
        return [m.id for m in page.data]

    async def _resolve_model(self, settings: GenerationSettings) -> str:
        if settings.model:
            return settings.model
        if self.model is None:
            models = await self.list_models()
            if not models:
                raise BackendError("the server serves no models", url=self.base_url)
            self.model = models[0]
        return self.model

    async def complete(
        self,
        messages: Sequence[Message],
        settings: GenerationSettings,
        *,
        on_delta: DeltaCallback | None = None,
    ) -> Completion:
        model = await self._resolve_model(settings)
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": [m.to_dict() for m in messages],
            "temperature": settings.temperature,
            "max_tokens": settings.max_tokens,
            "top_p": settings.top_p,
        }
        if settings.stop:
            kwargs["stop"] = list(settings.stop)
        if settings.seed is not None:
            kwargs["seed"] = settings.seed
        fmt = response_format(settings, self.response_format)
        if fmt is not None:
            kwargs["response_format"] = fmt

        async with self._limit.get():
            started = time.perf_counter()  # latency excludes waiting for a free slot
            if on_delta is None:
                response, attempts = await self._with_retries(
                    lambda c: c.chat.completions.create(**kwargs), model=model, count=True
                )
                choice = response.choices[0]
                text = choice.message.content or ""
                finish = choice.finish_reason
                usage = _usage(response.usage)
                extra: dict[str, Any] = {}
            else:
                (text, finish, usage, extra), attempts = await self._with_retries(
                    lambda c: self._stream(c, kwargs, on_delta, started), model=model, count=True
                )
        return Completion(
            text=text,
            finish_reason=_finish(finish),
            usage=usage,
            latency_s=time.perf_counter() - started,
            model=model,
            attempts=attempts,
            extra=extra,
        )

    async def _stream(
        self,
        client: openai.AsyncOpenAI,
        kwargs: dict[str, Any],
        on_delta: DeltaCallback,
        started: float,
    ) -> tuple[str, str | None, Usage, dict[str, Any]]:
        stream = await client.chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True}
        )
        pieces: list[str] = []
        finish: str | None = None
        first_token_s: float | None = None
        usage: Usage | None = None
        async for chunk in stream:
            if chunk.usage is not None:
                usage = _usage(chunk.usage)
            for choice in chunk.choices:
                piece = choice.delta.content if choice.delta else None
                if piece:
                    if first_token_s is None:
                        first_token_s = time.perf_counter() - started
                    pieces.append(piece)
                    on_delta(piece)
                if choice.finish_reason:
                    finish = choice.finish_reason
        extra: dict[str, Any] = {"first_token_s": first_token_s}
        if usage is None:
            # Some servers (llama-cpp-python's) send no usage in streams. A one-token
            # request gives the exact prompt count cheaply (the server's prefix cache holds
            # the prompt); streamed chunks count completion tokens (a lower bound: a chunk
            # can merge the tokens of one multi-byte character).
            probe = await client.chat.completions.create(**{**kwargs, "max_tokens": 1})
            usage = Usage(_usage(probe.usage).prompt_tokens, len(pieces))
            extra["usage_source"] = "probe+chunks"
        return "".join(pieces), finish, usage, extra

    async def _with_retries(self, call: Callable[[Any], Any], *, model: str | None, count: bool = False) -> Any:
        import openai

        client = self._clients.get()
        for retry in range(self._retry.max_retries + 1):
            last = retry == self._retry.max_retries
            try:
                result = await call(client)
                return (result, retry + 1) if count else result
            except openai.APITimeoutError as e:
                if last:
                    raise BackendTimeoutError(
                        f"no answer within {self._timeout_s:g}s after {retry + 1} attempts",
                        url=self.base_url,
                        hint="raise the timeout (timeout_s / --timeout) or lower max_tokens",
                    ) from e
                wait = self._retry.delay(retry, self._rng)
            except openai.APIConnectionError as e:
                if last:
                    raise BackendError(
                        f"cannot connect after {retry + 1} attempts ({e.__cause__ or e})",
                        url=self.base_url,
                        hint="is the server running? start one with `agentnet serve` or check --base-url",
                    ) from e
                wait = self._retry.delay(retry, self._rng)
            except openai.APIStatusError as e:
                status = e.status_code
                retryable = status in _RETRYABLE_STATUS or status >= 500
                if last or not retryable:
                    raise BackendError(
                        f"HTTP {status} after {retry + 1} attempts: {_short(e.message)}",
                        url=self.base_url,
                        status=status,
                        hint=_status_hint(status, model, self.base_url),
                    ) from e
                wait = max(self._retry.delay(retry, self._rng), _retry_after(e))
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # the loop always returns or raises


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    return Usage(int(raw.prompt_tokens or 0), int(raw.completion_tokens or 0))


def _finish(raw: str | None) -> Any:
    known = {"stop", "length", "content_filter", "tool_calls"}
    return raw if raw in known else "unknown"


def _retry_after(error: Any) -> float:
    header = error.response.headers.get("retry-after") if error.response is not None else None
    try:
        return min(float(header), 60.0) if header else 0.0
    except ValueError:
        return 0.0


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
