"""The optimiser: an LLM reads an OPTO problem and suggests new values for its variables.

`Optimizer` is the protocol the trace loop needs (one async `propose`); `OptoPrime` is our
implementation of OptoPrime's prompt (system: how to read a problem + the output format;
user: the problem, then earlier (variables, feedback) pairs from a FIFO memory, then - our
addition, for small models that otherwise key their answer by intermediate names such as
`a0_r0[1]` - the names the suggestion may use). Another implementation (e.g. one wrapping
Microsoft's trace-opt) plugs in by providing `propose`.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agentnet.checks import check_fields
from agentnet.errors import AgentNetError, ConfigError
from agentnet.llm import LLMBackend
from agentnet.prompts import optimizer_template
from agentnet.training.trace.extract import ExtractionError, parse_reply
from agentnet.training.trace.params import Value
from agentnet.training.trace.problem import Problem, clip
from agentnet.types import GenerationSettings, Message, Usage


@dataclass(frozen=True)
class Proposal:
    """What an optimiser suggests for one problem. `error` set: nothing usable came back."""

    suggestion: dict[str, object]  # variable -> value as written (the loop casts it)
    reasoning: str = ""
    terminate: bool = False
    notes: tuple[str, ...] = ()
    raw: str = ""  # the optimiser's reply, for the report
    usage: Usage = field(default_factory=Usage)
    error: str | None = None


@runtime_checkable
class Optimizer(Protocol):
    name: str

    async def propose(self, problem: Problem) -> Proposal:
        """Suggest new values for `problem`'s variables. Failures come back as `Proposal.error`."""
        ...


@runtime_checkable
class Stateful(Protocol):
    """An optimiser with state the loop checkpoints, and that learns the loop's verdicts."""

    def remember(self, values: dict[str, Value], feedback: str) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class OptoPrimeConfig:
    memory_size: int = field(
        default=3,
        metadata={
            "help": "Past (variables, feedback) pairs the optimiser sees; 0 turns memory off.",
            "flags": ("--memory",),
        },
    )
    memory_value_chars: int = field(
        default=800, metadata={"ge": 1, "help": "Each remembered value is clipped to this many characters."}
    )
    max_tokens: int = field(default=1024, metadata={"help": "Completion tokens per optimiser call."})
    temperature: float = field(default=0.0, metadata={"ge": 0, "le": 2, "help": "Optimiser sampling temperature."})
    # constrain the reply to {"reasoning": str, "suggestion": {variable: value}} with the
    # trainable names as the only keys and each value's type (grammar-constrained on llama.cpp,
    # structured outputs on vLLM); small models otherwise write broken JSON or invent names
    json_mode: bool = field(
        default=True,
        metadata={
            "help": "Constrain the optimiser's reply to a JSON schema keyed by the trainable variables (grammar on llama.cpp, structured outputs on vLLM); --free-text for servers without structured output.",
            "flags": ("--json-mode/--free-text",),
        },
    )
    model: str | None = field(
        default=None, metadata={"help": "Model name for the optimiser (with --optimizer-base-url)."}
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if self.memory_size < 0:
            raise ConfigError(f"memory_size={self.memory_size} must be 0 or more")


def reply_schema(problem: Problem) -> dict[str, object]:
    """The JSON Schema of an answer to `problem`: reasoning first, then only its variables."""
    suggestion = {"type": "object", "properties": problem.schemas, "additionalProperties": False}
    return {
        "type": "object",
        "properties": {"reasoning": {"type": "string"}, "suggestion": suggestion},
        "required": ["reasoning", "suggestion"],
        "additionalProperties": False,
    }


class OptoPrime:
    """OptoPrime over any `LLMBackend`, with a FIFO memory of (variables, feedback) pairs."""

    name = "optoprime"

    def __init__(self, backend: LLMBackend, config: OptoPrimeConfig = OptoPrimeConfig()):
        self.backend, self.config = backend, config
        self.memory: deque[tuple[dict[str, Value], str]] = deque(maxlen=config.memory_size or None)
        self.settings = GenerationSettings(
            model=config.model, temperature=config.temperature, max_tokens=config.max_tokens
        )

    def messages(self, problem: Problem) -> list[Message]:
        memory = ""
        if self.config.memory_size and self.memory:
            n = self.config.memory_value_chars
            examples = "\n\n".join(
                json.dumps(
                    {"variables": {k: clip(str(v), n) for k, v in values.items()}, "feedback": feedback},
                    indent=2,
                    ensure_ascii=False,
                )
                for values, feedback in self.memory
            )
            memory = optimizer_template("memory").substitute(examples=examples)
        user = optimizer_template("user").substitute(
            problem=problem.render(), memory=memory, names=", ".join(problem.names)
        )
        return [Message("system", optimizer_template("system").template.strip()), Message("user", user.strip())]

    async def propose(self, problem: Problem) -> Proposal:
        messages = self.messages(problem)
        # as in OptoPrime: this step's (variables, feedback) join the memory after it is shown
        self.remember(dict(problem.values), problem.feedback)
        settings = self.settings
        if self.config.json_mode:
            settings = settings.with_(json_schema=json.dumps(reply_schema(problem)))
        try:
            completion = await self.backend.complete(messages, settings)
        except AgentNetError as e:
            hint = (
                " (a server without structured output? turn json_mode off: --free-text)" if settings.json_schema else ""
            )
            return Proposal({}, error=f"optimiser call failed: {e}{hint}")
        try:
            parsed = parse_reply(completion.text, problem.names)
        except ExtractionError as e:
            return Proposal({}, raw=completion.text, usage=completion.usage, error=str(e))
        return Proposal(
            parsed.suggestion, parsed.reasoning, parsed.terminate, parsed.notes, completion.text, completion.usage
        )

    def remember(self, values: dict[str, Value], feedback: str) -> None:
        if self.config.memory_size:
            self.memory.append((dict(values), feedback))

    def state_dict(self) -> dict[str, Any]:
        return {"memory": [[values, feedback] for values, feedback in self.memory]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.memory.clear()
        for values, feedback in state.get("memory", []):
            self.remember(values, feedback)
