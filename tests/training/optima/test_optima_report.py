import asyncio
from contextlib import asynccontextmanager

from agentnet.agents import AgentSpec
from agentnet.configs import TeamConfig
from agentnet.store import RunConfig, RunStore
from agentnet.task_types import Score
from agentnet.testing import ScriptedBackend
from agentnet.training.optima.generate import Dialogue
from agentnet.training.optima.loop import OptimaConfig, Policy
from agentnet.training.optima.optima_report import evaluate_policy, write_report
from tests.training.optima.tiny_task import TinyTask

DIALOGUE = Dialogue((AgentSpec("a0", "alice"), AgentSpec("a1", "bob")), rounds=1)
RUN = RunConfig(
    task="tiny", limit=4, team=TeamConfig(topology="chain", agents=2, roles=("alice", "bob"), decision="last_agent")
)


def serve_counting(served: list[str]):
    """Bob answers item 0 exactly, item 1 half right ("Lyon city": partial credit), the rest wrong."""

    def reply(messages, settings):
        if "You are Alice" in messages[0].content:
            return "P lives where Q works."
        text = "".join(m.content for m in messages)
        return "<A>Lyon</A>" if "person 0" in text else "<A>Lyon city</A>" if "person 1" in text else "<A>Oslo</A>"

    @asynccontextmanager
    async def serve(policy):
        served.append(policy.name)
        yield ScriptedBackend(reply)

    return serve


class PartialTinyTask(TinyTask):
    """TinyTask scored by word overlap, like the asymmetric task's F1."""

    async def score(self, item, output):
        got = self.extract(output)
        words = got.split()
        return Score(words.count(item.answer) / len(words) if words else 0.0, got)


def test_an_evaluation_is_stored_resumed_not_repeated_and_reported_with_solved_items(tmp_path):
    served, task = [], PartialTinyTask(4)
    items = list(task.items())
    with RunStore(tmp_path / "runs.sqlite") as store:
        summary = asyncio.run(
            evaluate_policy(
                serve_counting(served),
                Policy("base", "hf"),
                DIALOGUE,
                task,
                items,
                store,
                RUN,
                tmp_path / "eval-runs.json",
            )
        )
        again = asyncio.run(
            evaluate_policy(
                serve_counting(served),
                Policy("base", "hf"),
                DIALOGUE,
                task,
                items,
                store,
                RUN,
                tmp_path / "eval-runs.json",
            )
        )
    assert served == ["base"]  # the finished evaluation is read back, not run again
    assert again.run.id == summary.run.id and (summary.scored, summary.failed) == (4, 0)
    assert summary.accuracy == 0.375 and summary.solved == 1  # 1 + 0.5 + 0 + 0 over 4; one full score
    report = write_report(tmp_path / "report.md", OptimaConfig(), [], [("before: base", summary)]).read_text()
    assert "| score | solved |" in report
    assert f"| before: base | {summary.run.id} | 4 | 0.375 | 1 |" in report
