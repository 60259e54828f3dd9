"""Run a code-valued parameter (the answer-extraction function) on many outputs, in the sandbox.

The optimiser writes this code, so it never runs in our process: one child process per
evaluation (agentnet.tasks.sandbox: resource limits, kernel containment with Landlock and
seccomp, no network, no processes, no writes outside its directory) runs `extract` on every output and prints the results as one marked JSON line.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from agentnet.errors import AgentNetError
from agentnet.tasks.sandbox import Sandbox

_MAX_RESULT_CHARS = 4000  # per output: the task only needs the answer's text

_HARNESS = """

def _agentnet_main():
    import json, sys
    outputs = json.loads(__PAYLOAD__)
    results = []
    for output in outputs:
        try:
            value = __FUNCTION__(output)
            results.append({"ok": True, "value": "" if value is None else str(value)[:__LIMIT__]})
        except Exception as e:  # one bad output must not hide the others' results
            results.append({"ok": False, "error": (type(e).__name__ + ": " + str(e))[:300]})
    sys.stdout.write("\\n" + __MARKER__ + json.dumps(results) + "\\n")
    sys.stdout.flush()


_agentnet_main()
"""


class CodeParamError(AgentNetError):
    """The code could not run at all (syntax, crash, timeout, no result)."""


@dataclass(frozen=True)
class CodeResult:
    values: list[str]  # "" where the call raised
    errors: list[str | None]  # per output: the exception, or None

    @property
    def failed(self) -> int:
        return sum(e is not None for e in self.errors)


async def run_function(code: str, function: str, outputs: list[str], sandbox: Sandbox) -> CodeResult:
    """`function(output)` for each output, run by `code` in `sandbox`."""
    if not outputs:
        return CodeResult([], [])
    marker = f"@@agentnet-result-{secrets.token_hex(8)}@@"
    harness = (
        _HARNESS.replace("__PAYLOAD__", repr(json.dumps(outputs)))
        .replace("__FUNCTION__", function)
        .replace("__LIMIT__", str(_MAX_RESULT_CHARS))
        .replace("__MARKER__", repr(marker))
    )
    result = await sandbox.run_python(code + harness)
    line = next((ln for ln in reversed(result.stdout.splitlines()) if ln.startswith(marker)), None)
    if line is None:
        tail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise CodeParamError(f"the {function}() code gave no result ({result.status}): {tail[:300]}")
    rows = json.loads(line[len(marker) :])
    return CodeResult([r.get("value", "") for r in rows], [None if r["ok"] else r["error"] for r in rows])


def code_sandbox(timeout_s: float = 30.0) -> Sandbox:
    """A sandbox sized for one batch of outputs (results come back on stdout, so allow plenty)."""
    return Sandbox(timeout_s=timeout_s, cpu_s=max(1, int(timeout_s)), memory_mb=512, max_output_bytes=2**23)
