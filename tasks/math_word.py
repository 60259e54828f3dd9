"""Arithmetic word problems with a numeric answer: GSM8K, MultiArith, SVAMP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from agentnet.answers import extract_answer, normalise_number
from agentnet.graph import DecisionKind
from agentnet.task_types import Item, Score
from agentnet.tasks.base import FileTask, HubSource, numbers_match
from agentnet.tasks.records import require

MATH_ROLES = ("math_solver", "mathematical_analyst", "programming_expert", "inspector")


@dataclass
class NumericTask(FileTask):
    """Shared extraction and scoring: `extract_answer`'s number; numeric tolerance."""

    roles: ClassVar[tuple[str, ...]] = MATH_ROLES
    decision: ClassVar[DecisionKind] = "final_refer"

    def extract(self, output: str) -> str:
        return extract_answer(output)

    async def score(self, item: Item, output: str) -> Score:
        extracted = self.extract(output)
        return Score(1.0 if numbers_match(extracted, item.answer) else 0.0, extracted)

    def items(self, split: str = "test") -> Iterator[Item]:
        split = self.canonical_split(split)
        yield from self.records(split, lambda number, r: self.item(split, number, r))

    def item(self, split: str, number: int, record: dict[str, Any]) -> Item:
        """One record as an Item; raises ValueError/KeyError for a malformed one."""
        raise NotImplementedError


@dataclass
class GSM8K(NumericTask):
    name: ClassVar[str] = "gsm8k"
    splits: ClassVar[dict[str, tuple[str, ...]]] = {"test": ("gsm8k/test.jsonl",), "train": ("gsm8k/train.jsonl",)}
    hub: ClassVar[dict[str, HubSource]] = {s: HubSource("openai/gsm8k", "main", s) for s in ("test", "train")}

    def item(self, split: str, number: int, record: dict[str, Any]) -> Item:
        r = require(record, "question", "answer")
        gold = normalise_number(r["answer"].split("####")[-1].strip())
        return Item(f"{self.name}/{split}/{number}", r["question"].strip(), gold, {"solution": r["answer"]})


@dataclass
class MultiArith(NumericTask):
    name: ClassVar[str] = "multiarith"
    splits: ClassVar[dict[str, tuple[str, ...]]] = {"test": ("multiarith/multiarith.jsonl",)}

    def item(self, split: str, number: int, record: dict[str, Any]) -> Item:
        r = require(record, "input", "target")
        return Item(f"{self.name}/{split}/{number}", r["input"].strip(), normalise_number(str(r["target"])))


@dataclass
class SVAMP(NumericTask):
    name: ClassVar[str] = "svamp"
    splits: ClassVar[dict[str, tuple[str, ...]]] = {"test": ("svamp/SVAMP.json",)}

    def item(self, split: str, number: int, record: dict[str, Any]) -> Item:
        r = require(record, "ID", "Body", "Question", "Answer")
        question = f"{r['Body'].strip()} {r['Question'].strip()}"
        return Item(
            f"{self.name}/{split}/{r['ID']}",
            question,
            normalise_number(str(r["Answer"])),
            {"equation": r.get("Equation", ""), "type": r.get("Type", "")},
        )
