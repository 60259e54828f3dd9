"""Every loop that scores a team's run goes through `agentnet.episodes`: the same items on the same
backend give the same episode whichever loop runs them, and a failed call scores what the task
gives its (empty) answer, not a number a loop picks by itself. (tests/test_contracts.py checks the
source: no other library code calls `task.score`.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

from agentnet.agents import AgentSpec
from agentnet.errors import BackendError
from agentnet.evaluation import evaluate
from agentnet.runtime import Team
from agentnet.store import RunConfig, RunStore
from agentnet.task_types import Item
from agentnet.testing import ScriptedBackend
from agentnet.training.optima.generate import Dialogue, converse
from agentnet.training.trace.loop import TraceConfig, TraceLoop
from agentnet.training.trace.optimizer import OptoPrime
from agentnet.training.trace.params import team_parameters
from tests.agentnet.test_episodes import Lenient
from tests.training.trace import toy

ITEMS = [
    Item("q/0", "Question number 0: what is x?", "8"),
    Item("q/1", "down: Question number 1: what is x?", "7"),
    Item("q/2", "Question number 2: what is x?", "42"),
]
WANT = [(0.0, "7", False), (0.25, "", True), (1.0, "42", False)]  # "7" is wrong for q/0; q/1's call fails


def reply(messages, settings) -> str:
    if "down:" in messages[-1].content:
        return BackendError("connection refused", url="http://x")  # type: ignore[return-value]
    return "The answer is 42" if "number 2" in messages[-1].content else "The answer is 7"


def test_evaluation_stores_the_episodes_scores_failed_ones_included(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    run_id = store.create_run(RunConfig(task="lenient"), len(ITEMS))
    team = Team(toy.spec().graph(), ScriptedBackend(reply))
    asyncio.run(evaluate(team, Lenient(), ITEMS, store, run_id, concurrency=2))
    rows = sorted(store.results(run_id), key=lambda r: r.item_id)
    assert [(r.score, r.extracted, r.error is not None) for r in rows] == WANT


def test_trace_scores_its_minibatch_through_the_same_episodes(tmp_path: Path) -> None:
    spec = toy.spec()
    loop = TraceLoop(
        spec,
        team_parameters(spec, ["prompts"]),
        Lenient(),
        ITEMS,
        ITEMS,
        ScriptedBackend(reply),
        OptoPrime(ScriptedBackend(["TERMINATE"])),
        TraceConfig(),
        tmp_path,
    )
    episodes = asyncio.run(loop.run_items(loop.params, ITEMS, strict=False))
    assert [(e.score.value, e.score.extracted, e.failed) for e in episodes] == WANT
    assert loop.summarise(episodes).failed_runs == 1


def test_optima_scores_a_failed_conversation_as_the_task_does() -> None:
    dialogue = Dialogue((AgentSpec("a0", "alice"), AgentSpec("a1", "bob")), rounds=1)
    got = [asyncio.run(converse(dialogue, Lenient(), item, ScriptedBackend(reply))) for item in ITEMS]
    assert [(e.score.value, e.score.extracted, e.failed) for e in got] == WANT
