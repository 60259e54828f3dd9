"""The sandbox-backed tool runner: program-aided answers are computed, failures are statuses."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentnet.errors import ConfigError
from agentnet.tasks.humaneval import HumanEval
from agentnet.tasks.sandbox import Sandbox
from agentnet.tasks.tools import SandboxTools

FAST = Sandbox(timeout_s=5)


def run(tool: str, reply: str, tools: SandboxTools | None = None, query: str = "q"):  # noqa: ANN201
    return asyncio.run((tools or SandboxTools(FAST))(tool, reply, query))  # type: ignore[arg-type]


def test_python_calls_solution_and_takes_its_result() -> None:
    reply = "Let me write it.\n```python\ndef solution():\n    pens, sheep = 3, 4\n    return pens * sheep\n```"
    result = run("python", reply)
    assert (result.status, result.result, result.output.strip()) == ("passed", "12", "12")
    assert "def solution" in result.code and result.time_s > 0


def test_python_runs_a_program_that_prints_its_own_answer() -> None:
    result = run("python", "```python\nprint(sum(range(5)))\n```")
    assert (result.status, result.result) == ("passed", "10")


def test_python_without_code_runs_nothing() -> None:
    result = run("python", "The answer is 12")
    assert (result.status, result.code, result.result) == ("no_code", "", "")


def test_a_failing_program_reports_its_error_and_no_result() -> None:
    result = run("python", "```python\ndef solution():\n    return 1 / 0\n```")
    assert result.status == "failed" and result.result == "" and "ZeroDivisionError" in result.output
    assert "The answer is" not in result.observation()


def test_a_hostile_program_is_contained(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("safe")
    reply = f"```python\nopen({str(outside)!r}, 'w').write('owned')\nprint(1)\n```"
    result = run("python", reply)
    assert outside.read_text() == "safe" and result.status == "failed"


def test_a_program_that_loops_forever_times_out() -> None:
    result = run("python", "```python\nwhile True:\n    pass\n```", SandboxTools(Sandbox(timeout_s=1, cpu_s=1)))
    assert result.status == "timeout" and result.result == ""


def test_tests_runs_the_visible_examples_only() -> None:
    task = HumanEval()
    item = next(task.items())  # HumanEval/0, has_close_elements
    tools = SandboxTools(FAST, task.code_check())
    good = f"```python\n{item.meta['prompt']}{item.answer}\n```"
    passed = run("tests", good, tools, item.question)
    assert passed.status == "passed" and "docstring example(s) passed" in passed.output
    bad = f"```python\n{item.meta['prompt']}    return True\n```"
    failed = run("tests", bad, tools, item.question)
    assert failed.status == "failed" and "Failed example" in failed.output


def test_tests_needs_a_code_task() -> None:
    with pytest.raises(ConfigError, match="needs a code task"):
        run("tests", "```python\nx = 1\n```")


def test_a_long_output_is_kept_as_its_tail() -> None:
    result = run("python", "```python\nfor i in range(3000):\n    print(i)\n```")
    assert result.status == "passed" and result.result == "2999"
    assert len(result.output) <= 4003 and result.output.startswith("...") and result.output.rstrip().endswith("2999")
