"""The experiment scripts' paired statistics, on hand-computed cases."""

from __future__ import annotations

import pytest

from benchmarks.rows import mcnemar_exact, paired


def test_mcnemar_exact_matches_the_binomial_tail() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)  # 2 * P(X <= 0), X ~ Bin(5, 1/2)
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)
    assert mcnemar_exact(5, 5) == 1.0


def test_paired_counts_discordant_items_and_bootstraps_the_difference() -> None:
    a = {"scores": {"x": 1.0, "y": 1.0, "z": 0.0, "w": 1.0}, "costs": {"x": 1.0, "y": 1.0, "z": 1.0, "w": 1.0}}
    b = {
        "scores": {"x": 0.0, "y": 1.0, "z": 0.0, "w": 0.0, "extra": 1.0},
        "costs": {"x": 0.5, "y": 0.5, "z": 0.5, "w": 0.5},
    }
    p = paired(a, b)
    assert (p.items, p.only_a, p.only_b) == (4, 2, 0)
    assert p.diff == pytest.approx(0.5) and p.cost_diff == pytest.approx(0.5)
    assert 0.0 <= p.ci[0] <= p.diff <= p.ci[1] <= 1.0 and p.p == pytest.approx(0.5)


def test_a_cut_off_row_resumes_its_run_with_the_rows_cache(monkeypatch, tmp_path) -> None:
    # `bench --resume` takes the team from the store; the cache is a client option the row must repeat
    import benchmarks.rows as rows

    sent: list[list[str]] = []
    monkeypatch.setattr(rows, "run", lambda cmd, on_line=None: sent.append(list(cmd)) or 0)
    args = ("gsm8k", "--limit", "5", "--cache", "/c/cache.sqlite", "--cache-mode", "all", "--concurrency", "4")
    assert rows.bench(rows.Row("r", args, "note"), tmp_path / "s.sqlite", {"r": "RUN1"}) == "RUN1"
    assert sent[0][len(rows.CLI) :] == [
        "bench",
        "--resume",
        "RUN1",
        "--store",
        str(tmp_path / "s.sqlite"),
        "--cache",
        "/c/cache.sqlite",
        "--cache-mode",
        "all",
    ]


def test_a_row_with_failed_items_resumes_its_run_until_none_fail(monkeypatch, tmp_path) -> None:
    # exit 1 = some items failed (a timeout on loaded cores): scoring them 0 would measure the machine
    import benchmarks.rows as rows

    codes = iter([1, 1, 0])
    sent: list[list[str]] = []

    def fake(cmd, on_line=lambda line: None):
        sent.append(list(cmd))
        if len(sent) == 1:
            on_line("run RUN7: gsm8k/test · 5 items")
        return next(codes)

    monkeypatch.setattr(rows, "run", fake)
    args = ("gsm8k", "--limit", "5", "--cache", "/c.sqlite")
    assert rows.bench(rows.Row("r", args, "note"), tmp_path / "s.sqlite", {}) == "RUN7"
    assert [c[len(rows.CLI) : len(rows.CLI) + 3] for c in sent] == [
        ["bench", "gsm8k", "--limit"],
        ["bench", "--resume", "RUN7"],
        ["bench", "--resume", "RUN7"],
    ]
    assert sent[1][-2:] == ["--cache", "/c.sqlite"]
    codes = iter([1, 1, 1])  # still failing after the retries: kept, the failures recorded
    sent.clear()
    assert rows.bench(rows.Row("r", args, "note"), tmp_path / "s.sqlite", {"r": "RUN7"}) == "RUN7"
    assert len(sent) == 1 + rows.RETRIES


def test_a_rows_wall_time_counts_every_session_it_ran_in(tmp_path) -> None:
    # the items' latencies over the run's concurrency: a row resumed after a cut-off counts both calls
    from benchmarks.rows import Row, measure

    from agentnet.store import ResultRow, RunConfig, RunStore

    with RunStore(tmp_path / "s.sqlite") as store:
        run_id = store.create_run(RunConfig(task="gsm8k", concurrency=2), 3)
        for i, latency in enumerate((30.0, 50.0, 40.0)):
            store.add_result(run_id, ResultRow(f"q{i}", i, "1", "1", "1", 1.0, 10, 5, {}, latency, {}, None))
    measured = measure(Row("r", ("gsm8k",), "note"), tmp_path / "s.sqlite", run_id, wall_s=7.0)
    assert measured["wall_s"] == 60.0 and measured["call_wall_s"] == 7.0
    assert measured["items"] == 3 and measured["accuracy"] == 1.0


def test_a_command_in_a_report_shows_the_home_folder_as_a_tilde() -> None:
    from pathlib import Path

    from benchmarks.rows import shown

    cache = Path.home() / ".cache" / "agentnet" / "c.sqlite"
    assert shown(f"agentnet bench gsm8k --cache {cache} --out /elsewhere/x") == (
        "agentnet bench gsm8k --cache ~/.cache/agentnet/c.sqlite --out /elsewhere/x"
    )
