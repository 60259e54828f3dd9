"""Answer helpers: the default (numeric) answer extraction, `\\boxed{}` and code blocks.

`extract_answer` is what majority vote and early stopping use when a task gives none, and
what the arithmetic tasks (GSM8K, MultiArith, SVAMP) score. Checked against the graders of
lm-evaluation-harness (last number), Qwen2.5-Math and math-evaluation-harness (`\\boxed{}`
first, then "The answer is"), it reads, in order:
- the last complete `\\boxed{…}` or "The answer is …" / "Answer: …" statement, whichever
  comes later (so "The answer is:\\n\\[\\n\\boxed{-38000}\\n\\]" gives -38000, not "\\[");
- in what it states, the result of a leading calculation ("The answer is 2 + 16 = 18" gives
  18, not 2), else its first number, else its text ("The answer is B");
- else the reply's last number, else its last line.
"""

from __future__ import annotations

import re

# "the answer is" anywhere; "Answer:", "**Final Answer:**" only at a line's start ("let me answer:
# first, 3 * 4 = 12" states no answer)
_STATED = re.compile(
    r"\banswer\s+is\b|^[ \t*#>_]*(?:the\s+)?(?:final\s+)?answer\s*\**\s*:", re.IGNORECASE | re.MULTILINE
)
# what may sit between the statement and the answer: markup and display-math openers
_LEAD = re.compile(r"(?:[\s:*]|\$\$?|\\\[|\\\()*")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
# a calculation at the start of a statement, up to a sentence end: numbers, operators, brackets, "="
_CALCULATION = re.compile(r"(?:-?\d[\d,]*(?:\.\d+)?|[-+*/×÷·^()=$\s]|(?<=[\d\s])[xX](?=[\d\s]))+")
_LATEX_OPERATORS = {"\\times": "×", "\\cdot": "·", "\\div": "÷", "\\left": "", "\\right": ""}
_UNICODE_MINUS = str.maketrans({"\u2212": "-", "\u2012": "-", "\u2013": "-"})
_CODE_BLOCK = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)
BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")


def normalise_number(text: str) -> str:
    """'1,234.50' -> '1234.5', '7.0' -> '7'."""
    value = text.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value or "0"


def closing_braces(text: str, start: int = 0, *, first_only: bool = False) -> dict[int, int]:
    """Index of each `{` from `start` -> index of its `}`, in one pass (escaped `\\{`, `\\}`
    skipped). With `first_only`, stops once the brace at `start` closes (a group's end)."""
    pairs, open_at, i = {}, [], start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            open_at.append(i)
        elif char == "}" and open_at:
            pairs[open_at.pop()] = i
            if first_only and not open_at:
                break
        i += 1
    return pairs


def last_boxed_at(text: str) -> tuple[int, str] | None:
    """(where it starts, its content) for the last complete `\\boxed{…}` / `\\fbox{…}` (also
    `\\boxed 5`). A box cut off by a length limit does not count; an earlier complete one does."""
    pairs: dict[int, int] | None = None  # built once, so many open boxes stay linear
    for match in reversed(list(BOX_COMMAND.finditer(text))):
        i = match.end()
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{":
            pairs = closing_braces(text) if pairs is None else pairs
            if i in pairs:
                return match.start(), text[i + 1 : pairs[i]].strip()
        elif i > match.end():  # "\\boxed 5": one token
            token = re.match(r"[^\s$]+", text[i:])
            if token:
                return match.start(), token.group(0).rstrip(".")
    return None


def last_boxed(text: str) -> str | None:
    """The content of the last complete `\\boxed{…}` (see `last_boxed_at`), or None."""
    found = last_boxed_at(text)
    return found[1] if found else None


def _stated_number(statement: str) -> str:
    """The answer a statement gives: a leading calculation's result, else its first number,
    else the statement itself ("B")."""
    for command, symbol in _LATEX_OPERATORS.items():
        statement = statement.replace(command, symbol)
    statement = statement.translate(_UNICODE_MINUS).strip().rstrip(".").strip()
    calculation = _CALCULATION.match(statement)
    if calculation:
        leading = re.split(r"\.(?:\s|$)", calculation.group(0))[0]  # up to the sentence's end
        if "=" in leading and (results := _NUMBER.findall(leading.rsplit("=", 1)[1])):
            return normalise_number(results[0])
    numbers = _NUMBER.findall(statement)
    return normalise_number(numbers[0]) if numbers else statement.strip()


def extract_answer(text: str) -> str:
    """The answer a reply states (see the module docstring), as a normalised number if it has one."""
    boxed = last_boxed_at(text)
    stated = None
    for match in reversed(list(_STATED.finditer(text))):
        lead = _LEAD.match(text, match.end())
        start = lead.end() if lead else match.end()
        line = text[start:].split("\n", 1)[0].strip()
        if line:
            stated = (match.start(), line)
            break
    if boxed is not None and (stated is None or boxed[0] > stated[0]):
        return _stated_number(boxed[1].replace("\\$", "$").replace("\\%", "%"))
    if stated is not None:
        return _stated_number(stated[1])
    numbers = _NUMBER.findall(text.translate(_UNICODE_MINUS))
    if numbers:
        return normalise_number(numbers[-1])
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def code_blocks(text: str) -> list[str]:
    """The fenced ```python (or untagged) code blocks of a reply, in order."""
    return [block.strip() for block in _CODE_BLOCK.findall(text)]


def code_from(text: str) -> str:
    """The last fenced code block, or the whole text when there is none."""
    blocks = code_blocks(text)
    return blocks[-1] if blocks else text.strip()
