"""The LLM boundary: one async protocol and one implementation over any OpenAI-compatible server.

`OpenAIBackend` talks to vLLM, the llama.cpp server, OpenAI or Ollama alike (structured
output is the one place they differ: `ResponseFormat`). It retries
connection errors, timeouts, 429, 5xx, 200 replies that are not a chat completion and
streams cut short itself (the openai client's own retries are off) so that every
`Completion` records how many attempts it took and the back-off is configurable; a hard
failure becomes a `BackendError` naming the URL, what went wrong and a fix. `timeout_s`
bounds each attempt as a whole, a slowly trickling stream included.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, get_args, runtime_checkable

import agentnet.replies as replies
from agentnet.checks import check_fields, number
from agentnet.errors import BackendError, BackendTimeoutError, ConfigError
from agentnet.per_loop import PerLoop, concurrency_limit
from agentnet.types import Completion, GenerationSettings, Message, Usage

if TYPE_CHECKING:
    import openai

DeltaCallback = Callable[[str], None]
RetractCallback = Callable[[], None]

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
        on_retract: RetractCallback | None = None,
    ) -> Completion:
        """Answer one chat request. With `on_delta`, stream text pieces to it as they arrive.

        `on_retract` is called when an attempt that had already sent deltas fails (before it
        is retried, or before the final error is raised): every piece sent since the last
        retraction is void, and pieces that follow start the answer afresh. Backends that
        never retry after streaming may ignore it.
        """
        ...


T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential back-off and full jitter."""

    max_retries: int = field(default=3, metadata={"ge": 0, "le": 100})
    base_delay_s: float = field(default=0.5, metadata={"ge": 0})
    max_delay_s: float = field(default=8.0, metadata={"ge": 0})

    def __post_init__(self) -> None:
        check_fields(self)

    def delay(self, retry: int, rng: random.Random) -> float:
        cap = min(self.max_delay_s, self.base_delay_s * 2.0**retry)  # a float power: int ** int has no precise type
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
        number("timeout_s", timeout_s, float, gt=0)  # NaN would pass a `<= 0` test and bound nothing
        number("connect_timeout_s", connect_timeout_s, float, gt=0)
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

        timeout: Any = httpx.Timeout(
            self._timeout_s, connect=self._connect_timeout_s
        )  # openai's stubs name its own httpx fork
        return openai.AsyncOpenAI(base_url=self.base_url, api_key=self._api_key, timeout=timeout, max_retries=0)

    async def aclose(self) -> None:
        client = self._clients.pop_current()
        if client is not None:
            await client.close()

    async def list_models(self) -> list[str]:
        ids, _ = await self._with_retries(self._models, model=None)
        return ids

    async def _models(self, client: openai.AsyncOpenAI) -> list[str]:
        raw = await client.models.with_raw_response.list()
        return replies.model_ids(_body(raw.http_response))

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
        on_retract: RetractCallback | None = None,
    ) -> Completion:
        model = await self._resolve_model(settings)
        kwargs = _request(model, messages, settings, self.response_format)
        async with self._limit.get():
            started = time.perf_counter()  # latency excludes waiting for a free slot
            if on_delta is None:
                reply, attempts = await self._with_retries(
                    lambda c: self._answer(c, kwargs, reply_bytes(settings)), model=model
                )
                extra: dict[str, Any] = {}
                if reply.logprobs is not None:
                    extra["token_logprobs"] = list(reply.logprobs)
            else:
                attempt = _Attempt(on_delta, on_retract)
                (reply, extra), attempts = await self._with_retries(
                    lambda c: self._stream(c, kwargs, attempt.delta, started, reply_chars(settings)),
                    model=model,
                    on_failure=attempt.failed,
                )
        reply, warnings = checked_reply(reply, model, settings)
        if warnings:
            extra["warnings"] = [*extra.get("warnings", ()), *warnings]
        return Completion(
            text=reply.text,
            finish_reason=_finish(reply.finish_reason),
            usage=reply.usage or Usage(),
            latency_s=time.perf_counter() - started,
            model=model,
            attempts=attempts,
            extra=extra,
        )

    async def _answer(self, client: openai.AsyncOpenAI, kwargs: dict[str, Any], max_bytes: int) -> replies.Reply:
        """The reply, read up to `max_bytes` (a body past that is a `BadReply`, never held whole in memory)."""
        async with client.chat.completions.with_streaming_response.create(**kwargs) as raw:
            data = bytearray()
            async for part in raw.iter_bytes():
                data += part
                if len(data) > max_bytes:
                    raise replies.BadReply(
                        f"the reply passed {max_bytes:,} bytes, far more than max_tokens="
                        f"{kwargs['max_tokens']} tokens can fill"
                    )
            return replies.completion(replies.json_object(bytes(data), raw.headers.get("content-type", "")))

    async def _stream(
        self,
        client: openai.AsyncOpenAI,
        kwargs: dict[str, Any],
        on_delta: DeltaCallback,
        started: float,
        max_chars: int,
    ) -> tuple[replies.Reply, dict[str, Any]]:
        stream = await client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True})
        try:
            got = await _read_stream(stream, on_delta, started, max_chars)
        finally:
            await stream.close()
        extra: dict[str, Any] = {"first_token_s": got.first_token_s}
        if got.cut:
            extra["warnings"] = [
                f"the streamed reply passed {max_chars:,} characters, more than max_tokens="
                f"{kwargs['max_tokens']} tokens can hold; it was cut there and the stream closed"
            ]
        if got.logprobs:
            extra["token_logprobs"] = got.logprobs
        usage = got.usage
        if usage is None:
            # Some servers (llama-cpp-python's) send no usage in streams. A one-token
            # request gives the exact prompt count cheaply (the server's prefix cache holds
            # the prompt); streamed chunks count completion tokens (a lower bound: a chunk
            # can merge the tokens of one multi-byte character).
            probe = await client.chat.completions.with_raw_response.create(**{**kwargs, "max_tokens": 1})
            prompt = replies.usage(_body(probe.http_response).get("usage"))
            usage = None if prompt is None else Usage(prompt.prompt_tokens, len(got.pieces))  # None: unknown, warned
            extra["usage_source"] = "probe+chunks"
        return replies.Reply("".join(got.pieces), got.finish, usage, model=got.model), extra

    async def _with_retries(
        self,
        call: Callable[[Any], Awaitable[T]],
        *,
        model: str | None,
        on_failure: Callable[[], None] | None = None,
    ) -> tuple[T, int]:
        """`call(client)` until it succeeds, each attempt within `timeout_s`; (result, attempts)."""
        client = self._clients.get()
        for retry in range(self._retry.max_retries + 1):
            try:
                async with asyncio.timeout(self._timeout_s):
                    return await call(client), retry + 1
            except Exception as e:
                failure = self._failure(e, retry + 1, model)
                if on_failure is not None:
                    on_failure()
                if retry == self._retry.max_retries or not failure.retry:
                    raise failure.error from e
            await asyncio.sleep(max(self._retry.delay(retry, self._rng), failure.floor_s))
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _failure(self, e: Exception, attempts: int, model: str | None) -> _Failure:
        """What a failed attempt means: the error to raise, whether to retry, the least wait."""
        import openai

        url, tried = self.base_url, f"after {attempts} attempt{'s' if attempts != 1 else ''}"
        if isinstance(e, (TimeoutError, openai.APITimeoutError)):
            hint = "raise the timeout (timeout_s / --timeout) or lower max_tokens"
            return _Failure(
                BackendTimeoutError(f"no complete answer within {self._timeout_s:g}s {tried}", url=url, hint=hint)
            )
        if isinstance(e, openai.APIConnectionError):
            hint = "is the server running? start one with `agentnet serve` or check --base-url"
            return _Failure(BackendError(f"cannot connect {tried} ({e.__cause__ or e})", url=url, hint=hint))
        if isinstance(e, openai.APIStatusError):
            status, hint = e.status_code, _status_hint(e.status_code, model, url)
            error = BackendError(f"HTTP {status} {tried}: {_short(e.message)}", url=url, status=status, hint=hint)
            return _Failure(error, status in _RETRYABLE_STATUS or status >= 500, _retry_after(e))
        if isinstance(e, replies.StreamCut):
            return _Failure(
                BackendError(f"{e} {tried}", url=url, hint="the server dropped the connection mid-answer; see its log")
            )
        if isinstance(e, replies.BadReply):
            hint = "the server (or a proxy before it) answered 200 without a chat completion; see its log"
            return _Failure(BackendError(f"bad reply {tried}: {e}", url=url, status=200, hint=hint))
        if isinstance(e, openai.APIError):
            return _Failure(BackendError(f"{_short(e.message)} {tried}", url=url, hint="see the server's log"))
        raise e  # anything else is a bug: keep its traceback


@dataclass(frozen=True)
class _Failure:
    error: BackendError
    retry: bool = True
    floor_s: float = 0.0  # e.g. a 429's Retry-After


@dataclass
class _Streamed:
    pieces: list[str]
    finish: str | None = None
    usage: Usage | None = None
    first_token_s: float | None = None
    model: str | None = None
    cut: bool = False  # the text reached the reply-size cap and the stream was closed there
    logprobs: list[tuple[str, float]] = field(default_factory=list)


async def _read_stream(stream: Any, on_delta: DeltaCallback, started: float, max_chars: int) -> _Streamed:
    """Read a chat stream to its end, checking every chunk; a stream that stops short is a
    `StreamCut`, a malformed one a `BadReply`, a read that times out a `TimeoutError`. Text past
    `max_chars` is not read: the stream ends there, `cut` and finished for "length"."""
    import openai

    got, chunks, chars = _Streamed([]), 0, 0
    try:
        content_type = stream.response.headers.get("content-type", "")
        if not content_type.startswith("text/event-stream"):
            data = await stream.response.aread()
            kind = content_type or "an untyped reply"
            raise replies.BadReply(f"a streamed request got {kind}, not an event stream: {replies.preview(data)}")
        async for raw in stream:
            parts = replies.chunk(raw.to_dict(warnings=False) if isinstance(raw, openai.BaseModel) else raw)
            chunks += 1
            got.usage, got.finish = parts.usage or got.usage, parts.finish_reason or got.finish
            got.model = parts.model or got.model
            got.logprobs.extend(parts.logprobs)
            for piece in parts.pieces:
                if got.first_token_s is None:
                    got.first_token_s = time.perf_counter() - started
                cut = chars + len(piece) > max_chars
                piece = piece[: max_chars - chars] if cut else piece
                chars += len(piece)
                if piece:
                    got.pieces.append(piece)
                    on_delta(piece)
                if cut:
                    got.cut, got.finish = True, "length"
                    return got
    except openai.APITimeoutError:
        raise TimeoutError from None  # a read timed out mid-stream: the call's deadline
    except openai.APIConnectionError as e:  # openai wraps a connection dropped mid-body
        raise replies.StreamCut(chunks, f"{e.__cause__ or e}") from e
    except openai.APIError as e:  # an error event inside the stream
        raise replies.BadReply(f"the stream carries an error: {_short(e.message)}") from e
    except json.JSONDecodeError as e:  # the SSE data of a chunk is not JSON
        raise replies.BadReply(f"chunk {chunks + 1} of the stream is not JSON ({e})") from e
    if got.finish is None:
        raise replies.StreamCut(chunks, "it ended without a final chunk")
    return got


class _Attempt:
    """Counts one attempt's streamed deltas, so a failed attempt's text can be retracted."""

    def __init__(self, on_delta: DeltaCallback, on_retract: RetractCallback | None):
        self._on_delta, self._on_retract, self.sent = on_delta, on_retract, 0

    def delta(self, piece: str) -> None:
        self.sent += 1
        self._on_delta(piece)

    def failed(self) -> None:
        if self.sent and self._on_retract is not None:
            self._on_retract()
        self.sent = 0


# The most characters one token can stand for, generously: a reply longer than max_tokens × this
# did not come from max_tokens tokens (a 20 MB reply claiming 4 tokens grew a store to 690 MB).
MAX_CHARS_PER_TOKEN = 32


def reply_chars(settings: GenerationSettings) -> int:
    """The longest reply `settings.max_tokens` tokens can produce, in characters."""
    return settings.max_tokens * MAX_CHARS_PER_TOKEN


def reply_bytes(settings: GenerationSettings) -> int:
    """The largest reply body read: room for the longest text even with every character JSON-escaped
    (up to 12 bytes each), and never under 64 MiB, so that a reply a little too long is read and cut
    to size (with a warning) rather than refused; only a body past this fails the call."""
    return max(64 << 20, 12 * reply_chars(settings) + (1 << 20))


def checked_reply(reply: replies.Reply, model: str, settings: GenerationSettings) -> tuple[replies.Reply, list[str]]:
    """The reply as it may be recorded, and one line for each thing about it that does not add up:
    text longer than max_tokens can produce (cut to size), no token counts (counted as 0, unknown),
    more completion tokens than max_tokens, another model than the one asked for."""
    warnings = []
    limit = reply_chars(settings)
    if len(reply.text) > limit:
        warnings.append(
            f"the reply was {len(reply.text):,} characters, more than max_tokens={settings.max_tokens} "
            f"tokens can hold ({limit:,} at {MAX_CHARS_PER_TOKEN} a token); it was cut to {limit:,}"
        )
        reply = replace(reply, text=reply.text[:limit], finish_reason="length")
    if reply.usage is None:
        warnings.append("the server reported no token usage: this call counts 0 tokens (unknown, not measured)")
    elif reply.usage.completion_tokens > settings.max_tokens:
        warnings.append(
            f"the server reports {reply.usage.completion_tokens:,} completion tokens, more than "
            f"max_tokens={settings.max_tokens}"
        )
    # a dated snapshot of the model asked for is the same model (OpenAI answers "gpt-4o" with "gpt-4o-2024-08-06")
    if reply.model and reply.model != model and not reply.model.startswith(model):
        warnings.append(f"the reply names the model {reply.model[:80]!r}, not {model[:80]!r} as requested")
    return reply, warnings


def _request(
    model: str, messages: Sequence[Message], settings: GenerationSettings, style: ResponseFormat
) -> dict[str, Any]:
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
    if settings.logprobs:
        kwargs["logprobs"] = True
    fmt = response_format(settings, style)
    if fmt is not None:
        kwargs["response_format"] = fmt
    return kwargs


def _body(response: Any) -> dict[str, Any]:
    return replies.json_object(response.content, response.headers.get("content-type", ""))


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
