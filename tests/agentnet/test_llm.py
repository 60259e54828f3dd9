from __future__ import annotations

import asyncio
import json
import random
import time

import pytest

from agentnet.errors import BackendError, BackendTimeoutError, ConfigError
from agentnet.llm import LLMBackend, OpenAIBackend, RetryPolicy
from agentnet.serving.process import free_port
from agentnet.types import GenerationSettings, Message
from tests.openai_peer import OpenAIPeer, Step

FAST = RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=0.05)
HELLO = [Message("user", "hello")]


def test_backend_satisfies_protocol() -> None:
    assert isinstance(OpenAIBackend("http://127.0.0.1:1/v1"), LLMBackend)


def test_closed_port_fails_fast_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    backend = OpenAIBackend(url, model="m", retry=FAST)
    with pytest.raises(BackendError) as info:
        asyncio.run(backend.complete(HELLO, GenerationSettings()))
    assert url in str(info.value) and "cannot connect after" in str(info.value)
    assert "agentnet serve" in str(info.value)  # the hint
    assert "3 attempts" in str(info.value)


def test_500_then_success_is_retried() -> None:
    with OpenAIPeer([Step(500), Step(503), Step(text="fine")]) as peer:
        backend = OpenAIBackend(peer.base_url, retry=FAST)
        completion = asyncio.run(backend.complete(HELLO, GenerationSettings()))
    assert completion.text == "fine"
    assert completion.attempts == 3
    assert completion.usage.prompt_tokens == 7 and completion.usage.completion_tokens == 2
    assert completion.model == "peer"  # discovered from /v1/models
    assert len(peer.requests) == 3


def test_429_honours_retry_after() -> None:
    with OpenAIPeer([Step(429, headers=(("Retry-After", "0.3"),)), Step(text="late")]) as peer:
        backend = OpenAIBackend(peer.base_url, model="m", retry=FAST)
        started = time.monotonic()
        completion = asyncio.run(backend.complete(HELLO, GenerationSettings()))
    assert completion.text == "late" and time.monotonic() - started >= 0.3


def test_persistent_500_gives_up_with_status() -> None:
    with OpenAIPeer([Step(500)] * 5) as peer:
        backend = OpenAIBackend(peer.base_url, model="m", retry=FAST)
        with pytest.raises(BackendError) as info:
            asyncio.run(backend.complete(HELLO, GenerationSettings()))
    assert info.value.status == 500 and len(peer.requests) == 3


def test_404_is_not_retried_and_hints_at_model() -> None:
    with OpenAIPeer([Step(404), Step(text="never")]) as peer:
        backend = OpenAIBackend(peer.base_url, model="nope", retry=FAST)
        with pytest.raises(BackendError) as info:
            asyncio.run(backend.complete(HELLO, GenerationSettings()))
    assert len(peer.requests) == 1
    assert "'nope'" in str(info.value) and "/models" in str(info.value)


def test_timeout_is_reported() -> None:
    with OpenAIPeer([Step(delay_s=1.0)] * 3) as peer:
        backend = OpenAIBackend(
            peer.base_url, model="m", timeout_s=0.2, retry=RetryPolicy(max_retries=1, base_delay_s=0.01)
        )
        with pytest.raises(BackendTimeoutError) as info:
            asyncio.run(backend.complete(HELLO, GenerationSettings()))
    assert "0.2s" in str(info.value) and "timeout" in str(info.value)


def test_request_carries_settings() -> None:
    settings = GenerationSettings(temperature=0.5, max_tokens=12, stop=("\n",), seed=3, json_mode=True)
    with OpenAIPeer([Step()]) as peer:
        asyncio.run(OpenAIBackend(peer.base_url, model="m").complete(HELLO, settings))
    sent = peer.requests[0]
    assert sent["model"] == "m" and sent["max_tokens"] == 12 and sent["temperature"] == 0.5
    assert sent["stop"] == ["\n"] and sent["seed"] == 3
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["messages"] == [{"role": "user", "content": "hello"}]


SCHEMA = '{"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}'


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("openai", {"type": "json_schema", "json_schema": {"name": "reply", "schema": json.loads(SCHEMA)}}),
        ("llama-cpp-python", {"type": "json_object", "schema": json.loads(SCHEMA)}),
    ],
)
def test_a_json_schema_is_sent_in_the_servers_format(style: str, expected: dict) -> None:
    with OpenAIPeer([Step()]) as peer:
        backend = OpenAIBackend(peer.base_url, model="m", response_format=style)  # type: ignore[arg-type]
        asyncio.run(backend.complete(HELLO, GenerationSettings(json_schema=SCHEMA, json_mode=True)))
    assert peer.requests[0]["response_format"] == expected


def test_bad_structured_output_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="json_schema='not json'"):
        GenerationSettings(json_schema="not json")
    with pytest.raises(ConfigError, match="response_format='xml'.*llama-cpp-python"):
        OpenAIBackend("http://x/v1", response_format="xml")  # type: ignore[arg-type]


def test_concurrency_limit_queues_requests() -> None:
    with OpenAIPeer([Step(delay_s=0.6)] * 4) as peer:
        backend = OpenAIBackend(peer.base_url, model="m", max_concurrency=2)

        async def four() -> tuple[int, int]:
            calls = [asyncio.ensure_future(backend.complete(HELLO, GenerationSettings())) for _ in range(4)]
            await asyncio.sleep(0.3)  # the first wave is at the server, answering in 0.6 s
            in_flight = len(peer.requests)
            await asyncio.gather(*calls)
            return in_flight, len(peer.requests)

        in_flight, total = asyncio.run(four())
    assert (in_flight, total) == (2, 4)  # two waves of two


def test_backend_survives_several_event_loops() -> None:
    with OpenAIPeer([Step(text="a"), Step(text="b")]) as peer:
        backend = OpenAIBackend(peer.base_url, model="m", max_concurrency=1)
        first = asyncio.run(backend.complete(HELLO, GenerationSettings()))
        second = asyncio.run(backend.complete(HELLO, GenerationSettings()))
    assert (first.text, second.text) == ("a", "b")


def test_retry_delay_grows_and_is_capped() -> None:
    policy, rng = RetryPolicy(base_delay_s=1.0, max_delay_s=4.0), random.Random(0)
    delays = [policy.delay(i, rng) for i in range(5)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0
    assert all(2.0 <= d <= 4.0 for d in delays[2:])


@pytest.mark.parametrize("kwargs", [{"timeout_s": 0}, {"max_concurrency": 0}])
def test_bad_construction_is_a_config_error(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        OpenAIBackend("http://127.0.0.1:1/v1", **kwargs)


def test_base_url_needs_a_scheme() -> None:
    with pytest.raises(ConfigError, match="http://"):
        OpenAIBackend("localhost:8000/v1")


def test_stream_takes_usage_from_the_server_when_it_sends_it() -> None:
    pieces: list[str] = []
    with OpenAIPeer([Step(text="a b c")]) as peer:
        c = asyncio.run(
            OpenAIBackend(peer.base_url, model="m").complete(HELLO, GenerationSettings(), on_delta=pieces.append)
        )
        assert len(peer.requests) == 1  # no usage probe
    assert pieces == ["a", " b", " c"] and c.text == "a b c" and c.finish_reason == "stop"
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (7, 2) and "usage_source" not in c.extra


# -- faults: bad 200 replies, cut and slow streams (tests/faults.py) ---------------------------

BAD_200 = {
    "not_json": "not JSON (application/json",
    "text_plain": "not JSON (text/plain",
    "empty_choices": "'choices' is empty",
    "null_content": "content is null",
    "no_message": "has no message",
    "wrong_types": "'choices' is a str, not a list",
}


@pytest.mark.parametrize("mode", sorted(BAD_200))
def test_a_bad_200_is_retried_like_a_5xx(mode: str) -> None:
    with OpenAIPeer([Step(mode=mode), Step(text="fine")]) as peer:  # type: ignore[arg-type]
        completion = asyncio.run(
            OpenAIBackend(peer.base_url, model="m", retry=FAST).complete(HELLO, GenerationSettings())
        )
    assert (completion.text, completion.attempts) == ("fine", 2)


@pytest.mark.parametrize("mode", sorted(BAD_200))
def test_a_persistent_bad_200_is_a_backend_error_saying_what_was_wrong(mode: str) -> None:
    with OpenAIPeer([Step(mode=mode)] * 3) as peer:  # type: ignore[arg-type]
        backend = OpenAIBackend(peer.base_url, model="m", retry=FAST)
        with pytest.raises(BackendError) as info:
            asyncio.run(backend.complete(HELLO, GenerationSettings()))
    text = str(info.value)
    assert BAD_200[mode] in text and "bad reply after 3 attempts" in text and peer.base_url in text
    assert info.value.status == 200 and len(peer.requests) == 3


@pytest.mark.parametrize(
    ("mode", "says"),
    [("bad_chunk", "chunk 2 of the stream is not JSON"), ("text_plain", "got text/plain, not an event stream")],
)
def test_a_bad_stream_is_a_backend_error(mode: str, says: str) -> None:
    with OpenAIPeer([Step(mode=mode, text="a b c")] * 3) as peer:  # type: ignore[arg-type]
        backend = OpenAIBackend(peer.base_url, model="m", retry=FAST)
        with pytest.raises(BackendError, match=says):
            asyncio.run(backend.complete(HELLO, GenerationSettings(), on_delta=lambda piece: None))


@pytest.mark.parametrize(("mode", "how"), [("cut", "incomplete chunked read"), ("truncated", "without a final chunk")])
def test_a_cut_stream_is_named_as_such(mode: str, how: str) -> None:
    with OpenAIPeer([Step(mode=mode, text="a b c d", chunks=2)] * 3) as peer:  # type: ignore[arg-type]
        backend = OpenAIBackend(peer.base_url, model="m", retry=FAST)
        with pytest.raises(BackendError) as info:
            asyncio.run(backend.complete(HELLO, GenerationSettings(), on_delta=lambda piece: None))
    text = str(info.value)
    assert "the stream was cut after 2 chunks" in text and how in text and "after 3 attempts" in text
    assert "cannot connect" not in text


def test_a_retried_stream_retracts_the_failed_attempts_text() -> None:
    events: list[str] = []
    steps = [Step(mode="cut", text="wrong half answer", chunks=2), Step(500), Step(text="right answer")]
    with OpenAIPeer(steps) as peer:
        c = asyncio.run(
            OpenAIBackend(peer.base_url, model="m", retry=FAST).complete(
                HELLO, GenerationSettings(), on_delta=events.append, on_retract=lambda: events.append("<retract>")
            )
        )
    # one retraction: after the cut attempt's two pieces; the 500 had sent nothing
    assert events == ["wrong", " half", "<retract>", "right", " answer"]
    assert c.text == "right answer" and c.attempts == 3


def test_a_stream_that_fails_for_good_retracts_its_text_too() -> None:
    events: list[str] = []
    with OpenAIPeer([Step(mode="cut", text="a b c", chunks=1)] * 2) as peer:
        backend = OpenAIBackend(peer.base_url, model="m", retry=RetryPolicy(max_retries=1, base_delay_s=0.01))
        with pytest.raises(BackendError):
            asyncio.run(
                backend.complete(
                    HELLO, GenerationSettings(), on_delta=events.append, on_retract=lambda: events.append("<retract>")
                )
            )
    assert events == ["a", "<retract>", "a", "<retract>"]


def test_timeout_bounds_a_trickling_stream_as_a_whole() -> None:
    # a word every 0.15 s never trips a per-read timeout of 0.5 s; the whole 2 s answer must
    steps = [Step(mode="trickle", text=" ".join("w" * 14), interval_s=0.15)] * 2
    events: list[str] = []
    with OpenAIPeer(steps) as peer:
        backend = OpenAIBackend(
            peer.base_url, model="m", timeout_s=0.5, retry=RetryPolicy(max_retries=1, base_delay_s=0.01)
        )
        with pytest.raises(BackendTimeoutError, match="no complete answer within 0.5s after 2 attempts"):
            asyncio.run(
                backend.complete(
                    HELLO, GenerationSettings(), on_delta=events.append, on_retract=lambda: events.append("<retract>")
                )
            )
    words = [e for e in events if e != "<retract>"]
    # each attempt was cut off part-way: neither delivered all 14 words (a per-read timeout would have let it)
    assert events.count("<retract>") == 2 and 2 <= len(words) < 2 * 14


def test_timeout_bounds_a_trickling_body_as_a_whole() -> None:
    with OpenAIPeer([Step(mode="trickle", interval_s=0.2)] * 2) as peer:  # ten slices: 2 s
        backend = OpenAIBackend(
            peer.base_url, model="m", timeout_s=0.5, retry=RetryPolicy(max_retries=1, base_delay_s=0.01)
        )
        # every slice arrives within a per-read timeout of 0.5 s: only a deadline on the whole attempt ends it
        with pytest.raises(BackendTimeoutError, match="no complete answer within 0.5s after 2 attempts"):
            asyncio.run(backend.complete(HELLO, GenerationSettings()))


def test_a_stalled_stream_times_out() -> None:
    with OpenAIPeer([Step(mode="stall", delay_s=5)] * 2) as peer:
        backend = OpenAIBackend(
            peer.base_url, model="m", timeout_s=0.3, retry=RetryPolicy(max_retries=1, base_delay_s=0.01)
        )
        with pytest.raises(BackendTimeoutError, match="0.3s after 2 attempts"):  # the stall (5 s) never ran its course
            asyncio.run(backend.complete(HELLO, GenerationSettings(), on_delta=lambda piece: None))


def test_a_stream_without_usage_takes_the_prompt_count_from_a_one_token_request() -> None:
    with OpenAIPeer([Step(text="a b c", stream_usage=False), Step(text="x")]) as peer:
        c = asyncio.run(
            OpenAIBackend(peer.base_url, model="m").complete(HELLO, GenerationSettings(), on_delta=lambda piece: None)
        )
    assert len(peer.requests) == 2 and peer.requests[1]["max_tokens"] == 1 and not peer.requests[1].get("stream")
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (7, 3) and c.extra["usage_source"] == "probe+chunks"
