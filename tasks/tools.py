"""The sandbox-backed runner of agent tools (`agentnet.tools`): `python` executes the reply's
program, `tests` runs the reply's code against the task's visible examples.

Both run in the task's code sandbox, exactly as HumanEval scoring does, so a hostile program
in a tool is contained the same way; a run that fails, times out or is refused is a recorded
status, never an exception.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from agentnet.answers import code_blocks
from agentnet.errors import ConfigError
from agentnet.task_types import CodeCheck
from agentnet.tasks.sandbox import Sandbox
from agentnet.tools import ToolKind, ToolRun

RESULT_CHARS = 200  # the longest printed line taken as a program's result
KEPT_CHARS = 4000  # a run's output kept in the trajectory (its tail): a program may print 64 KiB

# Appended to a program-aided reply's code: a `solution()` that takes no arguments is called
# and its value printed (a program that already printed it prints it again; the last line wins).
_CALL_SOLUTION = """

def _agentnet_call_solution():
    import inspect
    solution = globals().get("solution")
    if not callable(solution):
        return
    try:
        required = [p for p in inspect.signature(solution).parameters.values()
                    if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        required = []
    if not required:
        print(solution())


_agentnet_call_solution()
"""


@dataclass(frozen=True)
class SandboxTools:
    """Runs `python` and `tests` tools in `sandbox`; `code_check` (a code task's visible
    examples) is needed for `tests` only."""

    sandbox: Sandbox = field(default_factory=Sandbox)
    code_check: CodeCheck | None = None

    async def __call__(self, tool: ToolKind, reply: str, query: str) -> ToolRun:
        blocks = code_blocks(reply)
        if tool == "none":
            raise ConfigError("tool 'none' runs nothing; the runtime does not call a runner for it")
        if not blocks:
            return ToolRun(tool, "no_code", "", "")
        code = blocks[-1]
        started = time.perf_counter()
        if tool == "python":
            result = await self.sandbox.run_python(code + _CALL_SOLUTION, main=True)
            printed = [line.strip() for line in result.stdout.splitlines() if line.strip()]
            status = result.status if result.status in ("passed", "failed", "timeout", "error") else "failed"
            output = result.stdout if result.passed else f"{result.stdout}\n{result.stderr}".strip()
            answer = printed[-1][:RESULT_CHARS] if printed and result.passed else ""
            return ToolRun("python", status, code, _tail(output), answer, time.perf_counter() - started)
        if self.code_check is None:
            raise ConfigError("the 'tests' tool needs a code task's visible examples (code_check=)")
        passed, report = await self.code_check(code, query)
        return ToolRun(
            "tests", "passed" if passed else "failed", code, _tail(report), "", time.perf_counter() - started
        )


def _tail(text: str) -> str:
    return text if len(text) <= KEPT_CHARS else "..." + text[-KEPT_CHARS:]
