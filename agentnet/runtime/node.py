"""What every node of a compiled team shares: the run state, the run context, and one
recorded LLM call (`call_agent`). The compiler and the deciders both import this module."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict, TypeVar

from langgraph.channels.delta import DeltaChannel

from agentnet.agents import DEFAULT_MODEL_KEY
from agentnet.errors import BackendError, ConfigError
from agentnet.graph import CommGraph, ReceiveGate, StopGate
from agentnet.llm import LLMBackend
from agentnet.rounds import Spoken
from agentnet.task_types import CodeCheck
from agentnet.tools import ToolKind, ToolRun, ToolRunner
from agentnet.trajectory import MessageRecord
from agentnet.types import Completion, GenerationSettings, Message, Usage

Extract = Callable[[str], str]
T = TypeVar("T")


def _last(old: T, writes: Sequence[T]) -> T:
    return writes[-1]


def _merge(old: dict[str, str], writes: Sequence[dict[str, str]]) -> dict[str, str]:
    merged = dict(old)
    for w in writes:
        merged.update(w)
    return merged


def _append(old: list[dict[str, Any]], writes: Sequence[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [*old, *(r for w in writes for r in w)]


class RunState(TypedDict, total=False):
    """The run's state. What grows with the team (outputs, records) and what is written once
    (query, graph, context) are `DeltaChannel`s: a checkpoint stores each write once, where it
    was made, and LangGraph replays them on resume; a plain channel is stored again in every
    checkpoint, so a run's disk grew with its supersteps times its records (every call's full
    prompt again at every step)."""

    query: Annotated[str, DeltaChannel(_last)]
    graph: Annotated[dict[str, Any], DeltaChannel(_last)]  # the CommGraph, so a resumed run rebuilds the same graph
    context: Annotated[dict[str, str], DeltaChannel(_last)]  # agent -> private information only that agent sees
    outputs: Annotated[dict[str, str], DeltaChannel(_merge)]  # "agent@round" -> output
    records: Annotated[list[dict[str, Any]], DeltaChannel(_append)]
    stop_after: int  # the round after which the team stopped early
    answer: str


@dataclass(frozen=True)
class RunContext:
    """What the nodes need besides the state; fixed for a Team.

    `backends` maps model names (what agents name) to backends; `fallback`, when set, answers
    for every model the mapping lacks (a team given one backend). `prices` are per 1,000
    tokens, by model (a model without one costs `default_price`). `tools` runs the agents'
    tools (agentnet.tools); a team whose agents use none needs none."""

    backends: Mapping[str, LLMBackend]
    extract: Extract
    early_stop: bool = False
    code_check: CodeCheck | None = None
    receive_gate: ReceiveGate | None = None
    stop_gate: StopGate | None = None
    fallback: LLMBackend | None = None
    prices: Mapping[str, float] = field(default_factory=dict)
    default_price: float = 1.0
    tools: ToolRunner | None = None

    def backend(self, model: str) -> LLMBackend:
        found = self.backends.get(model) or self.fallback
        if found is None:  # Team checks every graph before it runs; this is a second line
            raise ConfigError(f"no backend for model {model!r}; the team has {', '.join(self.backends)}")
        return found

    def cost(self, model: str, usage: Usage) -> float:
        """What a call's tokens cost at the model's price (per 1,000 tokens)."""
        return usage.total_tokens * self.prices.get(model, self.default_price) / 1000


def key(agent: str, round: int) -> str:
    return f"{agent}@{round}"


async def call_agent(
    ctx: RunContext,
    *,
    agent: str,
    round: int,
    kind: Literal["agent", "decision"],
    model: str,
    messages: list[Message],
    settings: GenerationSettings,
    spatial_from: tuple[str, ...] = (),
    temporal_from: tuple[str, ...] = (),
    gated_from: tuple[str, ...] = (),
    stream: bool = False,
    tool: ToolKind = "none",
    query: str = "",
) -> tuple[str, dict[str, Any]]:
    """One LLM call as a recorded message; a backend failure is recorded, not raised. With a
    `tool`, it runs on the reply (`run_tool`) and the returned text carries its observation."""
    from langgraph.config import get_stream_writer

    write = get_stream_writer() if stream else None
    if write:
        write({"event": "start", "agent": agent, "round": round})
    on_delta = (
        (lambda piece: write({"event": "delta", "agent": agent, "round": round, "text": piece})) if write else None
    )
    started = time.perf_counter()
    error = None
    try:
        # a failed attempt's partial text is withdrawn before a retry (only asked of streaming calls)
        retract = {"on_retract": lambda: write({"event": "retract", "agent": agent, "round": round})} if write else {}
        completion = await ctx.backend(model).complete(messages, settings, on_delta=on_delta, **retract)
    except BackendError as e:
        error = str(e)
        completion = Completion("", "error", Usage(), time.perf_counter() - started)
    run = await run_tool(ctx, tool, completion.text, query) if tool != "none" and error is None else None
    if run is not None and write:
        write({"event": "tool", "agent": agent, "round": round, "text": run.observation(), "status": run.status})
    extra = completion.extra
    record = MessageRecord(
        agent=agent,
        round=round,
        kind=kind,
        prompt=tuple(messages),
        output=completion.text,
        usage=completion.usage,
        latency_s=completion.latency_s,
        attempts=completion.attempts,
        error=error,
        finish_reason=completion.finish_reason,
        cached=bool(extra.get("cached", False)),
        spatial_from=spatial_from,
        temporal_from=temporal_from,
        gated_from=gated_from,
        # an agent that names no model is recorded with the one that answered (the served model's name)
        model=completion.model if model == DEFAULT_MODEL_KEY and completion.model else model,
        cost=ctx.cost(model, completion.usage),
        logprob=answer_logprob(completion.text, extra.get("token_logprobs"), ctx.extract),
        replica=extra.get("replica"),
        warnings=tuple(str(w) for w in extra.get("warnings", ())),
        tool=run.to_dict() if run is not None else None,
    )
    if write:
        write(
            {
                "event": "finish",
                "agent": agent,
                "round": round,
                "text": completion.text,
                "usage": [completion.usage.prompt_tokens, completion.usage.completion_tokens],
                "error": error,
            }
        )
    return record.said, record.to_dict()


def answer_logprob(text: str, token_logprobs: object, extract: Extract) -> float | None:
    """The mean log-probability of the tokens that state the reply's answer (the extracted
    answer's last occurrence in the text; the last non-empty line when it cannot be found), or
    None when the server sent no log-probabilities. `token_logprobs`: [(token text, logprob), …]."""
    if not isinstance(token_logprobs, list) or not token_logprobs or not text:
        return None
    answer = extract(text).strip()
    start = text.rfind(answer) if answer else -1
    if start < 0:
        stripped = text.rstrip()
        start = stripped.rfind("\n") + 1
        end = len(stripped)
    else:
        end = start + len(answer)
    picked, at = [], 0
    for token, logprob in token_logprobs:
        token_end = at + len(token)
        if token_end > start and at < end:
            picked.append(float(logprob))
        at = token_end
    if not picked:  # the tokens do not add up to the text (a server that strips): the tail's mean
        picked = [float(lp) for _, lp in token_logprobs[-8:]]
    return sum(picked) / len(picked)


async def run_tool(ctx: RunContext, tool: ToolKind, text: str, query: str) -> ToolRun:
    """Run an agent's tool on its reply. What the agent "said" (for peers, the decision and
    the extractor) then gains the run's observation. A runner that fails is recorded as the
    tool's error, never raised: the reply stands without a fact."""
    if ctx.tools is None:  # Team refuses a tool-using graph without a runner; a second line
        raise ConfigError(f"an agent uses the {tool!r} tool and the team has no tool runner (tools=)")
    started = time.perf_counter()
    try:
        return await ctx.tools(tool, text, query)
    except Exception as e:  # noqa: BLE001 - a tool is code we did not write: its failure is data
        return ToolRun(tool, "error", "", f"{type(e).__name__}: {e}", time_s=time.perf_counter() - started)


def spoken(graph: CommGraph, ctx: RunContext, state: RunState, round: int) -> dict[str, Spoken]:
    """What each of the round's agents said: its text (with its tool's observation), extracted
    answer, tool status, answer log-probability and model, from the state's records."""
    outputs = state.get("outputs", {})
    records = {r["agent"]: r for r in state.get("records", []) if r.get("round") == round and r.get("kind") == "agent"}
    said = {}
    for name in graph.active[round]:
        text, record = outputs.get(key(name, round), ""), records.get(name, {})
        tool = record.get("tool") or {}
        said[name] = Spoken(
            name,
            text,
            ctx.extract(text) if text else "",
            record.get("model", ""),
            tool.get("status"),
            record.get("logprob"),
        )
    return said
