"""The headline report's verdicts on hand-made rows: the front, each target met and missed, the
branches read from rounds run, the lost items, the plot."""

from __future__ import annotations

from pathlib import Path

from benchmarks.headline import branches, front, losses, plot, targets


def row(
    name: str, right: list[int], cost: float, n: int = 40, group: str = "", rounds: dict[str, int] | None = None
) -> dict:
    items = [f"q{i}" for i in range(n)]
    scores = {q: float(i in right) for i, q in enumerate(items)}
    return {
        "name": name,
        "run": f"run-{name}",
        "items": n,
        "accuracy": sum(scores.values()) / n,
        "cost_per_query": cost,
        "scores": scores,
        "costs": dict.fromkeys(items, cost),
        "group": group,
        "rounds_run": rounds or {},
        "note": name,
        "tokens_per_query": 1000 * cost,
        "calls_per_query": 1.0,
        "cut_off_share": 0.0,
        "tool_runs": 0,
        "tool_ok": 0,
        "wall_s": 60.0,
        "command": f"agentnet bench {name}",
    }


def test_the_front_keeps_exactly_the_undominated_rows() -> None:
    rows = {
        "cheap": row("cheap", list(range(10)), 0.1),
        "mid": row("mid", list(range(20)), 0.3),
        "worse": row("worse", list(range(15)), 0.4),
        "tie": row("tie", list(range(10)), 0.1),
    }
    assert front(rows) == ["cheap", "mid", "tie"]  # worse: mid is more accurate and cheaper; equal rows both stay


def test_targets_are_met_by_a_cheap_accurate_team_and_missed_with_the_margin_otherwise() -> None:
    base = {
        "single": row("single", list(range(16)), 0.30),
        "strong": row("strong", list(range(20)), 0.60),
        "cascade": row("cascade", list(range(18)), 0.40),
        "sc3": row("sc3", list(range(17)), 0.90),
    }
    good = row("learned", list(range(26)), 0.33, group="learned")  # +25 points over single, 1.1× its cost
    verdicts = {
        t.name: t
        for t in targets(
            "learned",
            {**base, "learned": good},
            best_single="single",
            strongest="strong",
            cascades=["cascade"],
            sc=["sc3"],
        )
    }
    assert all(t.met for t in verdicts.values()), [t.line() for t in verdicts.values()]
    poor = row("learned", list(range(15)), 0.50, group="learned")
    verdicts = {
        t.name: t
        for t in targets(
            "learned",
            {**base, "learned": poor},
            best_single="single",
            strongest="strong",
            cascades=["cascade"],
            sc=["sc3"],
        )
    }
    assert not any(t.met for t in verdicts.values())
    assert "dominated by" in verdicts["a"].why and "cascade (+7.5 points, cost -0.100)" in verdicts["a"].why
    assert "-2.5 points" in verdicts["b"].why and "1.67× its cost" in verdicts["b"].why
    assert verdicts["a"].line().startswith("- **(a) missed**")


def test_branches_split_items_by_the_rounds_the_team_ran() -> None:
    r = row("learned", [0, 1, 2], 0.2, n=4, rounds={"q0": 1, "q1": 1, "q2": 2, "q3": 2})
    lines = branches(r)
    assert "| stopped after the opening round | 2 | 100.0% | 0.200 |" in lines
    assert "| escalated | 2 | 50.0% | 0.200 |" in lines


def test_losses_name_the_items_and_the_command_that_shows_them(tmp_path: Path) -> None:
    learned, base = row("learned", [0, 1], 0.2, n=4), row("base", [1, 2, 3], 0.2, n=4)
    lines = losses(learned, base, store=tmp_path / "s.sqlite", limit=1)
    assert (
        lines[0]
        == f"- `q2`: `agentnet show run-learned q2 --store {tmp_path / 's.sqlite'}` (beside the baseline: `--compare run-base`)"
    )
    assert lines[1] == "- … and 1 more"


def test_the_plot_is_written(tmp_path: Path) -> None:
    rows = {"a": row("a", [0], 0.1), "b": row("b", [0, 1], 0.2, group="learned")}
    path = plot(rows, tmp_path / "pareto.png", "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
