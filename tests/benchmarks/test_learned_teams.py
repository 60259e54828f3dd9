"""The pre-registered protocol's mechanics on hand-made rows: what the validation slice decides,
which rows the test slice runs, and the report's sections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import benchmarks.learned_teams as protocol
from benchmarks.learned_teams import SUITES, VARIANTS, Variant, choices, fixed_rows, readme, train_dir
from tests.benchmarks.test_headline import row


def test_the_validation_slice_decides_the_best_single_and_each_variant() -> None:
    suite = SUITES["gsm8k"]
    done = {
        f"validate-single-{n}": row(n, list(range(k)), c)
        for n, k, c in (
            ("cheap_cot", 10, 0.2),
            ("cheap_pal", 14, 0.1),
            ("strong_pal", 14, 0.3),
            ("strong_cot", 12, 0.6),
        )
    }
    assert choices(suite, done) == {"best_single": "cheap_pal"}  # ties on accuracy: the cheaper
    for kind in suite.learners():
        done[f"validate-{kind}-lambda0.5-long"] = row(kind, list(range(20)), 0.9)
    assert choices(suite, done) == {"best_single": "cheap_pal", **dict.fromkeys(suite.learners(), "lambda0.5-long")}
    assert VARIANTS == (Variant(0.5),)  # revision 3
    # revision 5: GSM8K's learners train long only, on 100 train items disjoint from the validation slice
    assert all(suite.variants(kind) == (Variant(0.5, long=True),) for kind in suite.learners())
    assert suite.train_items == ("--split", "train", "--offset", "100", "--limit", "100")
    assert suite.slices["validate"] == ("--split", "train", "--offset", "0", "--limit", "100")
    # HumanEval: AgentDropout's lambda 2 (run before revision 3) and every learner's long variant
    he = SUITES["humaneval"]
    done = {f"validate-single-{n}": row(n, list(range(12)), 0.3) for n in he.members}
    done["validate-agentdropout-lambda0.5"] = row("a", list(range(20)), 0.9)  # utility 0.5 - 0.45
    done["validate-agentdropout-lambda2"] = row("a", list(range(18)), 0.1)  # 0.45 - 0.05: chosen
    assert choices(he, done) == {"best_single": "cheap_code"}  # the long variant is not validated yet
    done["validate-agentdropout-lambda0.5-long"] = row("a", list(range(17)), 0.1)  # 0.425 - 0.05
    assert choices(he, done) == {"best_single": "cheap_code", "agentdropout": "lambda2"}
    assert [v.name for v in he.variants("agentdropout")] == ["lambda0.5", "lambda2", "lambda0.5-long"]
    assert [v.name for v in he.variants("gdesigner")] == ["lambda0.5", "lambda0.5-long"]
    long = Variant.parse("lambda0.5-long")
    assert long == Variant(0.5, long=True) and long.args() == (
        "--lambda-tokens",
        "0.5",
        "--steps",
        "100",
        "--baseline",
        "per_item",
    )
    assert Variant.parse("lambda2").args() == ("--lambda-tokens", "2.0", "--steps", "20")


def test_the_test_slice_runs_every_baseline_on_the_pre_registered_items() -> None:
    rows = fixed_rows(SUITES["gsm8k"], "test", "cheap_pal")
    assert set(rows) == {
        f"test-{n}"
        for n in (
            "single-cheap_cot",
            "single-cheap_pal",
            "single-strong_pal",
            "single-strong_cot",
            "sc5-cheap_pal",
            "sc3-cheap_pal",
            "cascade-agree",
            "cascade-tool",
            "complete",
        )
    }
    for r in rows.values():
        assert r.args[:7] == ("gsm8k", "--split", "test", "--offset", "50", "--limit", "150")  # revision 3
    he = fixed_rows(SUITES["humaneval"], "test", "strong_code")
    assert "test-sc5-strong_code" in he and "test-cascade-agree" not in he
    assert he["test-sc5-strong_code"].args[he["test-sc5-strong_code"].args.index("--decision") + 1] == "passing_vote"
    assert all(r.args[1:5] == ("--offset", "64", "--limit", "100") for r in he.values())


def test_the_report_checks_targets_reads_branches_and_plots(tmp_path: Path) -> None:
    suite = SUITES["gsm8k"]
    done = {f"validate-single-{n}": row(n, list(range(10)), 0.2) for n in suite.members}
    done["validate-single-strong_pal"] = row("strong_pal", list(range(12)), 0.3)
    for kind in suite.learners():
        for v in suite.variants(kind):
            done[f"validate-{kind}-{v.name}"] = row(kind, list(range(12)), 0.2, group="learned")
    for name in fixed_rows(suite, "test", "strong_pal"):
        done[name] = {**row(name, list(range(12)), 0.5), "name": name}
    done["test-gdesigner-lambda0.5"] = {
        **row("g", list(range(20)), 0.3, group="learned", rounds={"q0": 1, "q30": 2}),
        "name": "test-gdesigner-lambda0.5",
    }
    done["test-commformer-lambda2"] = {**done["test-gdesigner-lambda0.5"], "name": "test-commformer-lambda2"}
    spent = {"episodes": 6, "failed": 0, "spent_tokens": 5000, "spent_cost": 4.5, "wall_s": 30.0}
    for kind, v, extra in [("gdesigner", Variant(0.5), spent), ("commformer", Variant(2.0), {})]:  # 2nd: older log
        train_dir(tmp_path, kind, v).mkdir(parents=True)
        (train_dir(tmp_path, kind, v) / "metrics.jsonl").write_text(
            "\n".join(json.dumps({"step": i, "tokens": 1000.0 + i, **extra}) for i in range(20)) + "\n"
        )
        (train_dir(tmp_path, kind, v) / "done").write_text(json.dumps({"wall_s": 600}))
    (tmp_path / "reading.md").write_text("## Reading\n\nWhat the trajectories say.\n")
    readme(suite, tmp_path, done, tmp_path / "runs.sqlite")
    text = (tmp_path / "README.md").read_text()
    assert "## Reading\n\nWhat the trajectories say.\n\nCommands:" in text
    # rows: 12 hand-made rows of 60 s each; trainings: 20 steps x 30 s, and the older one's `done` (600 s)
    assert f"Compute so far: {(len(done) * 60 + 600 + 600) / 3600:.1f} h" in text
    # summed over the steps (the wall time of every session), not the `done` call's wall
    assert "- test-gdesigner-lambda0.5: 100,000 tokens, cost 90.0, 10 min (20 steps)" in text
    # (20,000 + 190) x 6 episodes / 1,000: the mean paid per episode, at each model's price
    assert "- test-commformer-lambda2: tokens not recorded, cost 121.1, 10 min in its last session (20 steps)" in text
    assert "- **(a) met**" in text and "![accuracy vs cost](pareto.png)" in text and (tmp_path / "pareto.png").exists()
    assert (
        "| stopped after the opening round | 1 | 100.0% | 0.300 |" in text
        and "| escalated | 1 | 0.0% | 0.300 |" in text
    )


def test_every_slice_and_the_training_items_name_a_split_the_task_has() -> None:
    # `agentnet bench` reads the test split by default and `agentnet train` the train split: HumanEval
    # has only "test", so its training items must say so (a run would stop at "no split 'train'")
    from agentnet.tasks import TaskConfig, make_task

    for suite in SUITES.values():
        task = make_task(suite.task, TaskConfig())
        for options, default in [(suite.train_items, "train"), *((s, "test") for s in suite.slices.values())]:
            split = options[options.index("--split") + 1] if "--split" in options else default
            assert task.canonical_split(split) in task.splits


def test_every_row_shares_one_setup_or_the_phase_refuses(tmp_path: Path, monkeypatch) -> None:
    now = {"engine_build": "b1", "models": {"m": "sha"}, "cores": 2}
    monkeypatch.setattr(protocol, "setup", lambda: dict(now))
    protocol.same_setup(tmp_path)
    protocol.same_setup(tmp_path)  # unchanged: fine
    now["engine_build"] = "b2"
    with pytest.raises(SystemExit, match="another setup \\(engine_build: b1 -> b2\\)"):
        protocol.same_setup(tmp_path)
    readme(SUITES["humaneval"], tmp_path, {}, tmp_path / "runs.sqlite")
    assert "Every row: llama-server b1, 2 cores" in (tmp_path / "README.md").read_text()
