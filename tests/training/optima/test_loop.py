import asyncio
import json
import re
from contextlib import asynccontextmanager

import pytest

from agentnet.agents import AgentSpec
from agentnet.errors import ConfigError
from agentnet.testing import ScriptedBackend
from agentnet.training.optima.generate import Dialogue, formats
from agentnet.training.optima.loop import OptimaConfig, OptimaTrainer, Policy
from tests.training.optima.tiny_task import TinyTask

DIALOGUE = Dialogue((AgentSpec("a0", "alice"), AgentSpec("a1", "bob")), rounds=1)


def policy_reply(policy: str, bob_calls: dict[str, int]):
    """base: wordy, Bob right on the first of every 4 replies per item (whatever order
    concurrent conversations run in); trained ("p…"): terse and right."""

    def reply(messages, settings):
        alice = "You are Alice" in messages[0].content
        if policy.startswith("p"):
            return "P lives where Q works." if alice else "<A>Lyon</A>"
        if alice:
            return "Hello Bob, I know that P lives where Q works, where does Q work please tell me " * 2
        question = re.search(r"person \d+", "".join(m.content for m in messages)).group()
        bob_calls[question] = bob_calls.get(question, 0) + 1
        return "Q works somewhere nice. <A>Lyon</A>" if bob_calls[question] % 4 == 1 else "<A>Oslo</A> I think so"

    return reply


class RecordingLearner:
    def __init__(self):
        self.calls = []

    def learn(self, policy, mode, rows, out_dir):
        self.calls.append((policy.name, mode, rows))
        return Policy(f"p{len(self.calls)}", "hf"), {"rows": len(rows)}


def trainer(tmp_path, learner, served, **config):
    bob_calls: dict[str, int] = {}

    @asynccontextmanager
    async def serve(policy):
        served.append(policy.name)
        yield ScriptedBackend(policy_reply(policy.name, bob_calls))

    cfg = OptimaConfig(**{"samples": 4, "iterations": 2, "sft_threshold": 0.0, "sft_top": 1.0, **config})
    return OptimaTrainer(
        TinyTask(3),
        list(TinyTask(3).items()),
        DIALOGUE,
        Policy("base", "hf"),
        serve,
        learner,
        lambda prompt, text: 2.0,
        cfg,
        tmp_path / "run",
    )


def test_isft_trains_on_the_best_conversations_and_the_next_iteration_uses_the_new_policy(tmp_path):
    learner, served = RecordingLearner(), []
    t = trainer(tmp_path, learner, served, formats=("json", "terse"))
    final = asyncio.run(t.atrain())
    assert final.name == "p2" and served == ["base", "p1"]
    (policy0, mode0, rows0), (policy1, _, _) = learner.calls
    assert (policy0, mode0, policy1) == ("base", "sft", "p1")
    # the best conversation of each of the 3 items, 2 turns each; format seeds stripped from prompts
    assert len(rows0) == 6
    assert all(formats()["json"] not in r["prompt"][0]["content"] for r in rows0)
    assert {r["completion"][0]["content"] for r in rows0 if r["prompt"][0]["content"].startswith("You are Bob")} == {
        "Q works somewhere nice. <A>Lyon</A>"
    }
    m0, m1 = t.metrics()
    assert m0["conversations"] == 12 and m0["rows"] == 6 and m0["policy"] == "base"
    assert m1["score"] == 1.0 and m1["tokens"] < m0["tokens"]
    assert m0["score"] == pytest.approx(0.25)
    samples0 = (tmp_path / "run" / "iter-0" / "samples.jsonl").read_text().splitlines()
    assert {json.loads(s)["format"] for s in samples0} == {"json", "terse"}


def test_a_resumed_run_reuses_finished_iterations_and_stored_samples(tmp_path):
    learner, served = RecordingLearner(), []
    asyncio.run(trainer(tmp_path, learner, served, iterations=1).atrain())
    state = tmp_path / "run" / "state.json"
    assert json.loads(state.read_text())["completed"] == 1
    # continue to 2 iterations: only iteration 1 runs, on p1
    t = trainer(tmp_path, learner, served, iterations=2)
    assert t.completed == 1 and t.policy.name == "p1"
    asyncio.run(t.atrain())
    assert served == ["base", "p1"] and len(t.metrics()) == 2
    # an iteration killed after sampling: its samples are not drawn again
    state.write_text(json.dumps({"completed": 1, "policy": {"name": "p1", "hf_dir": "hf"}}))
    again = trainer(tmp_path, RecordingLearner(), served, iterations=2)
    asyncio.run(again.atrain())
    assert len((tmp_path / "run" / "iter-1" / "samples.jsonl").read_text().splitlines()) == 12


def test_nothing_above_the_threshold_keeps_the_policy_and_says_so(tmp_path):
    learner, served = RecordingLearner(), []
    t = trainer(tmp_path, learner, served, iterations=1, sft_threshold=5.0)
    assert asyncio.run(t.atrain()).name == "base"
    assert learner.calls == [] and t.metrics()[0]["train"] == {"skipped": "no rows selected"}


def test_idpo_forms_chosen_rejected_pairs_from_expanded_conversations(tmp_path):
    learner, served = RecordingLearner(), []
    t = trainer(tmp_path, learner, served, mode="dpo", iterations=1, samples=4)
    asyncio.run(t.atrain())
    ((_, mode, rows),) = learner.calls
    assert mode == "dpo" and rows
    for row in rows:
        assert row["chosen"][0]["content"] == "Q works somewhere nice. <A>Lyon</A>"
        assert row["rejected"][0]["content"] == "<A>Oslo</A> I think so"
        assert row["prompt"][0]["content"].startswith("You are Bob")


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match="mode='ppo'"):
        OptimaConfig(mode="ppo")
    with pytest.raises(ConfigError, match="samples per item"):
        OptimaConfig(mode="dpo", samples=1)
    assert [OptimaConfig(mode="sft-dpo").step_mode(i) for i in range(3)] == ["sft", "dpo", "sft"]


def test_a_conversation_cut_off_mid_line_is_sampled_again(tmp_path):
    learner, served = RecordingLearner(), []
    asyncio.run(trainer(tmp_path, learner, served, iterations=1).atrain())
    samples = tmp_path / "run" / "iter-0" / "samples.jsonl"
    lines = samples.read_text().splitlines()
    samples.write_text("\n".join(lines[:5]) + "\n" + lines[5][:40])  # killed while writing the 6th
    (tmp_path / "run" / "state.json").unlink()
    (tmp_path / "run" / "metrics.jsonl").unlink()
    asyncio.run(trainer(tmp_path, RecordingLearner(), served, iterations=1).atrain())
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    assert len(rows) == 12
