"""Default answer extraction, used by majority vote and early stopping when a task gives none."""

from __future__ import annotations

import re

_ANSWER_IS = re.compile(r"answer is[:\s]*([^\n]+)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_CODE_BLOCK = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)


def normalise_number(text: str) -> str:
    """'1,234.50' -> '1234.5', '7.0' -> '7'."""
    value = text.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value or "0"


def extract_answer(text: str) -> str:
    """'The answer is X' (X's number if it has one), else the last number, else the last line."""
    matches = _ANSWER_IS.findall(text)
    if matches:
        tail = matches[-1].strip().rstrip(".")
        numbers = _NUMBER.findall(tail)
        return normalise_number(numbers[0]) if numbers else tail.strip()
    numbers = _NUMBER.findall(text)
    if numbers:
        return normalise_number(numbers[-1])
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def code_from(text: str) -> str:
    """The last fenced code block, or the whole text when there is none."""
    blocks = _CODE_BLOCK.findall(text)
    return (blocks[-1] if blocks else text).strip()
