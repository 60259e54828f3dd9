"""math-verify as MATH-500's opt-in fallback: it adds algebra, and is kept away from the cases
where agentnet's own rules are better (decimals, structures, last box, `2\\,220`)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from agentnet.errors import MissingDependencyError
from agentnet.task_types import Item
from agentnet.tasks.base import TaskConfig
from agentnet.tasks.math500 import MATH500, normalise_math
from agentnet.tasks.symbolic import askable, available, symbolic_equal

needs_math_verify = pytest.mark.skipif(
    not available(), reason="SKIPPED LOUDLY: math-verify missing; pip install 'agentnet[math]'"
)


def _score(output: str, gold: str, math_verify: bool) -> tuple[float, str]:
    task = MATH500(TaskConfig(math_verify=math_verify))
    score = asyncio.run(task.score(Item("math500/test/x", "?", gold), output))
    return score.value, score.details["by"]


@needs_math_verify
@pytest.mark.parametrize(
    "written, gold",
    [
        ("\\frac{1}{\\sqrt3}", "\\frac{\\sqrt{3}}{3}"),  # a rationalised denominator
        ("(x+1)(x-1)", "x^2-1"),  # a factored polynomial
        ("1+x", "x+1"),
        ("\\sqrt{25}", "5"),
    ],
)
def test_math_verify_adds_algebraic_equivalence(written: str, gold: str) -> None:
    output = f"So the answer is $\\boxed{{{written}}}$."
    assert _score(output, gold, math_verify=False) == (0.0, "agentnet")
    assert _score(output, gold, math_verify=True) == (1.0, "math-verify")


@needs_math_verify
@pytest.mark.parametrize(
    "written, gold",
    [
        ("3.1415927", "\\pi"),  # math-verify rounds to 6 decimals; ours does not
        ("0.333333", "\\frac{1}{3}"),
        ("(1,2)", "\\{1,2\\}"),  # an interval is not a set
        ("[1,2]", "(1,2)"),
        ("10^{10^{10}}", "5"),  # a power tower: not evaluated until the time limit
    ],
)
def test_math_verify_is_not_asked_where_it_is_worse(written: str, gold: str) -> None:
    assert _score(f"\\boxed{{{written}}}", gold, math_verify=True) == (0.0, "math-verify")


@needs_math_verify
def test_ours_still_decides_first_and_the_last_box_wins() -> None:
    assert _score("\\boxed{2\\,220}", "2220", math_verify=True) == (1.0, "agentnet")  # math-verify reads 222
    assert _score("\\boxed{90°}", "90", math_verify=True) == (1.0, "agentnet")
    output = "First \\boxed{\\frac{1}{\\sqrt3}}, but no: \\boxed{\\frac{1}{\\sqrt2}}"
    assert _score(output, "\\frac{\\sqrt{3}}{3}", math_verify=True)[0] == 0.0


@needs_math_verify
def test_off_the_main_thread_math_verify_is_not_asked() -> None:
    # its time limit is a SIGALRM, which only the main thread can set
    results = []
    thread = threading.Thread(
        target=lambda: results.append(symbolic_equal("\\frac{1}{\\sqrt{3}}", "\\frac{\\sqrt{3}}{3}"))
    )
    thread.start()
    thread.join()
    assert results == [False]


def test_askable_keeps_to_single_exact_expressions() -> None:
    assert askable(normalise_math("\\frac{1}{\\sqrt3}")) and askable("x^2+y^2")
    assert not any(
        askable(a) for a in ("0.5", ".5", "(1,2)", "1,2", "\\{1\\}", "1\\pm\\sqrt2", "2^{3^{4}}", "", "x" * 121)
    )


def test_math_verify_missing_is_an_error_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agentnet.tasks.symbolic.available", lambda: False)
    with pytest.raises(MissingDependencyError, match=r"pip install 'agentnet\[math\]'"):
        MATH500(TaskConfig(math_verify=True))
    MATH500(TaskConfig())  # off by default: nothing needed
