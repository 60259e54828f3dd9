"""Arithmetic word problems with a numeric answer: GSM8K, MultiArith, SVAMP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from agentnet.answers import extract_answer, normalise_number
from agentnet.errors import ConfigError
from agentnet.graph import DecisionKind
from agentnet.task import Item, Score
from agentnet.tasks.base import HubSource, TaskConfig, load_records, numbers_match

MATH_ROLES = ("math_solver", "mathematical_analyst", "programming_expert", "inspector")


@dataclass
class NumericTask:
    """Shared extraction and scoring: 'The answer is N', else the last number; numeric tolerance."""

    config: TaskConfig = field(default_factory=TaskConfig)
    name: ClassVar[str] = ""
    roles: ClassVar[tuple[str, ...]] = MATH_ROLES
    decision: ClassVar[DecisionKind] = "final_refer"
    splits: ClassVar[dict[str, tuple[str, ...]]] = {}  # split -> candidate relative paths
    hub: ClassVar[dict[str, HubSource]] = {}  # split -> the same records on the hub

    def _records(self, split: str, required: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
        if split not in self.splits:
            raise ConfigError(f"{self.name} has no split {split!r}; splits: {', '.join(self.splits)}")
        return load_records(self.config, self.name, self.splits[split], required, self.hub.get(split))

    def extract(self, output: str) -> str:
        return extract_answer(output)

    async def score(self, item: Item, output: str) -> Score:
        extracted = self.extract(output)
        return Score(1.0 if numbers_match(extracted, item.answer) else 0.0, extracted)

    def items(self, split: str = "test") -> Iterator[Item]:
        raise NotImplementedError


@dataclass
class GSM8K(NumericTask):
    name: ClassVar[str] = "gsm8k"
    splits: ClassVar[dict[str, tuple[str, ...]]] = {"test": ("gsm8k/test.jsonl",), "train": ("gsm8k/train.jsonl",)}
    hub: ClassVar[dict[str, HubSource]] = {s: HubSource("openai/gsm8k", "main", s) for s in ("test", "train")}

    def items(self, split: str = "test") -> Iterator[Item]:
        for number, r in self._records(split, ("question", "answer")):
            gold = normalise_number(r["answer"].split("####")[-1].strip())
            yield Item(f"{self.name}/{split}/{number}", r["question"].strip(), gold, {"solution": r["answer"]})


@dataclass
class MultiArith(NumericTask):
    name: ClassVar[str] = "multiarith"
    splits: ClassVar[dict[str, tuple[str, ...]]] = {"test": ("multiarith/multiarith.jsonl",)}

    def items(self, split: str = "test") -> Iterator[Item]:
        for number, r in self._records(split, ("input", "target")):
            yield Item(f"{self.name}/{split}/{number}", r["input"].strip(), normalise_number(str(r["target"])))


@dataclass
class SVAMP(NumericTask):
    name: ClassVar[str] = "svamp"
    splits: ClassVar[dict[str, tuple[str, ...]]] = {"test": ("svamp/SVAMP.json",)}

    def items(self, split: str = "test") -> Iterator[Item]:
        for _, r in self._records(split, ("ID", "Body", "Question", "Answer")):
            question = f"{r['Body'].strip()} {r['Question'].strip()}"
            yield Item(f"{self.name}/{split}/{r['ID']}", question, normalise_number(str(r["Answer"])),
                       {"equation": r.get("Equation", ""), "type": r.get("Type", "")})  # fmt: skip
