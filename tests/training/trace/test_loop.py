from __future__ import annotations

import json
from pathlib import Path

from agentnet.testing import ScriptedBackend
from agentnet.training.trace.loop import Evaluation, TraceConfig, TraceLoop, better
from agentnet.training.trace.optimizer import OptoPrime
from agentnet.training.trace.params import team_parameters
from tests.training.trace import toy

# known edits, written as small models write them; the toy team scores the role prompt 0.5
WORSE = '```json\n{"reasoning": "try BAD", "suggestion": {"a0_prompt": "BAD prompt"}}\n```'
BETTER = (
    "Sure! {'reasoning': 'say 42', 'suggestion': {'a0_prompt': 'Always answer 42. Think step by step and "
    "explain everything at length.'}} Hope it helps"
)
SHORTER = '{"reasoning": "shorter", "suggestion": {"a0_prompt": "Answer 42."'  # cut off at max_tokens
LONGER = '{"suggestion": {"a0_prompt": "Answer 42, then add a long explanation that costs many more tokens."}}'


def _loop(
    out: Path, replies: list[str], steps: int, groups=("prompts",), **config
) -> tuple[TraceLoop, ScriptedBackend]:
    spec, task = toy.spec(), toy.ToyTask()
    items = list(task.items())
    optimizer_backend = ScriptedBackend(replies)
    loop = TraceLoop(
        spec,
        team_parameters(spec, list(groups)),
        task,
        items[:4],
        items[4:],
        toy.team_backend(),
        OptoPrime(optimizer_backend),
        TraceConfig(steps=steps, batch=2, **config),
        out,
    )
    return loop, optimizer_backend


def test_the_loop_rejects_a_worse_edit_keeps_better_ones_and_reports_each(tmp_path: Path) -> None:
    loop, _ = _loop(tmp_path, [WORSE, BETTER, SHORTER, LONGER, "TERMINATE"], steps=5)
    result = loop.run()
    assert [r.verdict for r in result.records] == ["rejected", "accepted", "accepted", "rejected", "no change"]
    assert [r.val_score for r in result.records] == [0.0, 1.0, 1.0, 1.0, None]
    assert result.records[0].reason == "score 0.000 < best 0.500"
    assert result.records[2].reason.startswith("same score 1.000, tokens/item")
    assert result.records[3].reason.startswith("same score 1.000") and ">= best" in result.records[3].reason
    assert result.records[2].notes == ["read as closed an unfinished object"]
    assert (result.baseline.score, result.best.score) == (0.5, 1.0)
    assert result.params["a0_prompt"].value == "Answer 42." == result.spec.agents[0].system
    assert all(r.optimizer_tokens > 0 for r in result.records)
    metrics = [json.loads(line) for line in loop.metrics_path.read_text().splitlines()]
    assert [m["step"] for m in metrics] == [0, 1, 2, 3, 4] and metrics[1]["changed"] == ["a0_prompt"]
    report = loop.report_path.read_text()
    assert report.count("| **rejected** |") == 2 and report.count("| **accepted** |") == 2
    assert "baseline score 0.500" in report and "BAD prompt" in report and "### Step 4: no change" in report
    assert json.loads(loop.best_path.read_text())["parameters"][0]["value"] == "Answer 42."


def test_a_killed_run_resumes_with_its_best_values_and_the_optimisers_memory(tmp_path: Path) -> None:
    first, _ = _loop(tmp_path, [WORSE, BETTER], steps=4)
    first.train_step()
    first.train_step()
    again, backend = _loop(tmp_path, [SHORTER, LONGER], steps=4)
    assert again.resume() and again.step == 2
    assert again.params["a0_prompt"].value.startswith("Always answer 42.") and again.best.score == 1.0
    result = again.run()
    assert [r.step for r in result.records] == [0, 1, 2, 3]
    assert [r.verdict for r in result.records] == ["rejected", "accepted", "accepted", "rejected"]
    assert "rejected on validation: score 0.000 < best 0.500" in backend.calls[0].messages[1].content  # memory
    assert len(again.metrics_path.read_text().splitlines()) == 4


CRASHES = '{"suggestion": {"extract_answer": "def extract(output):\\n    raise ValueError(\\"boom\\")"}}'
NO_PARSE = '{"suggestion": {"extract_answer": "def extract(output):\\n    return ("}}'
SPINS = '{"suggestion": {"extract_answer": "def extract(output):\\n    while True:\\n        pass"}}'
FIXES = '{"suggestion": {"extract_answer": "```python\\ndef extract(output: str) -> str:\\n    return \\"42\\"\\n```"}}'


def test_broken_code_proposals_are_rejected_with_their_error_and_never_run_in_process(tmp_path: Path) -> None:
    loop, _ = _loop(tmp_path, [CRASHES, NO_PARSE, SPINS, FIXES], steps=4, groups=("extract",), code_timeout_s=2.0)
    records = loop.run().records
    assert [r.verdict for r in records] == ["rejected", "no change", "rejected", "accepted"]
    assert records[0].error == "extract() raised on 4/4 outputs; first: ValueError: boom"
    assert records[1].notes == ["extract_answer: the code does not parse (line 2: '(' was never closed)"]
    assert records[2].error.startswith("the extract() code gave no result (timeout)")
    assert records[3].val_score == 1.0 and loop.params["extract_answer"].value.endswith('return "42"\n')


def test_better_is_score_first_then_tokens() -> None:
    best = Evaluation(0.5, 100.0, 4)
    assert better(Evaluation(0.75, 900.0, 4), best)[0]
    assert better(Evaluation(0.5, 90.0, 4), best)[0]
    assert not better(Evaluation(0.5, 100.0, 4), best)[0]
    assert not better(Evaluation(0.25, 10.0, 4), best)[0]
    assert better(Evaluation(0.75, 90.0, 4), best, min_improvement=0.3) == (
        False,
        "score gain 0.250 is within min_improvement 0.3",
    )
