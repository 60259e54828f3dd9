"""Every task by name, and `make_task`. Imports each task module (they import only `base`)."""

from __future__ import annotations

from collections.abc import Callable

from agentnet.errors import UnknownNameError
from agentnet.task_types import Task
from agentnet.tasks.asymmetric import Asymmetric
from agentnet.tasks.base import TaskConfig
from agentnet.tasks.choice import MMLU, AQuA
from agentnet.tasks.humaneval import HumanEval
from agentnet.tasks.math500 import MATH500
from agentnet.tasks.math_word import GSM8K, SVAMP, MultiArith
from agentnet.tasks.qa import ARCChallenge, HotpotQA, HotpotQAContext, TriviaQA, TwoWikiMultiHopQA

TaskFactory = Callable[[TaskConfig], Task]

REGISTRY: dict[str, TaskFactory] = {
    "gsm8k": GSM8K,
    "multiarith": MultiArith,
    "svamp": SVAMP,
    "aqua": AQuA,
    "math500": MATH500,
    "mmlu": MMLU,
    "humaneval": HumanEval,
    "hotpotqa": HotpotQA,
    "hotpotqa-context": HotpotQAContext,
    "2wikimultihopqa": TwoWikiMultiHopQA,
    "triviaqa": TriviaQA,
    "arc-challenge": ARCChallenge,
    "asymmetric": Asymmetric,
}


def make_task(name: str, config: TaskConfig | None = None) -> Task:
    """The task called `name`, built with `config` (defaults when None)."""
    factory = REGISTRY.get(name)
    if factory is None:
        raise UnknownNameError("task", name, sorted(REGISTRY))
    return factory(config or TaskConfig())
