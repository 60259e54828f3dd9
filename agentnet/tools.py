"""Agent tools whose results are facts: the registry, the record of one execution, and the
protocol a runner implements.

An agent's `tool` names what happens to its reply before anyone reads it:
- `none`: nothing; peers read what it said.
- `python`: the last ```python block of the reply runs in the code sandbox; what it printed
  (or the error) is appended to the reply as an observation. A program that defines
  `solution()` and prints nothing has `print(solution())` run for it (program-aided reasoning:
  the model writes the program, the sandbox computes the answer).
- `tests`: for code tasks, the reply's code runs against the task's *visible* examples (the
  docstring's, never the hidden tests) and the report is appended.

The runtime (core) only knows this protocol; the sandbox-backed runner lives with the tasks
(`agentnet.tasks.tools`) and is wired in by the team assembly, so the core never imports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol, get_args

from agentnet.errors import UnknownNameError

ToolKind = Literal["none", "python", "tests"]
ToolStatus = Literal["passed", "failed", "timeout", "no_code", "error"]
OBSERVATION_CHARS = 1500  # what an observation may add to a reply (the tail of long output)


@dataclass(frozen=True)
class ToolInfo:
    kind: ToolKind
    needs_code_task: bool  # only a code task (one with visible examples) can run it
    help: str


TOOLS: dict[str, ToolInfo] = {
    t.kind: t
    for t in (
        ToolInfo("none", False, "no tool: peers read what the agent said"),
        ToolInfo("python", False, "its last ```python block runs in the sandbox; the printed result is appended"),
        ToolInfo("tests", True, "its code runs against the task's visible examples; the report is appended"),
    )
}
if set(TOOLS) != set(get_args(ToolKind)):  # pragma: no cover - caught by the import in any test
    raise RuntimeError(f"ToolKind {get_args(ToolKind)} and TOOLS {list(TOOLS)} disagree")


def tool_info(kind: str) -> ToolInfo:
    info = TOOLS.get(kind)
    if info is None:
        raise UnknownNameError("tool", kind, list(TOOLS))
    return info


@dataclass(frozen=True)
class ToolRun:
    """One execution of an agent's tool, as the trajectory records it."""

    tool: ToolKind
    status: ToolStatus
    code: str  # what ran ("" when the reply had no code)
    output: str  # what it printed, or the report (a tail, at most OBSERVATION_CHARS)
    result: str = ""  # python: the last line it printed (its answer); tests: ""
    time_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    def observation(self) -> str:
        """The text appended to the agent's reply: what peers, the decision and the answer
        extractor read. A python result is stated as the answer (the program computed it); a
        failure states none, so the extractor falls back to what the agent said."""
        body = "\n".join(f"    {line}" for line in _tail(self.output).splitlines()) or "    (no output)"
        if self.tool == "python":
            if self.status == "no_code":
                return "\n\n[python] The reply has no ```python block: nothing was run."
            if self.ok and self.result:
                return f"\n\n[python] The program ran and printed:\n{body}\nThe answer is {self.result}"
            return f"\n\n[python] The program {_failed(self.status)}:\n{body}"
        if self.status == "no_code":
            return "\n\n[tests] The reply has no code: no example was run."
        verdict = "All visible examples passed" if self.ok else f"The visible examples {_failed(self.status)}"
        return f"\n\n[tests] {verdict}:\n{body}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ToolRun:
        return cls(**d)


def _failed(status: str) -> str:
    return {"timeout": "timed out", "error": "could not be run"}.get(status, "failed")


def _tail(text: str, chars: int = OBSERVATION_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= chars else "..." + text[-chars:]


class ToolRunner(Protocol):
    """Runs an agent's tool on its reply (`query` identifies the item, e.g. its visible examples)."""

    async def __call__(self, tool: ToolKind, reply: str, query: str) -> ToolRun: ...
