"""Algebraic equivalence of MATH answers through Hugging Face's `math-verify` (optional extra
`agentnet[math]`), for `TaskConfig.math_verify`.

`math_equal` (math500.py) decides first and alone wherever it is exact; `math-verify` is asked
only when that says "different", and only about two single expressions, because measured
against ours it is better at algebra (`\\frac{1}{\\sqrt3}` = `\\frac{\\sqrt3}{3}`, `(x+1)(x-1)` =
`x^2-1`, `x+1` = `1+x`) and worse elsewhere: it rounds to 6 decimals (3.1415927 = π, 0.333333 =
1/3), reads `2\\,220` as 222, and can take an interval for a set. So no side may hold a decimal
number, a list, tuple, interval, set or matrix, or a power of a power (whose evaluation runs
until math-verify's time limit). That limit is a SIGALRM, which works only on the main thread;
elsewhere `math-verify` is not asked at all, rather than asked without a limit.
"""

from __future__ import annotations

import importlib.util
import re
import threading

from agentnet.errors import MissingDependencyError

MAX_CHARS = 120  # MATH answers are short; past this a candidate is a runaway output
TIMEOUT_SECONDS = 3
_DECIMAL = re.compile(r"\d\.\d|(?<![\d.])\.\d")
_STRUCTURE = re.compile(r",|\\cup|\\\{|\\begin|\\pm|\\in(?![A-Za-z])|[\[\]]")  # lists, tuples, intervals, sets
_TOWER = re.compile(r"\^\s*\{[^{}]*\^")


def available() -> bool:
    return importlib.util.find_spec("math_verify") is not None


def require_math_verify() -> None:
    """A MissingDependencyError with the install hint when math-verify is missing."""
    if not available():
        raise MissingDependencyError(
            "math_verify=True needs HF's math-verify: pip install 'agentnet[math]' "
            "(or leave --math-verify off to score with agentnet's own MATH rules only)"
        )


def askable(answer: str) -> bool:
    """Whether `answer` (normalised) is a single expression math-verify may judge."""
    return (
        0 < len(answer) <= MAX_CHARS
        and not _DECIMAL.search(answer)
        and not _STRUCTURE.search(answer)
        and not _TOWER.search(answer)
    )


def symbolic_equal(predicted: str, gold: str) -> bool:
    """Whether math-verify proves the two (normalised) answers equal; False when it may not be
    asked (see the module docstring) or does not finish in TIMEOUT_SECONDS."""
    if not (askable(predicted) and askable(gold)) or threading.current_thread() is not threading.main_thread():
        return False
    from math_verify import parse, verify
    from math_verify.parser import LatexExtractionConfig

    config = [LatexExtractionConfig()]
    parsed_gold = parse(f"${gold}$", extraction_config=config, parsing_timeout=TIMEOUT_SECONDS)
    parsed = parse(f"${predicted}$", extraction_config=config, parsing_timeout=TIMEOUT_SECONDS)
    if not parsed_gold or not parsed:
        return False
    return bool(verify(parsed_gold, parsed, timeout_seconds=TIMEOUT_SECONDS))
