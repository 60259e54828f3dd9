"""The trace loop against the real embedded SmolLM2 server (team and optimiser alike)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agentnet.serving import Server
from agentnet.training.trace.loop import TraceConfig, TraceLoop
from agentnet.training.trace.optimizer import OptoPrime, OptoPrimeConfig
from agentnet.training.trace.params import team_parameters
from tests.training.trace import toy

pytestmark = pytest.mark.integration


class SumTask(toy.ToyTask):
    name = "sums"

    def items(self, split: str = "train"):
        from agentnet.task_types import Item

        return iter(
            [Item(f"sums/{a}", f"What is {a}+{a + 1}? Reply with the number.", str(2 * a + 1)) for a in range(1, 5)]
        )


@pytest.mark.slow  # the JSON-mode run below is the default tier's Trace on the embedded model
def test_a_run_on_the_embedded_model_completes_and_records_every_proposal(
    smollm2_server: Server, tmp_path: Path
) -> None:
    spec, task = toy.spec(), SumTask()
    items = list(task.items())
    optimizer = OptoPrime(smollm2_server.backend(), OptoPrimeConfig(max_tokens=96, memory_size=1, json_mode=False))
    loop = TraceLoop(
        spec,
        team_parameters(spec, ["prompts", "rounds"]),
        task,
        items[:2],
        items[2:],
        smollm2_server.backend(),
        optimizer,
        TraceConfig(steps=2, batch=1, max_value_chars=200),
        tmp_path,
    )
    result = loop.run()
    assert [r.step for r in result.records] == [0, 1]
    assert all(r.verdict in {"accepted", "rejected", "no change", "error"} and r.reason for r in result.records)
    assert all(r.optimizer_tokens > 0 or r.error for r in result.records)
    assert len(loop.metrics_path.read_text().splitlines()) == 2
    assert json.loads(loop.checkpoint_path.read_text())["step"] == 2
    assert loop.report_path.read_text().count("### Step ") == 2


def test_json_mode_makes_the_embedded_models_replies_name_only_trainable_variables(
    smollm2_server: Server, tmp_path: Path
) -> None:
    spec, task = toy.spec(), SumTask()
    items = list(task.items())
    params = team_parameters(spec, ["prompts", "rounds"])
    optimizer = OptoPrime(smollm2_server.backend(), OptoPrimeConfig(max_tokens=160))
    loop = TraceLoop(
        spec,
        params,
        task,
        items[:2],
        items[2:3],
        smollm2_server.backend(),
        optimizer,
        TraceConfig(steps=2, batch=1, max_value_chars=200),
        tmp_path,
    )
    result = loop.run()
    for r in result.records:
        assert re.match(r'\s*\{\s*"reasoning"\s*:', r.raw), r.raw  # the schema's shape, nothing before it
        assert r.error is None and not any("no such variable" in n for n in r.notes), (r.notes, r.raw)
        assert set(r.changes) <= set(params.names)
