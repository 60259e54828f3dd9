"""The Task and CodeTask protocols."""

from __future__ import annotations

from agentnet.task_types import CodeTask, Item, Score, is_code_task
from agentnet.tasks.humaneval import HumanEval
from agentnet.tasks.math_word import GSM8K


class _Checks:
    """A task in every respect, with a code check."""

    name = "toy"
    roles = ("coder",)
    decision = "code_writer"

    def items(self, split: str = "test"):
        yield Item("toy/1", "write f", "")

    def extract(self, output: str) -> str:
        return output

    async def score(self, item: Item, output: str) -> Score:
        return Score(0.0, output)

    def code_check(self):
        async def check(code: str, query: str) -> tuple[bool, str]:
            return True, "ok"

        return check


class _NotCallable(_Checks):
    code_check = None  # type: ignore[assignment]


class _CheckOnly:
    def code_check(self):
        return None


def test_humaneval_is_a_code_task_and_gsm8k_is_not() -> None:
    assert is_code_task(HumanEval()) and isinstance(HumanEval(), CodeTask)
    assert not is_code_task(GSM8K())


def test_a_code_task_needs_the_task_members_and_a_callable_check() -> None:
    assert is_code_task(_Checks())
    assert not is_code_task(_NotCallable())
    assert not is_code_task(_CheckOnly())
