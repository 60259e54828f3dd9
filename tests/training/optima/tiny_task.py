"""A two-fact task whose gold answer is always Lyon, for deterministic loop tests."""

from __future__ import annotations

from collections.abc import Iterator

from agentnet.task_types import Item, Score


class TinyTask:
    name = "tiny"
    roles = ("alice", "bob")
    decision = "last_agent"

    def __init__(self, size: int = 3):
        self.size = size

    def item(self, index: int) -> Item:
        return Item(
            f"tiny/{index}",
            f"Where does person {index} live?",
            "Lyon",
            private=((f"P{index} lives where Q works.",), ("Q works in Lyon.",)),
        )

    def items(self, split: str = "train") -> Iterator[Item]:
        return (self.item(i) for i in range(self.size))

    def extract(self, output: str) -> str:
        return output.split("<A>")[-1].split("</A>")[0] if "<A>" in output else ""

    async def score(self, item: Item, output: str) -> Score:
        got = self.extract(output)
        return Score(float(got == item.answer), got)
