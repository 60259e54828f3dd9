"""Tasks: benchmark loaders, prompt formatting, answer extraction and scoring.

`REGISTRY` (in `agentnet.tasks.registry`) maps each task name to a factory taking a
`TaskConfig`; `make_task` looks one up.
"""

from agentnet.tasks.base import TaskConfig
from agentnet.tasks.registry import REGISTRY, TaskFactory, make_task

__all__ = ["REGISTRY", "TaskConfig", "TaskFactory", "make_task"]
