"""One query from the command line: `agentnet run` (a team answers it, streamed or not) and
`agentnet topo show` (the graph a topology designs for it, printed and drawn)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from agentnet.adversaries import AttackConfig
from agentnet.assembly.models import serve_team
from agentnet.assembly.server import ClientConfig
from agentnet.assembly.team import team_for, topology_for
from agentnet.configs import TeamConfig
from agentnet.display import announce_all
from agentnet.errors import ConfigError
from agentnet.outputs import check_file_target, staged_file
from agentnet.serving import ServeConfig


def run_query(
    query: str,
    crew: TeamConfig,
    serve: ServeConfig,
    client: ClientConfig,
    out: Console,
    err: Console,
    stream: bool = False,
    show_graph: bool = False,
    save: Path | None = None,
    checkpoint: Path | None = None,
    thread_id: str | None = None,
) -> None:
    """The team answers `query` on its served models; prints the answer and a per-agent token table
    (`stream`: each agent's tokens as they arrive), `save`s the trajectory."""
    from agentnet.display import print_result, print_stream, render_graph

    if not query.strip():
        raise ConfigError('the query is empty; ask the team something, e.g. agentnet run "What is 12+7?"')
    topology = topology_for(crew)
    if show_graph:
        out.print(render_graph(topology.graph_for(query)))
    with serve_team(topology, crew, serve, client) as served:
        announce_all(served, err)
        the_team = team_for(None, topology, served.backends, crew, checkpoint=checkpoint, model=served.model)
        if stream:
            trajectory = print_stream(the_team.stream(query, thread_id=thread_id), out)
        else:
            with err.status(f"{crew.topology} team on {', '.join(s.model or '?' for s in served.servers)}…"):
                trajectory = the_team.run(query, thread_id=thread_id)
    print_result(trajectory, out, err, checkpointed=checkpoint is not None, save=save, reasoning=not stream)


def show_topology(
    spec: str, attack: AttackConfig, query: str, out_png: Path, agents: int, rounds: int, out: Console
) -> None:
    """Print and draw (PNG) the graph the topology `spec` designs for `query` (`agents` and `rounds`
    for a fixed shape)."""
    from agentnet.display import render_graph
    from agentnet.drawing import draw_topology

    check_file_target(out_png)  # before anything is printed or drawn
    chosen = topology_for(
        TeamConfig(topology=spec, agents=agents, rounds=rounds, roles=("math_solver",), attack=attack)
    )
    graph = chosen.graph_for(query)  # a fixed graph is its own
    stop = chosen.inference_stop_gate is not None
    out.print(render_graph(graph, stop="a learned stop head decides from this round's outputs" if stop else ""))
    with staged_file(out_png) as tmp:  # a directory, /proc or a path under a file: one line, nothing half-written
        draw_topology(graph, tmp, title=f"{spec} · {query[:60]}", stop=stop)
    out.print(str(out_png), highlight=False)
