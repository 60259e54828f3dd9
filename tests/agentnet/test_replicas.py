from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from agentnet.errors import BackendError, ConfigError
from agentnet.llm import OpenAIBackend, RetryPolicy
from agentnet.replicas import Replica, ReplicaBackend, calls_per_replica
from agentnet.serving.process import unreachable
from agentnet.serving.process import ServerProcess, free_port
from agentnet.types import Completion, GenerationSettings, Message
from tests.faults import FaultServer, Step

ROOT = Path(__file__).resolve().parents[2]
NO_RETRY = RetryPolicy(max_retries=0)
SETTINGS = GenerationSettings(max_tokens=8)


def ask(text: str) -> list[Message]:
    return [Message("user", text)]


def backend_for(urls: list[str], **kwargs) -> ReplicaBackend:
    replicas = [
        Replica(u, OpenAIBackend(u, model="peer", retry=NO_RETRY, timeout_s=10, max_concurrency=None)) for u in urls
    ]
    return ReplicaBackend(replicas, name="m", **kwargs)


def prompts(server: FaultServer) -> list[str]:
    return [r["messages"][0]["content"] for r in server.requests]


def test_concurrent_calls_go_to_the_replica_with_fewest_in_flight() -> None:
    with (
        FaultServer([Step(delay_s=0.3)] * 6) as a,
        FaultServer([Step(delay_s=0.3)] * 6) as b,
        FaultServer([Step(delay_s=0.3)] * 6) as c,
    ):
        router = backend_for([a.base_url, b.base_url, c.base_url])

        async def batch() -> list[Completion]:
            return list(await asyncio.gather(*(router.complete(ask(f"q{i}"), SETTINGS) for i in range(6))))

        done = asyncio.run(batch())
    # picks happen before the first await: a, b, c, then each has one in flight: a, b, c again
    assert [d.extra["replica"] for d in done] == [a.base_url, b.base_url, c.base_url] * 2
    assert [sorted(prompts(s)) for s in (a, b, c)] == [
        ["q0", "q3"],
        ["q1", "q4"],
        ["q2", "q5"],
    ]  # arrival order may vary
    assert [s.answered for s in router.states()] == [2, 2, 2]
    assert [s.in_flight for s in router.states()] == [0, 0, 0]


def test_one_call_at_a_time_goes_round_the_replicas() -> None:
    with FaultServer([]) as a, FaultServer([]) as b:
        router = backend_for([a.base_url, b.base_url])
        seen = [asyncio.run(router.complete(ask(str(i)), SETTINGS)).extra["replica"] for i in range(4)]
    assert seen == [a.base_url, b.base_url, a.base_url, b.base_url]


def test_a_busy_replica_passes_the_call_on_but_stays_in_rotation() -> None:
    with FaultServer([Step(status=503)]) as a, FaultServer([Step(text="from b")]) as b:
        router = backend_for([a.base_url, b.base_url])
        done = asyncio.run(router.complete(ask("x"), SETTINGS))
        assert asyncio.run(router.list_models()) == ["peer"]  # asks a replica in rotation (GETs are not steps)
    assert (done.text, done.extra["replica"], done.extra["replica_failures"]) == ("from b", b.base_url, [a.base_url])
    assert done.attempts == 2
    assert (prompts(a), prompts(b)) == (["x"], ["x"])
    assert [s.failed for s in router.states()] == [1, 0]
    assert router.live() == [a.base_url, b.base_url]  # it answered its health check


def test_a_rejected_request_is_not_asked_of_another_replica() -> None:
    with FaultServer([Step(status=400)]) as a, FaultServer([]) as b:
        router = backend_for([a.base_url, b.base_url])
        with pytest.raises(BackendError, match="HTTP 400"):
            asyncio.run(router.complete(ask("too long"), SETTINGS))
    assert (prompts(a), prompts(b)) == (["too long"], [])


def test_a_dead_replica_is_taken_out_until_its_cooldown_ends() -> None:
    now = [100.0]
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    with FaultServer([]) as b:
        router = backend_for([dead, b.base_url], cooldown_s=30, clock=lambda: now[0])
        first = asyncio.run(router.complete(ask("1"), SETTINGS))
        assert (first.extra["replica"], first.extra["replica_failures"]) == (b.base_url, [dead])
        out = router.states()[0]
        assert (out.out_for_s, "refuses connections" in (out.reason or "")) == (30, True)
        assert asyncio.run(router.complete(ask("2"), SETTINGS)).extra == {"replica": b.base_url}  # not tried
        now[0] += 31
        assert router.live() == [dead, b.base_url]  # back in rotation, tried again
        again = asyncio.run(router.complete(ask("3"), SETTINGS))
    assert again.extra["replica_failures"] == [dead]
    assert prompts(b) == ["1", "2", "3"]


def test_when_every_replica_fails_the_error_names_each() -> None:
    dead = [f"http://127.0.0.1:{free_port()}/v1" for _ in range(2)]
    router = backend_for(dead)
    with pytest.raises(BackendError) as info:
        asyncio.run(router.complete(ask("x"), SETTINGS))
    assert str(info.value).startswith("every replica of 'm' failed this call: " + dead[0])
    assert dead[1] in str(info.value)


def test_a_stream_cut_on_one_replica_is_retracted_and_answered_whole_by_another() -> None:
    pieces: list[str] = []
    with (
        FaultServer([Step(mode="cut", text="half an answer here", chunks=2)]) as a,
        FaultServer([Step(text="the whole answer")]) as b,
    ):
        router = backend_for([a.base_url, b.base_url])
        done = asyncio.run(router.complete(ask("x"), SETTINGS, on_delta=pieces.append, on_retract=pieces.clear))
    assert (done.text, "".join(pieces), done.extra["replica"]) == ("the whole answer", "the whole answer", b.base_url)


def test_bad_replica_lists_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="no replicas"):
        ReplicaBackend([], name="m")
    one = Replica("http://h:1/v1", OpenAIBackend("http://h:1/v1"))
    with pytest.raises(ConfigError, match="listed twice"):
        ReplicaBackend([one, one], name="m")


def test_calls_per_replica_counts_recorded_urls_most_first() -> None:
    assert calls_per_replica(["http://b/v1", None, "http://a/v1", "http://b/v1", ""]) == {
        "http://b/v1": 2,
        "http://a/v1": 1,
    }
    assert list(calls_per_replica(["http://b/v1", "http://a/v1", "http://a/v1"])) == ["http://a/v1", "http://b/v1"]


def test_the_replica_health_check_tells_a_listening_port_from_a_closed_one() -> None:
    with FaultServer([]) as a:
        assert unreachable(a.base_url) is None
    assert "refuses connections" in (unreachable(f"http://127.0.0.1:{free_port()}/v1") or "")


def test_a_replica_killed_mid_batch_loses_no_item_and_duplicates_none(tmp_path: Path) -> None:
    """Three replicas, the first a separate process that answers three calls and then dies (with
    whatever it has in flight); 20 items, 6 at a time: every item is answered exactly once."""
    port = free_port()
    steps = json.dumps([{"delay_s": 0.05}] * 3 + [{"mode": "die"}] * 20)
    cmd = [sys.executable, "-m", "tests.faults", str(port), steps]
    doomed = f"http://127.0.0.1:{port}/v1"
    with (
        ServerProcess(cmd, tmp_path / "doomed.log", env={"PYTHONPATH": str(ROOT)}) as process,
        FaultServer([Step(delay_s=0.05)] * 40) as b,
        FaultServer([Step(delay_s=0.05)] * 40) as c,
    ):
        process.wait_ready(f"{doomed}/models", timeout_s=30)
        router = backend_for([doomed, b.base_url, c.base_url], cooldown_s=60)
        gate = asyncio.Semaphore(6)

        async def one(i: int) -> Completion:
            async with gate:
                return await router.complete(ask(f"item {i}"), SETTINGS)

        async def batch() -> list[Completion]:
            return list(await asyncio.gather(*(one(i) for i in range(20))))

        done = asyncio.run(batch())
        assert process.exit_code == 3  # it did die mid-run
    where = {f"item {i}": d.extra["replica"] for i, d in enumerate(done)}
    live = {b.base_url: prompts(b), c.base_url: prompts(c)}
    for item, replica in where.items():  # answered once: by the replica named, by no live one else
        assert sum(p.count(item) for p in live.values()) == (replica in live)
        assert replica not in live or live[replica].count(item) == 1
    counts = calls_per_replica(where.values())
    assert sum(counts.values()) == 20
    assert counts[b.base_url] > 0 and counts[c.base_url] > 0
    assert counts.get(doomed, 0) <= 3
    assert router.live() == [b.base_url, c.base_url]
