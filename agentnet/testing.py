"""Deterministic fakes that implement the real protocols, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agentnet.errors import AgentNetError
from agentnet.llm import DeltaCallback, RetractCallback
from agentnet.per_loop import concurrency_limit
from agentnet.types import FinishReason, Completion, GenerationSettings, Message, Usage


@dataclass(frozen=True)
class Retracted:
    """A scripted reply whose first streamed attempt sent `partial`, failed, and was retried.

    Streaming, the words of `partial` go to `on_delta`, then `on_retract` is called, then
    `then` is answered as usual (`attempts` is 2); without streaming only `then` is seen.
    """

    partial: str
    then: str


Reply = str | Retracted | BaseException
ReplyFn = Callable[[Sequence[Message], GenerationSettings], Reply]


def count_tokens(text: str) -> int:
    """The fake's tokenizer: one token per whitespace-separated word."""
    return len(text.split())


@dataclass(frozen=True)
class ScriptedCall:
    messages: tuple[Message, ...]
    settings: GenerationSettings
    reply: str


class ScriptedBackend:
    """An `LLMBackend` that answers from a list (in order) or from a function of the messages.

    A reply that is an exception instance is raised instead of answered, which scripts
    error paths; a `Retracted` reply scripts a stream retried after a partial answer.
    Tokens are counted with `count_tokens`: prompt tokens over all message contents,
    completion tokens over the reply. `latency_s` is awaited per call (inside
    the concurrency limit), so concurrency behaves as against a real server. With `logprob`
    (a value, or a function of the reply) a call that asks for log-probabilities gets one per
    word, as a server sends one per token.
    """

    def __init__(
        self,
        replies: Sequence[Reply] | ReplyFn,
        *,
        name: str = "scripted",
        latency_s: float = 0.0,
        max_concurrency: int | None = None,
        cycle: bool = False,
        model: str = "scripted",
        logprob: float | Callable[[str], float] | None = None,
    ):
        self.name = name
        self.model = model
        self.logprob = logprob
        self.latency_s = latency_s
        self.max_concurrency = max_concurrency
        self._fn = replies if callable(replies) else None
        self._replies = [] if callable(replies) else list(replies)
        self._cycle = cycle
        self._next = 0
        self._limit = concurrency_limit(max_concurrency)
        self.calls: list[ScriptedCall] = []
        self.in_flight = 0
        self.peak_in_flight = 0

    def _pick(self, messages: Sequence[Message], settings: GenerationSettings) -> Reply:
        if self._fn is not None:
            return self._fn(messages, settings)
        if self._next >= len(self._replies):
            if not self._cycle or not self._replies:
                raise AgentNetError(
                    f"ScriptedBackend ran out of replies after {self._next} calls; "
                    "pass more replies, a function, or cycle=True"
                )
            self._next = 0
        reply = self._replies[self._next]
        self._next += 1
        return reply

    async def complete(
        self,
        messages: Sequence[Message],
        settings: GenerationSettings,
        *,
        on_delta: DeltaCallback | None = None,
        on_retract: RetractCallback | None = None,
    ) -> Completion:
        async with self._limit.get():
            started = time.perf_counter()  # latency excludes waiting for a free slot
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                reply = self._pick(messages, settings)
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)
            finally:
                self.in_flight -= 1
        if isinstance(reply, BaseException):
            raise reply
        attempts = 1
        if isinstance(reply, Retracted):
            if on_delta is not None:
                _stream_words(reply.partial, on_delta)
                if on_retract is not None:
                    on_retract()
            reply, attempts = reply.then, 2
        finish: FinishReason = "stop"
        if count_tokens(reply) > settings.max_tokens:
            reply, finish = " ".join(reply.split()[: settings.max_tokens]), "length"
        if on_delta is not None:
            _stream_words(reply, on_delta)
        self.calls.append(ScriptedCall(tuple(messages), settings, reply))
        usage = Usage(sum(count_tokens(m.content) for m in messages), count_tokens(reply))
        extra = {}
        if settings.logprobs and self.logprob is not None:
            value = self.logprob(reply) if callable(self.logprob) else self.logprob
            extra["token_logprobs"] = [(piece, value) for piece in _words(reply)]
        return Completion(
            text=reply,
            finish_reason=finish,
            usage=usage,
            latency_s=time.perf_counter() - started,
            model=self.model,
            attempts=attempts,
            extra=extra,
        )


def _words(text: str) -> list[str]:
    """The text in pieces that join back to it: the first word, then " word" for each next."""
    return [word if i == 0 else " " + word for i, word in enumerate(text.split(" "))]


def _stream_words(text: str, on_delta: DeltaCallback) -> None:
    for piece in _words(text):
        on_delta(piece)
