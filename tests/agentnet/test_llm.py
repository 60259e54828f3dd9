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
    started = time.monotonic()
    with pytest.raises(BackendError) as info:
        asyncio.run(backend.complete(HELLO, GenerationSettings()))
    assert time.monotonic() - started < 5
    assert url in str(info.value)
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
        backend = OpenAIBackend(peer.base_url, model="m", timeout_s=0.2, retry=RetryPolicy(max_retries=1, base_delay_s=0.01))
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
    with OpenAIPeer([Step(delay_s=0.2)] * 4) as peer:
        backend = OpenAIBackend(peer.base_url, model="m", max_concurrency=2)

        async def four() -> float:
            started = time.monotonic()
            await asyncio.gather(*(backend.complete(HELLO, GenerationSettings()) for _ in range(4)))
            return time.monotonic() - started

        elapsed = asyncio.run(four())
    assert 0.4 <= elapsed < 0.8  # two waves of two


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
        c = asyncio.run(OpenAIBackend(peer.base_url, model="m").complete(HELLO, GenerationSettings(), on_delta=pieces.append))
        assert len(peer.requests) == 1  # no usage probe
    assert pieces == ["a", " b", " c"] and c.text == "a b c" and c.finish_reason == "stop"
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (7, 2) and "usage_source" not in c.extra
