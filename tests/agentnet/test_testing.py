from __future__ import annotations

import asyncio
import time

import pytest

from agentnet.errors import AgentNetError, BackendError
from agentnet.llm import LLMBackend
from agentnet.testing import Retracted, ScriptedBackend
from agentnet.types import GenerationSettings, Message

MSGS = [Message("system", "be brief"), Message("user", "what is two plus two")]


def test_replies_in_order_and_counts_tokens() -> None:
    backend = ScriptedBackend(["four", "it is four"])
    assert isinstance(backend, LLMBackend)
    first = asyncio.run(backend.complete(MSGS, GenerationSettings()))
    second = asyncio.run(backend.complete(MSGS, GenerationSettings()))
    assert (first.text, second.text) == ("four", "it is four")
    assert first.usage.prompt_tokens == 7 and first.usage.completion_tokens == 1
    assert second.usage.completion_tokens == 3
    assert [c.reply for c in backend.calls] == ["four", "it is four"]


def test_reply_function_sees_messages() -> None:
    backend = ScriptedBackend(lambda msgs, s: msgs[-1].content.upper())
    assert asyncio.run(backend.complete(MSGS, GenerationSettings())).text == "WHAT IS TWO PLUS TWO"


def test_running_out_is_an_error_unless_cycling() -> None:
    backend = ScriptedBackend(["a"])
    asyncio.run(backend.complete(MSGS, GenerationSettings()))
    with pytest.raises(AgentNetError, match="ran out of replies after 1"):
        asyncio.run(backend.complete(MSGS, GenerationSettings()))
    cycling = ScriptedBackend(["a", "b"], cycle=True)
    texts = [asyncio.run(cycling.complete(MSGS, GenerationSettings())).text for _ in range(3)]
    assert texts == ["a", "b", "a"]


def test_scripted_exception_is_raised() -> None:
    backend = ScriptedBackend([BackendError("down", url="http://x")])
    with pytest.raises(BackendError, match="down"):
        asyncio.run(backend.complete(MSGS, GenerationSettings()))


def test_a_retracted_reply_streams_retracts_then_answers() -> None:
    events: list[str] = []
    backend = ScriptedBackend([Retracted("half an", "the answer"), Retracted("x", "plain")])
    c = asyncio.run(
        backend.complete(
            MSGS, GenerationSettings(), on_delta=events.append, on_retract=lambda: events.append("<retract>")
        )
    )
    assert events == ["half", " an", "<retract>", "the", " answer"]
    assert (c.text, c.attempts, c.usage.completion_tokens) == ("the answer", 2, 2)
    quiet = asyncio.run(backend.complete(MSGS, GenerationSettings()))  # not streaming: only the answer
    assert (quiet.text, quiet.attempts) == ("plain", 2)


def test_max_tokens_truncates_with_length_finish() -> None:
    backend = ScriptedBackend(["one two three four"])
    c = asyncio.run(backend.complete(MSGS, GenerationSettings(max_tokens=2)))
    assert c.text == "one two" and c.finish_reason == "length" and c.usage.completion_tokens == 2


def test_streams_deltas_that_join_to_the_text() -> None:
    pieces: list[str] = []
    c = asyncio.run(ScriptedBackend(["a b c"]).complete(MSGS, GenerationSettings(), on_delta=pieces.append))
    assert pieces == ["a", " b", " c"] and "".join(pieces) == c.text


def test_concurrency_limit_and_latency() -> None:
    backend = ScriptedBackend(["x"], cycle=True, latency_s=0.1, max_concurrency=3)

    async def six() -> float:
        started = time.monotonic()
        await asyncio.gather(*(backend.complete(MSGS, GenerationSettings()) for _ in range(6)))
        return time.monotonic() - started

    elapsed = asyncio.run(six())
    assert backend.peak_in_flight == 3
    # six calls, three at a time, 0.1 s each: at least two latency periods (no upper bound:
    # a loaded machine only adds time, and the peak above already shows the calls overlapped)
    assert elapsed >= 0.2
