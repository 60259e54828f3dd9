"""What every node of a compiled team shares: the run state, the run context, and one
recorded LLM call (`call_agent`). The compiler and the deciders both import this module."""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

from agentnet.errors import BackendError
from agentnet.graph import ReceiveGate, StopGate
from agentnet.llm import LLMBackend
from agentnet.task import CodeCheck
from agentnet.trajectory import MessageRecord
from agentnet.types import Completion, GenerationSettings, Message, Usage

Extract = Callable[[str], str]


def _merge(left: dict[str, str] | None, right: dict[str, str] | None) -> dict[str, str]:
    return {**(left or {}), **(right or {})}


class RunState(TypedDict, total=False):
    query: str
    graph: dict[str, Any]  # the CommGraph, so a resumed run rebuilds the same graph
    context: dict[str, str]  # agent -> private information only that agent sees
    outputs: Annotated[dict[str, str], _merge]  # "agent@round" -> output
    records: Annotated[list[dict[str, Any]], operator.add]
    stop_after: int  # the round after which the team stopped early
    answer: str


@dataclass(frozen=True)
class RunContext:
    """What the nodes need besides the state; fixed for a Team."""

    backends: Mapping[str, LLMBackend]
    extract: Extract
    early_stop: bool = False
    code_check: CodeCheck | None = None
    receive_gate: ReceiveGate | None = None
    stop_gate: StopGate | None = None


def key(agent: str, round: int) -> str:
    return f"{agent}@{round}"


async def call_agent(
    ctx: RunContext,
    *,
    agent: str,
    round: int,
    kind: Literal["agent", "decision"],
    backend: str,
    messages: list[Message],
    settings: GenerationSettings,
    spatial_from: tuple[str, ...] = (),
    temporal_from: tuple[str, ...] = (),
    gated_from: tuple[str, ...] = (),
    stream: bool = False,
) -> tuple[str, dict[str, Any]]:
    """One LLM call as a recorded message; a backend failure is recorded, not raised."""
    from langgraph.config import get_stream_writer

    write = get_stream_writer() if stream else None
    if write:
        write({"event": "start", "agent": agent, "round": round})
    on_delta = (lambda piece: write({"event": "delta", "agent": agent, "round": round, "text": piece})) if write else None
    started = time.perf_counter()
    error = None
    try:
        # a failed attempt's partial text is withdrawn before a retry (only asked of streaming calls)
        retract = {"on_retract": lambda: write({"event": "retract", "agent": agent, "round": round})} if write else {}
        completion = await ctx.backends[backend].complete(messages, settings, on_delta=on_delta, **retract)
    except BackendError as e:
        error = str(e)
        completion = Completion("", "error", Usage(), time.perf_counter() - started)
    record = MessageRecord(
        agent=agent, round=round, kind=kind,
        prompt=tuple(messages), output=completion.text, usage=completion.usage,
        latency_s=completion.latency_s, attempts=completion.attempts, error=error,
        finish_reason=completion.finish_reason, cached=bool(completion.extra.get("cached", False)),
        spatial_from=spatial_from, temporal_from=temporal_from, gated_from=gated_from,
    )  # fmt: skip
    if write:
        write({"event": "finish", "agent": agent, "round": round, "text": completion.text,
               "usage": [completion.usage.prompt_tokens, completion.usage.completion_tokens], "error": error})  # fmt: skip
    return completion.text, record.to_dict()
