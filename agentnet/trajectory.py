"""`Trajectory`: the one record of a team's run that benchmarks, trainers and reports consume.

Token accounting comes from the servers' `usage`: per agent, per round, per edge (the
tokens a sender's message adds to a receiver's prompt: the sender's completion tokens),
prompt versus completion, per query; `batch_usage` sums queries.

Two ledgers: tokens *spent* (every call, answered from the response cache or not: what a
topology costs, what reports compare) and tokens *served* (calls the server actually
answered: what the machine paid). Each call keeps its finish reason, so the calls cut off
at max_tokens can be counted.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from agentnet.graph import CommGraph
from agentnet.tools import ToolRun
from agentnet.types import Message, Usage

DECISION = "decision"  # the agent name under which decision calls are recorded


@dataclass(frozen=True)
class MessageRecord:
    agent: str
    round: int  # the decision is recorded at round == rounds run
    kind: Literal["agent", "decision"]
    prompt: tuple[Message, ...]
    output: str
    usage: Usage
    latency_s: float
    attempts: int = 1
    error: str | None = None
    spatial_from: tuple[str, ...] = ()  # senders whose outputs this prompt included
    temporal_from: tuple[str, ...] = ()
    gated_from: tuple[str, ...] = ()  # "agent@round" messages a receive gate shut out
    finish_reason: str = "unknown"  # the server's: stop, length (cut off at max_tokens), error …
    cached: bool = False  # answered from the response cache: spent, not served
    model: str = ""  # the model that answered (what the agent names; "" in older trajectories)
    cost: float = 0.0  # the call's tokens at its model's price (per 1,000 tokens)
    tool: dict[str, Any] | None = None  # the agent's tool execution on this reply (agentnet.tools.ToolRun)
    logprob: float | None = None  # mean log-probability of the answer's tokens, when the server sent them
    replica: str | None = None  # the endpoint that answered, when the model has several
    warnings: tuple[str, ...] = ()  # what the backend noticed (another model answered, a reply cut to size…)

    @property
    def tool_run(self) -> ToolRun | None:
        return ToolRun.from_dict(self.tool) if self.tool else None

    @property
    def said(self) -> str:
        """What peers, the decision and the extractor read: the reply, then its tool's observation."""
        run = self.tool_run
        return self.output + run.observation() if run else self.output

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["prompt"] = [m.to_dict() for m in self.prompt]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MessageRecord:
        return cls(
            **{
                **d,
                "prompt": tuple(Message(m["role"], m["content"]) for m in d["prompt"]),
                "usage": Usage(**d["usage"]),
                "spatial_from": tuple(d.get("spatial_from", ())),
                "temporal_from": tuple(d.get("temporal_from", ())),
                "gated_from": tuple(d.get("gated_from", ())),
                "warnings": tuple(d.get("warnings", ())),
            }
        )


@dataclass(frozen=True)
class EdgeTokens:
    sender: str
    receiver: str
    kind: Literal["spatial", "temporal"]
    round: int  # the receiving round
    tokens: int


@dataclass
class Trajectory:
    query: str
    graph: CommGraph
    messages: list[MessageRecord]
    answer: str
    rounds_run: int
    stopped_early: bool = False
    tokens_saved_estimate: int = 0
    thread_id: str | None = None
    wall_s: float = 0.0
    error: str | None = None  # set when the run, or any agent call in it, failed
    meta: dict[str, Any] = field(default_factory=dict)

    # -- accounting -------------------------------------------------------------------------
    @property
    def usage(self) -> Usage:
        return sum((m.usage for m in self.messages), Usage())

    @property
    def cost(self) -> float:
        """Every call's tokens at its model's price (per 1,000 tokens)."""
        return sum(m.cost for m in self.messages)

    def cost_by_agent(self) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for m in self.messages:
            out[m.agent] += m.cost
        return dict(out)

    @property
    def tool_runs(self) -> list[ToolRun]:
        return [run for m in self.messages if (run := m.tool_run) is not None]

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def calls(self) -> int:
        return len(self.messages)

    def skipped(self) -> list[str]:
        """The calls the graph did not make: inactive agents ("a1@0"), the rounds a stop skipped
        ("round 2"), and the decision when it was skipped ("decision")."""
        return skipped_calls(self.graph, self.rounds_run)

    @property
    def errors(self) -> list[MessageRecord]:
        return [m for m in self.messages if m.error]

    @property
    def spent_usage(self) -> Usage:
        """Tokens of every call, cached or not (the same as `usage`)."""
        return self.usage

    @property
    def served_usage(self) -> Usage:
        """Tokens of the calls a server answered (not the response cache)."""
        return sum((m.usage for m in self.messages if not m.cached), Usage())

    @property
    def cached_calls(self) -> int:
        return sum(m.cached for m in self.messages)

    @property
    def cut_off_calls(self) -> int:
        """Calls that stopped at max_tokens: their answers may end before the answer line."""
        return sum(m.finish_reason == "length" for m in self.messages)

    @property
    def unknown_finish_calls(self) -> int:
        """Calls whose finish reason was not recorded (older trajectories) or not reported."""
        return sum(m.finish_reason == "unknown" for m in self.messages)

    def finish_reasons(self) -> dict[str, int]:
        return dict(Counter(m.finish_reason for m in self.messages))

    def usage_by_agent(self) -> dict[str, Usage]:
        out: dict[str, Usage] = defaultdict(Usage)
        for m in self.messages:
            out[m.agent] += m.usage
        return dict(out)

    def usage_by_round(self) -> dict[int, Usage]:
        out: dict[int, Usage] = defaultdict(Usage)
        for m in self.messages:
            out[m.round] += m.usage
        return dict(sorted(out.items()))

    def edge_tokens(self) -> list[EdgeTokens]:
        sent = {(m.agent, m.round): m for m in self.messages if m.kind == "agent"}
        out = []
        for m in self.messages:
            if m.kind != "agent":
                continue
            for kind, senders, r in (("spatial", m.spatial_from, m.round), ("temporal", m.temporal_from, m.round - 1)):
                for s in senders:
                    src = sent.get((s, r))
                    if src is not None and src.output:
                        out.append(EdgeTokens(s, m.agent, kind, m.round, src.usage.completion_tokens))  # type: ignore[arg-type]
        return out

    def tokens_saved_by_gates(self) -> int:
        """Completion tokens of the messages receive gates shut out (what they would have added)."""
        sent = {(m.agent, m.round): m.usage.completion_tokens for m in self.messages if m.kind == "agent"}
        saved = 0
        for m in self.messages:
            for gated in m.gated_from:
                agent, _, rnd = gated.rpartition("@")
                saved += sent.get((agent, int(rnd)), 0)
        return saved

    def output(self, agent: str, round: int) -> str | None:
        for m in self.messages:
            if m.agent == agent and m.round == round:
                return m.output
        return None

    # -- serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, object]:
        return {
            "query": self.query,
            "graph": self.graph.to_dict(),
            "messages": [m.to_dict() for m in self.messages],
            "answer": self.answer,
            "rounds_run": self.rounds_run,
            "stopped_early": self.stopped_early,
            "tokens_saved_estimate": self.tokens_saved_estimate,
            "thread_id": self.thread_id,
            "wall_s": self.wall_s,
            "error": self.error,
            "meta": self.meta,
            "usage": asdict(self.usage),
            "served_usage": asdict(self.served_usage),
            "cost": self.cost,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trajectory:
        d = {k: v for k, v in d.items() if k not in ("usage", "served_usage", "cost")}  # derived, not stored state
        return cls(
            **{
                **d,
                "graph": CommGraph.from_dict(d["graph"]),
                "messages": [MessageRecord.from_dict(m) for m in d["messages"]],
            }
        )

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Trajectory:
        return cls.from_dict(json.loads(Path(path).read_text()))


def batch_usage(trajectories: Iterable[Trajectory]) -> Usage:
    return sum((t.usage for t in trajectories), Usage())


def skipped_calls(g: CommGraph, rounds_run: int) -> list[str]:
    """`Trajectory.skipped` from a graph and the rounds that ran (what a stored result keeps)."""
    out = [f"{a}@{t}" for t in range(min(rounds_run, g.rounds)) for a in g.names if not g.is_active(a, t)]
    out += [f"round {t}" for t in range(rounds_run, g.rounds)]
    return out + ([] if g.decide else ["decision"])


def heard_from(messages: Iterable[Mapping[str, Any]], senders: set[str]) -> set[str]:
    """Who read a message of `senders` directly (agents and the decision call), from a stored
    trajectory's message records: how far a planted adversary's messages reached."""
    return {
        m["agent"]
        for m in messages
        if m["agent"] not in senders and senders & {*m.get("spatial_from", ()), *m.get("temporal_from", ())}
    }
