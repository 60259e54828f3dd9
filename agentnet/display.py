"""What the CLI shows: token tables, graph listings, live agent streams, the bench progress bar."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agentnet.agents import DEFAULT_MODEL_KEY, AgentSpec
from agentnet.answers import extract_answer
from agentnet.decisions import decision_info
from agentnet.errors import AgentNetError
from agentnet.graph import CommGraph
from agentnet.prompts import load_role
from agentnet.runtime.team import TeamEvent
from agentnet.tools import ToolRun
from agentnet.trajectory import Trajectory

if TYPE_CHECKING:
    from agentnet.serving.engines import Server
    from agentnet.store import ResultRow, RunSummary


def token_table(trajectory: Trajectory) -> Table:
    """Per agent: role, model, tool runs, calls, tokens, cost and latency; then the total."""
    table = Table(
        "agent",
        "role",
        "model",
        "tool",
        "calls",
        "prompt tok",
        "completion tok",
        "cost",
        "latency s",
        title="Tokens and cost per agent",
    )
    costs = trajectory.cost_by_agent()
    for name, usage in trajectory.usage_by_agent().items():
        msgs = [m for m in trajectory.messages if m.agent == name]
        role = next((a.title for a in trajectory.graph.agents if a.name == name), "decision")
        models = ", ".join(dict.fromkeys(m.model for m in msgs if m.model)) or "-"
        table.add_row(
            name,
            role,
            models,
            tool_cell([r for m in msgs if (r := m.tool_run)]),
            str(len(msgs)),
            str(usage.prompt_tokens),
            str(usage.completion_tokens),
            f"{costs.get(name, 0.0):.3f}",
            f"{sum(m.latency_s for m in msgs):.2f}",
        )
    total = trajectory.usage
    runs = trajectory.tool_runs
    table.add_row(
        "total",
        "",
        "",
        tool_cell(runs),
        str(trajectory.calls),
        str(total.prompt_tokens),
        str(total.completion_tokens),
        f"{trajectory.cost:.3f}",
        f"wall {trajectory.wall_s:.2f}",
        style="bold",
    )
    skipped = trajectory.skipped()
    if skipped:
        table.caption = f"skipped: {', '.join(skipped)}"
    return table


def tool_cell(runs: list[ToolRun]) -> str:
    """ "python 2/3 ok" for the tool runs of some calls ("-" when none)."""
    if not runs:
        return "-"
    kinds = ", ".join(dict.fromkeys(r.tool for r in runs))
    return f"{kinds} {sum(r.ok for r in runs)}/{len(runs)} ok"


def render_graph(graph: CommGraph, stop: str = "") -> str:
    """The graph as text: per round who runs (and who is skipped), its edges, and the decision.
    `stop` describes a learned stop head (decided during a run, after each round)."""

    def edges(es: tuple[tuple[str, str], ...]) -> str:
        return ", ".join(f"{u}→{v}" for u, v in es) or "(none)"

    lines = ["agents: " + ", ".join(f"{a.name} ({agent_cell(a)})" for a in graph.agents)]
    for t in range(graph.rounds):
        skipped = [n for n in graph.names if not graph.is_active(n, t)]
        lines.append(
            f"round {t} runs: {', '.join(graph.active[t])}" + (f"  (skipped: {', '.join(skipped)})" if skipped else "")
        )
        lines.append(f"round {t} spatial: {edges(graph.spatial[t])}")
        if t > 0:
            lines.append(f"round {t} temporal: {edges(graph.temporal[t - 1])}")
        if stop and t < graph.rounds - 1:
            lines.append(f"after round {t}: {stop}")
    last = graph.last_agent(graph.rounds - 1)
    lines.append(
        f"decision: {graph.decision.kind}" if graph.decide else f"decision: skipped ({last}'s answer is the team's)"
    )
    lines.append(f"calls: {graph.calls()}" + (" at most" if stop else ""))
    return "\n".join(lines)


def agent_cell(agent: AgentSpec) -> str:
    """ "Math Solver on qwen2.5-coder-0.5b, tool python": what an agent is, in a line."""
    parts = [agent.title]
    if agent.model != DEFAULT_MODEL_KEY:
        parts[0] += f" on {agent.model}"
    if agent.tool != "none":
        parts.append(f"tool {agent.tool}")
    if agent.adversary:
        parts.append(f"adversary: {agent.adversary}")
    return ", ".join(parts)


def print_stream(events: Iterator[TeamEvent], out: Console) -> Trajectory:
    """Agents of a layer run at once: the earliest unfinished one prints live, the others'
    text is held and printed, whole, when their turn comes.

    A `retract` event (an attempt of that call failed after streaming some text; a retry
    may follow) voids the call's text so far: held text is dropped, printed text is marked.
    """
    order: list[str] = []  # calls in start order, "agent@round"
    held: dict[str, list[str]] = {}
    done: dict[str, TeamEvent] = {}

    def show(call: str) -> None:
        agent, rnd = call.split("@")
        out.print(f"\n[bold cyan]── {agent} · round {rnd}[/]")
        out.print("".join(held.pop(call, [])), end="", highlight=False, markup=False)

    def finish(call: str) -> None:
        event = done.pop(call)
        out.print(f"\n[dim]({event.usage[0]} prompt + {event.usage[1]} completion tokens)[/]")

    for event in events:
        call = f"{event.agent}@{event.round}"
        if event.event == "start":
            order.append(call)
            held[call] = []
            if len(order) == 1:
                show(call)
        elif event.event == "delta":
            if order and order[0] == call:
                out.print(event.text, end="", highlight=False, markup=False)
            else:
                held[call].append(event.text)
        elif event.event == "retract":
            if order and order[0] == call:
                out.print("\n[yellow]↻ this attempt failed part-way: its text above is discarded[/]")
            elif call in held:
                held[call] = []
        elif event.event == "tool":  # the agent's tool ran on its reply (before its finish event)
            if order and order[0] == call:
                out.print(event.text, end="", highlight=False, markup=False)
            elif call in held:
                held[call].append(event.text)
        elif event.event == "finish":
            done[call] = event
            while order and order[0] in done:  # the live call ended: show the next ones
                finish(order.pop(0))
                if order:
                    show(order[0])
        elif event.event == "done" and event.trajectory is not None:
            return event.trajectory
    raise AgentNetError("the stream ended without a result")


class BenchProgress:
    """A Rich progress bar with live accuracy, tokens per query and throughput."""

    def __init__(self, total: int, done: int, summary: RunSummary, console: Console):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]bench"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("acc {task.fields[acc]}"),
            TextColumn("tok/q {task.fields[tok]}"),
            TextColumn("{task.fields[rate]} items/min"),
            TimeElapsedColumn(),
            console=console,
        )
        self._n, self._score, self._tokens = (
            summary.scored,
            summary.accuracy * summary.scored,
            summary.tokens_per_query * summary.scored,
        )
        self._new, self._started = 0, time.monotonic()
        self._task = self._progress.add_task("bench", total=total, completed=done, **self._fields())

    def _fields(self) -> dict[str, Any]:  # Progress.update(**fields)
        minutes = max(time.monotonic() - self._started, 1e-9) / 60
        return {
            "acc": f"{100 * self._score / self._n:.1f}%" if self._n else "–",
            "tok": f"{self._tokens / self._n:.0f}" if self._n else "–",
            "rate": f"{self._new / minutes:.1f}" if self._new else "–",
        }

    def update(self, row: ResultRow) -> None:
        self._n, self._new = self._n + 1, self._new + 1
        self._score += row.score
        self._tokens += row.prompt_tokens + row.completion_tokens
        self._progress.update(self._task, advance=1, **self._fields())

    def __enter__(self) -> BenchProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


def announce(server: Server, console: Console) -> None:
    """The server's notes, and where a started one serves (or an endpoint answers) and logs."""
    for note in server.notes:
        console.print(f"[yellow]note:[/] {note}")
    if server.process is not None:
        console.print(
            f"[dim]{server.engine} serving {server.model} at {server.base_url} "
            f"(ready in {server.startup_s:.1f}s; log {server.log_path})[/]"
        )
    elif server.model:
        console.print(f"[dim]{server.model} served at {server.base_url}[/]")


class Announced(Protocol):
    """What a team runs on, as announced: the servers and the pool's own notes."""

    @property
    def notes(self) -> Sequence[str]: ...

    @property
    def servers(self) -> Sequence[Server]: ...


def announce_all(served: Announced, console: Console) -> None:
    """`announce` for every server a team runs on, after the pool's own notes."""
    for note in served.notes:
        console.print(f"[yellow]note:[/] {note}")
    for server in served.servers:
        announce(server, console)


def curl_hint(server: Server) -> str:
    """A request to try against a started server."""
    body = json.dumps({"model": server.model, "messages": [{"role": "user", "content": "Hi"}]})
    return f"curl {server.base_url}/chat/completions -H 'Content-Type: application/json' -d '{body}'"


def reasoning_lines(trajectory: Trajectory, answer: str, extract: Callable[[str], str]) -> list[Text]:
    """Where `answer` came from: the decision agent's reply; or, for a vote, every final-round
    agent's answer and the first reply that gave the winning one; or the last agent's reply."""
    ok = [m for m in trajectory.messages if not m.error and m.output.strip()]
    decided = [m for m in ok if m.kind == "decision"]
    final = [m for m in ok if m.kind == "agent" and m.round == trajectory.rounds_run - 1]
    titles = {a.name: a.title for a in trajectory.graph.agents}
    lines: list[Text] = []
    if decided:
        source, title = decided[-1], load_role(trajectory.graph.decision.role).title
    elif final and decision_info(trajectory.graph.decision.kind).votes and len(final) > 1:
        votes = [(m, extract(m.output)) for m in final]
        lines.append(Text("votes: " + " · ".join(f"{m.agent} {said or '(none)'}" for m, said in votes), style="dim"))
        source = next((m for m, said in votes if said == answer), final[-1])
        title = titles.get(source.agent, "")
    elif final:  # the last agent answers
        last = trajectory.graph.last_agent(trajectory.rounds_run - 1)
        source = next((m for m in final if m.agent == last), final[-1])
        title = titles.get(source.agent, "")
    else:
        return lines
    lines.append(Text(f"── {source.agent} ({title})", style="bold cyan"))
    lines.append(Text(source.output.strip()))
    return lines


def print_result(
    trajectory: Trajectory,
    out: Console,
    err: Console,
    *,
    checkpointed: bool = False,
    save: Path | None = None,
    extract: Callable[[str], str] = extract_answer,
    reasoning: bool = True,
) -> None:
    """What `agentnet run` prints after a run: `Answer: <the extracted answer>` on its own line,
    then (unless the run was streamed) the reasoning behind it, the token table, early stops,
    failed calls, the thread id to resume; the trajectory saved as JSON when asked."""
    if trajectory.messages and len(trajectory.errors) == len(trajectory.messages):
        raise AgentNetError(f"every agent call failed; the first: {trajectory.errors[0].error}")
    answer = extract(trajectory.answer) if trajectory.answer.strip() else ""
    out.print(Text.assemble(("Answer:", "bold"), f" {answer or '(none)'}"))
    if reasoning:
        for line in reasoning_lines(trajectory, answer, extract):
            out.print(line)
    out.print(token_table(trajectory))
    if trajectory.stopped_early:
        out.print(
            f"stopped early after round {trajectory.rounds_run}; ~{trajectory.tokens_saved_estimate} tokens saved"
        )
    for m in trajectory.errors:
        err.print(f"[yellow]{m.agent}@{m.round} failed:[/] {m.error}", highlight=False)
    if checkpointed:
        err.print(f"[dim]thread id {trajectory.thread_id} (resume with --thread-id)[/]")
    if save:
        trajectory.save(save)
        err.print(f"[dim]trajectory written to {save}[/]")


def models_table(cache_dir: Path) -> Table:
    """The named local models: installed or how to install, default price, what each is."""
    from rich.text import Text

    from agentnet.serving import NAMED_MODELS
    from agentnet.serving.models import model_status

    table = Table("name")
    table.add_column("status", no_wrap=True)  # an install command is copied whole, never folded
    table.add_column("price /1k tok", justify="right")
    table.add_column("model", overflow="fold")
    for m in NAMED_MODELS.values():  # Text: "[qwen15]" in an install hint is no markup
        table.add_row(m.name, Text(model_status(m, cache_dir)), f"{m.params_b:g}", m.description)
    return table


def roles_table() -> Table:
    """The role library: id, title, default tool, the prompt's first line."""
    from agentnet.prompts import load_role, role_ids

    table = Table("id", "title", "tool", "prompt")
    for rid in role_ids():
        card = load_role(rid)
        table.add_row(rid, card.title, card.tool, card.system.splitlines()[0])
    return table
