from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import pytest

from agentnet.agents import AgentSpec
from agentnet.cache import CacheConfig, CachedBackend, cache_key
from agentnet.errors import ConfigError
from agentnet.graph import CommGraph, Decision
from agentnet.runtime import Team
from agentnet.serving import Server
from agentnet.testing import ScriptedBackend
from agentnet.trajectory import Trajectory
from agentnet.types import GenerationSettings, Message
from tests.agentnet.mounts import fill, remount, tmpfs

QUERIES = [f"What is {i} + {i}?" for i in range(12)]
AGENTS = tuple(AgentSpec(f"a{i}", "math_solver") for i in range(3))
CHAIN = CommGraph.uniform(AGENTS, [("a0", "a1"), ("a1", "a2")])
T0 = GenerationSettings(temperature=0.0, max_tokens=64)
HELLO = (Message("user", "hello"),)


def _echo(messages: Sequence[Message], settings: GenerationSettings) -> str:
    """A deterministic answer that depends on the whole prompt, like a temperature-0 model."""
    words = sum(len(m.content.split()) for m in messages)
    return f"I read {words} words. The answer is {words % 17}"


def _run_team(path: Path) -> tuple[list[str], list[int], ScriptedBackend, CachedBackend]:
    inner = ScriptedBackend(_echo)
    cached = CachedBackend(inner, path)
    trajectories = Team(CHAIN, cached).batch(QUERIES, concurrency=4)
    cached.close()
    return [t.answer for t in trajectories], [t.usage.total_tokens for t in trajectories], inner, cached


def test_a_second_identical_run_is_served_from_the_cache_with_the_same_answers_and_spent_tokens(tmp_path: Path) -> None:
    answers, spent, first_inner, first = _run_team(tmp_path / "cache.sqlite")
    assert first.hits == 0 and len(first_inner.calls) == first.misses == len(QUERIES) * 4  # 3 agents + decision
    again, spent_again, second_inner, second = _run_team(tmp_path / "cache.sqlite")  # a fresh wrapper: from the file
    assert second.hit_rate is not None and second.hit_rate >= 0.95
    assert second_inner.calls == []  # the server was not asked once
    assert again == answers and spent_again == spent


def test_trajectories_of_a_cached_run_say_which_calls_the_cache_answered(tmp_path: Path) -> None:
    _run_team(tmp_path / "cache.sqlite")
    cached = CachedBackend(ScriptedBackend(_echo), tmp_path / "cache.sqlite")
    t = Team(CHAIN, cached).run(QUERIES[0])
    assert t.cached_calls == t.calls == 4 and t.served_usage.total_tokens == 0


def test_a_hit_keeps_the_usage_marks_itself_and_streams_its_text(tmp_path: Path) -> None:
    cached = CachedBackend(ScriptedBackend(["one two three"]), tmp_path / "c.sqlite")
    first = asyncio.run(cached.complete(HELLO, T0))
    pieces: list[str] = []
    hit = asyncio.run(cached.complete(HELLO, T0, on_delta=pieces.append))
    assert (hit.text, hit.usage, hit.finish_reason) == (first.text, first.usage, first.finish_reason)
    assert hit.extra["cached"] is True and "cached" not in first.extra and hit.attempts == 0
    assert "".join(pieces) == "one two three"


def test_sampled_calls_pass_through_unless_mode_all(tmp_path: Path) -> None:
    warm = GenerationSettings(temperature=0.7)
    deterministic = CachedBackend(ScriptedBackend(["a", "b"]), tmp_path / "d.sqlite")
    assert [asyncio.run(deterministic.complete(HELLO, warm)).text for _ in range(2)] == ["a", "b"]
    assert (deterministic.hits, deterministic.misses) == (0, 0)
    everything = CachedBackend(ScriptedBackend(["a", "b"]), tmp_path / "a.sqlite", mode="all")
    assert [asyncio.run(everything.complete(HELLO, warm)).text for _ in range(2)] == ["a", "a"]


def test_errors_are_never_cached(tmp_path: Path) -> None:
    from agentnet.errors import BackendError

    cached = CachedBackend(ScriptedBackend([BackendError("boom", url="http://x"), "fine"]), tmp_path / "c.sqlite")
    with pytest.raises(BackendError):
        asyncio.run(cached.complete(HELLO, T0))
    assert asyncio.run(cached.complete(HELLO, T0)).text == "fine"  # the server is asked again
    assert asyncio.run(cached.complete(HELLO, T0)).extra["cached"] is True


def test_the_key_covers_model_messages_and_every_setting() -> None:
    base = cache_key("", "m", HELLO, T0)
    assert base == cache_key("", "m", HELLO, T0.with_(model="m"))  # the default model, named
    variants = [
        cache_key("", "other", HELLO, T0),
        cache_key("", "m", (Message("system", "hello"),), T0),
        cache_key("", "m", HELLO + (Message("user", ""),), T0),
        cache_key("llama-server", "m", HELLO, T0),
        *(
            cache_key("", "m", HELLO, T0.with_(**{k: v}))
            for k, v in [
                ("max_tokens", 65),
                ("top_p", 0.9),
                ("stop", ("\n",)),
                ("seed", 1),
                ("json_mode", True),
                ("json_schema", '{"type": "object"}'),
                ("temperature", 0.5),
            ]
        ),
    ]
    assert len({base, *variants}) == len(variants) + 1


def test_identical_calls_in_flight_share_one_request(tmp_path: Path) -> None:
    inner = ScriptedBackend(["shared"], latency_s=0.05)
    cached = CachedBackend(inner, tmp_path / "c.sqlite")

    async def four() -> list[str]:
        return [c.text for c in await asyncio.gather(*(cached.complete(HELLO, T0) for _ in range(4)))]

    assert asyncio.run(four()) == ["shared"] * 4 and len(inner.calls) == 1
    assert (cached.hits, cached.misses) == (3, 1)


def test_a_failed_leader_leaves_its_followers_to_ask_themselves(tmp_path: Path) -> None:
    from agentnet.errors import BackendError

    inner = ScriptedBackend([BackendError("boom", url="http://x"), "second", "third"], latency_s=0.02)
    cached = CachedBackend(inner, tmp_path / "c.sqlite")

    async def two() -> list[object]:
        return await asyncio.gather(cached.complete(HELLO, T0), cached.complete(HELLO, T0), return_exceptions=True)

    leader, follower = asyncio.run(two())
    assert isinstance(leader, BackendError) and follower.text == "second"  # type: ignore[union-attr]


def test_the_backend_name_and_model_are_the_inner_ones(tmp_path: Path) -> None:
    inner = ScriptedBackend(["x"], name="solver", model="m1", max_concurrency=2)
    cached = CachedBackend(inner, tmp_path / "c.sqlite")
    assert (cached.name, cached.model, cached.max_concurrency) == ("solver", "m1", 2)


_WRITER = """
import asyncio, sys
from agentnet.cache import CachedBackend
from agentnet.testing import ScriptedBackend
from agentnet.types import GenerationSettings, Message
cached = CachedBackend(ScriptedBackend(lambda m, s: "answer " + m[0].content), sys.argv[1])
async def main():
    await asyncio.gather(*(cached.complete([Message("user", f"q{i}")], GenerationSettings()) for i in range(60)))
asyncio.run(main())
print(cached.misses + cached.hits, cached.write_errors)
"""


def test_several_processes_share_one_cache_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs) and outputs == [["60", "0"]] * 3
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone() == (60,)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# -- bad paths -------------------------------------------------------------------------------
def test_a_missing_directory_is_one_config_error_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"directory .*nope does not exist; mkdir -p .*nope or pass") as e:
        CachedBackend(ScriptedBackend(["x"]), tmp_path / "nope" / "c.sqlite")
    assert "\n" not in str(e.value) and not (tmp_path / "nope").exists()


def test_a_directory_or_a_file_that_is_no_database_is_refused_unharmed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory; name a file in it"):
        CachedBackend(ScriptedBackend(["x"]), tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes " * 1000)
    with pytest.raises(ConfigError, match="cannot hold a response cache .*file is not a database"):
        CachedBackend(ScriptedBackend(["x"]), notes)
    assert notes.read_text() == "my notes " * 1000


def test_a_read_only_directory_is_one_config_error(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro") as mount:
        remount(mount, "ro")
        with pytest.raises(ConfigError, match=r"cache path .*c\.sqlite is read-only .*writable directory"):
            CachedBackend(ScriptedBackend(["x"]), mount / "c.sqlite")


def test_a_full_disk_loses_copies_not_answers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with tmpfs(tmp_path / "small", size="256k") as mount:
        cached = CachedBackend(ScriptedBackend(lambda m, s: "word " * 2000), mount / "c.sqlite")
        asyncio.run(cached.complete(HELLO, T0))
        filler = fill(mount)
        with caplog.at_level(logging.WARNING, logger="agentnet.cache"):
            answer = asyncio.run(cached.complete((Message("user", "other"),), T0))
        assert answer.text.startswith("word") and cached.write_errors == 1
        assert "not written" in caplog.text and "full" in caplog.text
        filler.unlink()
        assert asyncio.run(cached.complete(HELLO, T0)).extra["cached"] is True  # what was stored survived


def test_cache_config_wraps_only_when_a_path_is_given(tmp_path: Path) -> None:
    inner = ScriptedBackend(["x"])
    assert CacheConfig().wrap(inner) is inner
    wrapped = CacheConfig(tmp_path / "c.sqlite", "all").wrap(inner, namespace="llama-cpp")
    assert isinstance(wrapped, CachedBackend) and (wrapped.mode, wrapped.namespace) == ("all", "llama-cpp")
    assert all(f.metadata.get("help") for f in fields(CacheConfig))  # the CLI generates --cache from these
    with pytest.raises(ConfigError, match="cache mode 'sometimes' unknown; use one of deterministic, all"):
        CacheConfig(tmp_path / "c.sqlite", "sometimes")  # type: ignore[arg-type]


@pytest.mark.integration
def test_a_second_run_on_the_embedded_model_is_served_from_the_cache(smollm2_server: Server, tmp_path: Path) -> None:
    settings = GenerationSettings(temperature=0.0, max_tokens=24)
    specs = (AgentSpec("a0", "math_solver", settings), AgentSpec("a1", "inspector", settings))
    graph = CommGraph.uniform(specs, [("a0", "a1")], decision=Decision("final_refer", settings=settings))
    queries = ["What is 2 + 3?", "What is 10 - 4?"]

    def run() -> tuple[list[Trajectory], CachedBackend]:
        cached = CachedBackend(smollm2_server.backend(), tmp_path / "cache.sqlite", namespace="llama-server")
        trajectories = Team(graph, cached).batch(queries, concurrency=2)
        cached.close()
        return trajectories, cached

    first, cold = run()
    second, warm = run()
    assert not any(t.errors for t in first + second)
    assert (cold.hits, cold.misses) == (0, 6)  # 2 agents + the decision, per query
    assert warm.hit_rate is not None and warm.hit_rate >= 0.95
    assert [t.answer for t in second] == [t.answer for t in first]
    assert [t.usage for t in second] == [t.usage for t in first]  # spent tokens: the same


def test_a_streamed_miss_passes_the_retraction_through(tmp_path: Path) -> None:
    from agentnet.testing import Retracted
    from agentnet.types import Message as Msg

    cached = CachedBackend(ScriptedBackend([Retracted("half an", "The answer is 4")]), tmp_path / "c.sqlite")
    events: list[str] = []
    c = asyncio.run(
        cached.complete(
            [Msg("user", "q")],
            GenerationSettings(),
            on_delta=events.append,
            on_retract=lambda: events.append("<retract>"),
        )
    )
    assert c.text == "The answer is 4" and events[:3] == ["half", " an", "<retract>"]
