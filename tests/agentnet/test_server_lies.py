"""A server that lies about its reply — token counts past 64 bits, negative or fractional, none at
all, another model, a reply far longer than max_tokens allows — gives a failed call naming the
value, or an answer with a warning; never a crash of the run store or of a checkpointed run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentnet.agents import AgentSpec
from agentnet.errors import BackendError, ConfigError, StoreError
from agentnet.evaluation import evaluate
from agentnet.graph import CommGraph, Decision
from agentnet.llm import MAX_CHARS_PER_TOKEN, OpenAIBackend, RetryPolicy
from agentnet.runtime import Team
from agentnet.store import ResultRow, RunConfig, RunStore
from agentnet.task_types import Item, Score
from agentnet.types import GenerationSettings, Message, Usage
from tests.faults import USAGE, FaultServer, Step

ONCE = RetryPolicy(max_retries=0)
ASK = [Message("user", "hi")]
HUGE = 2**70


def backend(server: FaultServer, **kw) -> OpenAIBackend:
    return OpenAIBackend(server.base_url, model="peer", retry=ONCE, **kw)


def complete(step: Step, settings: GenerationSettings = GenerationSettings(), *, stream: bool = False, **kw):
    pieces: list[str] = []
    with FaultServer([step, step]) as server:  # twice: a stream without usage probes once more
        b = backend(server, **kw)
        on_delta = pieces.append if stream else None
        completion = asyncio.run(b.complete(ASK, settings, on_delta=on_delta))
    return completion, pieces


def fails(step: Step, *, stream: bool = False) -> str:
    with pytest.raises(BackendError) as e:
        complete(step, stream=stream)
    return str(e.value)


BAD_COUNTS = {
    "above 2**63": {"prompt_tokens": HUGE, "completion_tokens": 2},
    "above 10**9": {"prompt_tokens": 7, "completion_tokens": 10**9 + 1},
    "negative": {"prompt_tokens": -5, "completion_tokens": 2},
    "fractional": {"prompt_tokens": 3.5, "completion_tokens": 2},
    "a string": {"prompt_tokens": "7", "completion_tokens": 2},
    "true": {"prompt_tokens": True, "completion_tokens": 2},
}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("usage", BAD_COUNTS.values(), ids=BAD_COUNTS.keys())
def test_counts_that_are_not_counts_fail_the_call_naming_them(usage: dict, stream: bool) -> None:
    message = fails(Step(usage=usage), stream=stream)
    assert "'usage'" in message and "bad reply" in message


def test_a_count_past_64_bits_names_its_size() -> None:
    assert "1.18e+21 tokens for one call" in fails(Step(usage={"prompt_tokens": HUGE, "completion_tokens": 1}))


def test_missing_usage_is_a_warning_not_a_silent_zero() -> None:
    completion, _ = complete(Step(text="four", usage=None))
    assert completion.text == "four" and completion.usage == Usage(0, 0)
    assert completion.extra["warnings"] == [
        "the server reported no token usage: this call counts 0 tokens (unknown, not measured)"
    ]


def test_a_stream_without_usage_anywhere_is_a_warning() -> None:
    # no usage chunk in the stream, and none in the one-token probe either
    completion, pieces = complete(Step(text="two words", usage=None), stream=True)
    assert "".join(pieces) == completion.text == "two words"
    assert any("no token usage" in w for w in completion.extra["warnings"])


def test_a_reply_naming_another_model_is_a_warning() -> None:
    completion, _ = complete(Step(text="ok", model="some-other-model"))
    assert completion.text == "ok" and completion.usage == Usage(7, 2)
    assert completion.extra["warnings"] == ["the reply names the model 'some-other-model', not 'peer' as requested"]


def test_a_dated_snapshot_of_the_model_asked_for_is_no_warning() -> None:
    completion, _ = complete(Step(text="ok", model="peer-2024-08-06"))
    assert "warnings" not in completion.extra


def test_a_streamed_reply_naming_another_model_is_a_warning() -> None:
    completion, _ = complete(Step(text="ok then", model="imposter"), stream=True)
    assert completion.extra["warnings"] == ["the reply names the model 'imposter', not 'peer' as requested"]


def test_an_honest_reply_has_no_warnings() -> None:
    completion, _ = complete(Step(text="fine"))
    assert "warnings" not in completion.extra and completion.usage == Usage(7, 2)


def test_more_completion_tokens_than_max_tokens_is_a_warning() -> None:
    completion, _ = complete(
        Step(usage={"prompt_tokens": 1, "completion_tokens": 99}), GenerationSettings(max_tokens=8)
    )
    assert completion.extra["warnings"] == ["the server reports 99 completion tokens, more than max_tokens=8"]


def test_a_reply_longer_than_max_tokens_can_hold_is_cut_with_a_warning() -> None:
    settings = GenerationSettings(max_tokens=4)
    limit = 4 * MAX_CHARS_PER_TOKEN
    completion, _ = complete(Step(text="x" * 10_000, usage={"prompt_tokens": 3, "completion_tokens": 4}), settings)
    assert completion.text == "x" * limit and completion.finish_reason == "length"
    assert completion.extra["warnings"] == [
        f"the reply was 10,000 characters, more than max_tokens=4 tokens can hold ({limit} at 32 a token); "
        f"it was cut to {limit}"
    ]


def test_a_streamed_reply_longer_than_max_tokens_can_hold_is_cut_and_closed() -> None:
    settings = GenerationSettings(max_tokens=2)
    text = " ".join(["word"] * 200)  # 999 characters in 200 chunks
    completion, pieces = complete(Step(text=text), settings, stream=True)
    assert "".join(pieces) == completion.text == text[:64] and completion.finish_reason == "length"
    assert completion.extra["warnings"][0] == (
        "the streamed reply passed 64 characters, more than max_tokens=2 "
        "tokens can hold; it was cut there and the stream closed"
    )


def test_a_body_past_the_byte_bound_fails_without_being_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    import agentnet.llm

    monkeypatch.setattr(agentnet.llm, "reply_bytes", lambda settings: 2_000)
    message = fails(Step(text="y" * 50_000))
    assert "the reply passed 2,000 bytes" in message


@pytest.mark.parametrize("value", [float("nan"), 0, -1, float("inf")])
def test_a_backend_refuses_a_timeout_that_bounds_nothing(value: float) -> None:
    with pytest.raises(ConfigError, match="timeout_s="):
        OpenAIBackend("http://127.0.0.1:1/v1", timeout_s=value)


# -- end to end: the run store and checkpointed runs ------------------------------------------
class One:
    name, roles, decision = "one", ("math_solver",), "last_agent"

    def __init__(self, n: int = 2):
        self._items = [Item(f"one/{i}", f"{i}+1", str(i + 1)) for i in range(n)]

    def items(self, split: str = "test"):
        return iter(self._items)

    def extract(self, output: str) -> str:
        return output.split()[-1] if output.split() else ""

    async def score(self, item: Item, output: str) -> Score:
        got = self.extract(output)
        return Score(float(got == item.answer), got)


def one_agent(b: OpenAIBackend, **kw) -> Team:
    return Team(CommGraph.uniform([AgentSpec("a0", "math_solver")], decision=Decision("last_agent")), b, **kw)


def test_a_bench_run_records_the_lying_call_as_failed_and_the_store_stays_whole(tmp_path: Path) -> None:
    steps = [Step(text="1", usage={"prompt_tokens": HUGE, "completion_tokens": 1}), Step(text="2")]
    store = RunStore(tmp_path / "runs.sqlite")
    run_id = store.create_run(RunConfig(task="one"), 2)
    with FaultServer(steps) as server:
        asyncio.run(evaluate(one_agent(backend(server)), One(), list(One().items()), store, run_id, concurrency=1))
    rows = {r.item_id: r for r in store.results(run_id, with_trajectories=True)}
    assert store.run(run_id).status == "finished"
    assert "tokens for one call" in (rows["one/0"].error or "") and rows["one/0"].prompt_tokens == 0
    assert (
        rows["one/1"].error is None
        and rows["one/1"].score == 1.0
        and rows["one/1"].prompt_tokens == USAGE["prompt_tokens"]
    )
    assert store._db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_checkpointed_run_records_the_lying_call_as_failed(tmp_path: Path) -> None:
    with FaultServer([Step(text="3", usage={"prompt_tokens": 1, "completion_tokens": HUGE})]) as server:
        trajectory = one_agent(backend(server), checkpoint=tmp_path / "ckpt.sqlite").run("1+2", thread_id="t")
    assert trajectory.failed and "tokens for one call" in (trajectory.messages[0].error or "")
    assert trajectory.usage == Usage(0, 0)


def test_usage_itself_refuses_what_the_store_cannot_hold() -> None:
    with pytest.raises(ConfigError, match="prompt_tokens=1180591620717411303424 does not fit in 64 bits"):
        Usage(HUGE, 0)
    with pytest.raises(ConfigError, match="completion_tokens=-1 must be at least 0"):
        Usage(0, -1)
    with pytest.raises(ConfigError, match="is not a whole number"):
        Usage(3.5, 0)  # type: ignore[arg-type]


def test_the_store_refuses_a_row_it_cannot_hold_in_one_line(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    run_id = store.create_run(RunConfig(task="one"), 1)
    row = ResultRow("i", 0, "a", "g", "a", float("nan"), 1, 1, {}, 0.1, {}, None)
    with pytest.raises(StoreError, match="item i has score=nan, which the store cannot hold"):
        store.add_result(run_id, row)
    big = ResultRow("i", 0, "a", "g", "a", 1.0, HUGE, 1, {}, 0.1, {}, None)
    with pytest.raises(StoreError, match="prompt_tokens=1180591620717411303424, which"):
        store.add_result(run_id, big)
    assert store.results(run_id) == []
