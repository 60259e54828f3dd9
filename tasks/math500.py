"""MATH-500: competition problems whose answers are LaTeX expressions, not just numbers.

Gold answers come as "\\frac{14}{3}", "90^\\circ", "\\left( 3, \\frac{\\pi}{2} \\right)",
"(3,4]" or "10,\\!080"; a model writes the same value as "\\dfrac{14}{3}", "90", "(3, \\pi/2)"
or "10080". Scoring therefore normalises both sides (in the spirit of Hendrycks et al.'s
`is_equiv`) and compares numbers by value and tuples, intervals, lists and matrices element by
element. No computer algebra: "x+1" and "1+x" differ, as they do in the reference scorer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from agentnet.answers import BOX_COMMAND, closing_braces, last_boxed
from agentnet.graph import DecisionKind
from agentnet.task_types import Item, Score
from agentnet.tasks.base import FileTask, HubSource
from agentnet.tasks.symbolic import require_math_verify, symbolic_equal
from agentnet.tasks.records import require
from agentnet.tasks.math_word import MATH_ROLES

INSTRUCTION = (
    "Give your final answer in simplest form inside \\boxed{} (LaTeX is fine: it may be an "
    "expression, a fraction, an interval or a tuple, not only a number)."
)

# ---------------------------------------------------------------------------------------------
# Extraction

_ANSWER_IS = re.compile(r"answer\s*(?:is|:)\s*:?\s*", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The content of the `{…}` group opening at `start` and the index after it (braces nest;
    `\\{` and `\\}` are characters, not braces), or None if it never closes."""
    end = closing_braces(text, start, first_only=True).get(start)
    return None if end is None else (text[start + 1 : end], end + 1)


def _unescaped(text: str, closer: str, start: int) -> int:
    """Where `closer` first occurs from `start` other than as an escape (`\\$` is a dollar sign
    inside `$…$`, not its end), or -1."""
    end = text.find(closer, start)
    while end > 0 and closer == "$" and text[end - 1] == "\\":
        end = text.find(closer, end + 1)
    return end


def _math_span(tail: str) -> str:
    """The answer at the start of `tail`: a `$…$` or `\\(…\\)` span, else the rest of the line."""
    tail = tail.strip().strip("*").strip()  # "**Final answer:** 5"
    for opener, closer in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if tail.startswith(opener):
            end = _unescaped(tail, closer, len(opener))
            if end > 0:
                return tail[len(opener) : end].strip()
    return tail.splitlines()[0].strip().rstrip(".").strip() if tail else ""


def extract_math_answer(output: str) -> str:
    """The last `\\boxed{…}`, else what follows the last "The answer is", else the last number.

    Returns the text as written (not normalised), or "" when the output holds none of these.
    """
    boxed = last_boxed(output)
    if boxed is not None:
        return boxed
    spans = [m.end() for m in _ANSWER_IS.finditer(output)]
    if spans:
        answer = _math_span(output[spans[-1] :])
        if answer:
            return answer.strip("$ ").rstrip(".")
    numbers = _NUMBER.findall(output)
    return numbers[-1].rstrip(",") if numbers else ""


# ---------------------------------------------------------------------------------------------
# Normalisation

_UNIT_WORDS = (
    r"(?:square\s+|sq\.?\s+|cubic\s+)?(?:units?|cm|mm|km|m|meters?|metres?|inch(?:es)?|in|feet|foot|"
    r"ft|yards?|yd|miles?|mi|degrees?|cents?|dollars?|hours?|hrs?|minutes?|mins?|seconds?|secs?|"
    r"days?|weeks?|months?|years?|mph|pounds?|lbs?|ounces?|oz|grams?|g|kg|liters?|litres?|"
    r"gallons?|people|students|ways|points?)"
)
_TRAILING_TEXT_UNIT = re.compile(r"(?<=\S)\s*\\(?:text|textrm|mbox|mathrm)\{\s*[A-Za-z .]+\}(?:\^\{?\d\}?)?$")
_TRAILING_WORD_UNIT = re.compile(r"(?<=[\d}])\s+" + _UNIT_WORDS + r"(?:\^\{?\d\}?)?$", re.IGNORECASE)
_TEXT_WRAPPER = re.compile(r"\\(?:text|textrm|textbf|textit|mbox|mathrm|mathbf|operatorname)\{([^{}]*)\}")
_VARIABLE_PREFIX = re.compile(r"^(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w+\}?)?\s*(?:=|\\in(?![A-Za-z]))\s*(?=\S)")
_SPACING = re.compile(r"\\\\|\\[!,;:> ]|\\q?quad(?![A-Za-z])|\\displaystyle(?![A-Za-z])")  # matrix row breaks are kept
_UNICODE_MINUS = str.maketrans({"\u2212": "-"})
# "288\cdot\pi" is "288\pi": a product sign after a number and before a symbol says nothing.
# Not before a digit ("2\cdot 3" is 6, not 23) nor a fraction ("2\cdot\frac13" is not 2 1/3).
_COEFFICIENT_PRODUCT = re.compile(r"(?<=\d)\s*\\(?:cdot|times)(?![A-Za-z])\s*(?=[A-Za-z]|\\(?![dt]?frac(?![A-Za-z])))")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
# MATH answers are short; past this length an answer is compared as one string, so a runaway
# output (thousands of nested or listed parts) costs linear time, not quadratic.
_STRUCTURE_LIMIT = 500
_SIMPLE_RATIO = re.compile(r"^(-?)([\w\\{}^.]+)/([\w\\{}^.]+)$")


def _strip_delimiters(text: str) -> str:
    """Drop whole-answer wrappers: `$…$`, `\\(…\\)`, `\\[…\\]`, `\\boxed{…}`, `\\fbox{…}`."""
    text = text.strip()
    while True:
        for opener, closer in (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if len(text) > len(opener) + len(closer) and text.startswith(opener) and text.endswith(closer):
                text = text[len(opener) : -len(closer)].strip()
                break
        else:
            box = BOX_COMMAND.match(text)
            group = _braced(text, box.end()) if box and text[box.end() : box.end() + 1] == "{" else None
            if group is None or group[1] != len(text):
                return text
            text = group[0].strip()


def _frac_argument(text: str, i: int) -> tuple[str, int] | None:
    """One argument of `\\frac` starting at `i`: a `{…}` group, a `\\command`, or one character."""
    if i >= len(text):
        return None
    if text[i] == "{":
        return _braced(text, i)
    if text[i] == "\\":
        command = re.match(r"\\[A-Za-z]+", text[i:])
        if command:
            return command.group(0), i + len(command.group(0))
    return text[i], i + 1


def _balanced(text: str) -> bool:
    """Whether every brace in `text` closes inside it (so it can be a `\\frac` argument)."""
    depth = 0
    for char in text.replace("\\{", "").replace("\\}", ""):
        depth += 1 if char == "{" else -1 if char == "}" else 0
        if depth < 0:
            return False
    return depth == 0 and "\\begin" not in text


def _unbrace(text: str) -> str:
    """`{x}` -> `x` when one brace group is the whole text."""
    group = _braced(text, 0) if text.startswith("{") else None
    return group[0] if group is not None and group[1] == len(text) else text


def _brace_fracs(text: str) -> str:
    """`\\frac12` -> `\\frac{1}{2}`, `\\frac{270}7` -> `\\frac{270}{7}`, `\\frac\\pi2` too."""
    out, i = [], 0
    while (j := text.find("\\frac", i)) >= 0:
        out.append(text[i : j + 5])
        i = j + 5
        for _ in range(2):
            argument = _frac_argument(text, i)
            if argument is None:
                break
            out.append("{" + argument[0] + "}")
            i = argument[1]
    out.append(text[i:])
    return "".join(out)


def normalise_math(answer: str) -> str:
    """A canonical string for a MATH answer; equal strings mean equal answers.

    Drops what does not change the value (spacing commands, `\\left`/`\\right`, degree marks,
    dollar and percent signs, trailing units, a leading "x =" or "x \\in", a final period,
    thousands separators, also `{,}`, a product sign between a number and a symbol) and the
    unicode minus (as "-"), and spells fractions and roots one way (`\\dfrac` and `\\tfrac` ->
    `\\frac`, `\\frac12` -> `\\frac{1}{2}`, `\\sqrt2` -> `\\sqrt{2}`, `a/b` -> `\\frac{a}{b}`).
    """
    s = _strip_delimiters(str(answer).replace("\n", " ").translate(_UNICODE_MINUS))
    s = s.replace("{,}", ",")  # "10{,}080": a thousands separator, braced so TeX adds no space
    s = _SPACING.sub(lambda m: m.group(0) if m.group(0) == "\\\\" else " ", s)
    s = re.sub(r"\\[dt]frac(?![A-Za-z])", r"\\frac", s)
    s = re.sub(r"\\(?:left|right|big|Big|bigl|bigr|Bigl|Bigr)(?![A-Za-z])", "", s)
    s = _COEFFICIENT_PRODUCT.sub("", s)
    s = re.sub(r"\^\s*\{?\s*\\circ\s*\}?|°|\\circ(?![A-Za-z])|\\degree(?![A-Za-z])", "", s)
    s = s.replace("\\$", "").replace("$", "").replace("\\%", "").replace("%", "")
    s = s.strip().rstrip(".").strip()
    s = _TRAILING_TEXT_UNIT.sub("", s).strip()
    s = _TEXT_WRAPPER.sub(r"\1", s).strip()
    s = _TRAILING_WORD_UNIT.sub("", s).strip()
    if s.count("=") == 1 or ("=" not in s and "\\in" in s):
        s = _VARIABLE_PREFIX.sub("", s)
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"\\sqrt([0-9A-Za-z])", r"\\sqrt{\1}", s)
    s = _brace_fracs(s)
    s = re.sub(r"([_^])\{(\w)\}", r"\1\2", s)  # x^{2} -> x^2, 52_{8} -> 52_8
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    s = re.sub(r"(^|[^\d])\.(\d)", r"\g<1>0.\2", s)  # .5 -> 0.5
    s = s.rstrip(".")
    if re.fullmatch(r"\([A-Za-z]\)", s):  # "(C)" -> "C"
        s = s[1]
    if (ratio := _SIMPLE_RATIO.match(s)) and all(_balanced(ratio.group(g)) for g in (2, 3)):
        top, bottom = (_unbrace(ratio.group(g)) for g in (2, 3))
        s = f"{ratio.group(1)}\\frac{{{top}}}{{{bottom}}}"
    return _normalise_parts(s) if len(s) <= _STRUCTURE_LIMIT else s


def _normalise_parts(s: str) -> str:
    """Normalise each part of a union, list, tuple or interval, so "(3,\\pi/2)" reads
    "(3,\\frac{\\pi}{2})" and equal answers get equal strings wherever possible."""
    for separator in ("\\cup", ","):
        parts = _split_top(s, separator)
        if len(parts) > 1:
            return separator.join(normalise_math(part) for part in parts)
    if (bracketed := _bracketed(s)) is not None:
        opening, elements, closing = bracketed
        return opening + ",".join(normalise_math(e) for e in elements) + closing
    return s


# ---------------------------------------------------------------------------------------------
# Comparison

_DECIMAL = r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+"
_PLAIN = re.compile(rf"^[+-]?(?:{_DECIMAL})$")
_FRAC = re.compile(rf"^([+-]?)\\frac\{{([+-]?(?:{_DECIMAL}))\}}\{{([+-]?(?:{_DECIMAL}))\}}$")
_MIXED = re.compile(r"^([+-]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$")
_MATRIX = re.compile(r"^\\begin\{([pbvB]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$")


def value(text: str) -> Fraction | None:
    """The exact value of a normalised number, fraction or mixed number, else None."""
    try:
        if _PLAIN.match(text):
            return Fraction(text)
        if match := _FRAC.match(text):
            sign, top, bottom = match.groups()
            result = Fraction(top) / Fraction(bottom)
            return -result if sign == "-" else result
        if match := _MIXED.match(text):
            sign, whole, top, bottom = match.groups()
            result = int(whole) + Fraction(int(top), int(bottom))
            return -result if sign == "-" else result
    except (ValueError, ZeroDivisionError):
        return None
    return None


def _split_top(text: str, separator: str) -> list[str]:
    """`text` split at `separator` where no bracket or brace is open."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        if text.startswith(separator, i) and depth == 0:
            parts.append(text[start:i])
            i += len(separator)
            start = i
            continue
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        i += 1
    parts.append(text[start:])
    return parts


def _bracketed(text: str) -> tuple[str, list[str], str] | None:
    """(opening, elements, closing) for a tuple or interval like `(a,b]`, else None."""
    if len(text) < 2 or text[0] not in "([" or text[-1] not in ")]":
        return None
    depth = 0
    for i, char in enumerate(text):  # the first bracket must close at the very end: not "(1,2),(3,4)"
        depth += 1 if char in "([{" else -1 if char in ")]}" else 0
        if depth == 0 and i < len(text) - 1:
            return None
    elements = _split_top(text[1:-1], ",")
    return (text[0], elements, text[-1]) if len(elements) > 1 else None


def _members(text: str) -> list[str] | None:
    """The members of an unordered answer: "1,-2", "\\{1,2\\}", "1\\pm\\sqrt{19}"; else None."""
    if text.startswith("\\{") and text.endswith("\\}"):
        text = text[2:-2]
    members: list[str] = []
    for part in _split_top(text, ","):
        if part.count("\\pm") == 1:
            members += [part.replace("\\pm", "+"), part.replace("\\pm", "-")]
        else:
            members.append(part)
    return members if len(members) > 1 else None


def _matrix(text: str) -> list[list[str]] | None:
    match = _MATRIX.match(text)
    if match is None:
        return None
    return [_split_top(row, "&") for row in match.group(2).split("\\\\") if row]


def _all_equal(left: list[str], right: list[str]) -> bool:
    return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right))


def _same_members(left: list[str], right: list[str]) -> bool:
    """Multiset equality under `_equal`, whatever the order."""
    if len(left) != len(right):
        return False
    unused = list(right)
    for a in left:
        partner = next((b for b in unused if _equal(a, b)), None)
        if partner is None:
            return False
        unused.remove(partner)
    return True


def _equal(left: str, right: str) -> bool:
    """Equality of two answers, each normalised first (so elements can be compared too)."""
    a, b = normalise_math(left), normalise_math(right)
    if not a or not b:
        return False
    if a == b or (a.isalpha() and a.lower() == b.lower()):
        return True
    va, vb = value(a), value(b)
    if va is not None and vb is not None:
        return va == vb
    if max(len(a), len(b)) > _STRUCTURE_LIMIT:
        return False
    ma, mb = _matrix(a), _matrix(b)
    if ma is not None and mb is not None:
        return len(ma) == len(mb) and all(_all_equal(x, y) for x, y in zip(ma, mb))
    ua, ub = _split_top(a, "\\cup"), _split_top(b, "\\cup")
    if len(ua) > 1 or len(ub) > 1:
        return _all_equal(ua, ub)
    ta, tb = _bracketed(a), _bracketed(b)
    if ta is not None and tb is not None:
        return ta[0] == tb[0] and ta[2] == tb[2] and _all_equal(ta[1], tb[1])
    sa, sb = _members(a), _members(b)
    if sa is not None and sb is not None:
        return _same_members(sa, sb)
    return False


def math_equal(predicted: str, gold: str) -> bool:
    """Whether a predicted MATH answer equals the gold one (see `normalise_math`).

    An answer nested deeper than Python's recursion limit is wrong, not a crashed evaluation.
    """
    try:
        return _equal(predicted, gold)
    except RecursionError:
        return False


# ---------------------------------------------------------------------------------------------
# Task


@dataclass
class MATH500(FileTask):
    """The 500-problem MATH test subset of Lightman et al. (2023), one JSON line per problem."""

    name: ClassVar[str] = "math500"
    roles: ClassVar[tuple[str, ...]] = MATH_ROLES
    decision: ClassVar[DecisionKind] = "final_refer"
    splits: ClassVar[dict[str, tuple[str, ...]]] = {"test": ("math/math500.jsonl",)}
    hub: ClassVar[dict[str, HubSource]] = {"test": HubSource("HuggingFaceH4/MATH-500", None, "test")}

    def __post_init__(self) -> None:
        if self.config.math_verify:
            require_math_verify()  # at construction, not at the first wrong answer

    def items(self, split: str = "test") -> Iterator[Item]:
        """Items in file order; the id carries MATH's own `unique_id` (e.g. precalculus/807)."""
        split = self.canonical_split(split)

        def parse(_: int, record: dict[str, Any]) -> Item:
            r = require(record, "problem", "answer", "unique_id")
            uid = str(r["unique_id"]).removesuffix(".json").removeprefix("test/")
            meta = {k: r.get(k, "") for k in ("subject", "level", "unique_id", "solution")}
            question = f"{str(r['problem']).strip()}\n\n{INSTRUCTION}"
            return Item(f"{self.name}/{split}/{uid}", question, str(r["answer"]).strip(), meta)

        yield from self.records(split, parse)

    def extract(self, output: str) -> str:
        """The normalised answer, so votes and early stops count "\\dfrac12" and "\\frac{1}{2}" as one."""
        written = extract_math_answer(output)
        try:
            return normalise_math(written)
        except RecursionError:
            return written

    async def score(self, item: Item, output: str) -> Score:
        """Exact under `math_equal`; with `config.math_verify`, also what math-verify proves
        equal where `math_equal` is not exact (`details["by"]` says which decided)."""
        written = extract_math_answer(output)
        correct, by = math_equal(written, item.answer), "agentnet"
        if not correct and self.config.math_verify:
            try:
                predicted, gold = normalise_math(written), normalise_math(item.answer)
            except RecursionError:
                predicted = gold = ""
            correct, by = symbolic_equal(predicted, gold), "math-verify"
        return Score(1.0 if correct else 0.0, self.extract(output), {"written": written, "by": by})
