"""Tasks: benchmark loaders, prompt formatting, answer extraction and scoring.

`REGISTRY` maps each task name to a factory taking a `TaskConfig`; `make_task` looks one up.
"""

from agentnet.tasks.base import TaskConfig, TaskFactory, make_task
from agentnet.tasks.asymmetric import Asymmetric
from agentnet.tasks.choice import MMLU, AQuA
from agentnet.tasks.humaneval import HumanEval
from agentnet.tasks.math500 import MATH500
from agentnet.tasks.math_word import GSM8K, SVAMP, MultiArith
from agentnet.tasks.qa import ARCChallenge, HotpotQA, HotpotQAContext, TriviaQA, TwoWikiMultiHopQA

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

__all__ = ["REGISTRY", "TaskConfig", "make_task"]
