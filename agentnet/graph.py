"""`CommGraph`: who runs and who reads whom, per round. Plain data, validated once, JSON and
networkx round-trips.

Spatial edges run inside a round and must be acyclic there (a receiver waits for its
senders). Temporal edges run from round t-1 to round t; `temporal[i]` holds the edges from
round i to round i+1, and may include self-edges (an agent rereads its own last output).
`active[t]` names the agents that run in round t (an inactive agent makes no call and sends
nothing, so an edge from or to it is an error); `decide=False` skips the decision step, and
the team's answer is then the final-round output of its last active agent.
"""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agentnet.agents import AgentSpec
from agentnet.checks import check_fields, load_document, number, read_text
from agentnet.decisions import DecisionKind, decision_info
from agentnet.errors import ConfigError
from agentnet.prompts import load_role
from agentnet.rounds import Spoken
from agentnet.types import GenerationSettings

if TYPE_CHECKING:
    import networkx as nx

Edge = tuple[str, str]
# (agent, round, the agent's own last output, query) -> does it read its senders this round?
ReceiveGate = Callable[[str, int, str, str], bool]
# (round just finished, {agent: what it said in that round}, query) -> does the team stop here?
StopGate = Callable[[int, Mapping[str, Spoken], str], bool]
MAX_AGENTS = 64  # a team larger than this is almost certainly a typo; graph algorithms stay linear in edges
MAX_ROUNDS = 100  # likewise; a round count is also a recursion limit and a tuple length, not free
MAX_FIXES = 100  # a code writer's rewrites after failed checks


@dataclass(frozen=True)
class Decision:
    """How the team's answer is made from the final round (kinds: `agentnet.decisions.DECISIONS`).
    An empty `role` takes the kind's default role from the registry."""

    kind: DecisionKind = "final_refer"
    role: str = ""
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    max_fixes: int = 1  # code_writer: rewrites after a failed check
    system: str | None = None  # literal system prompt of the decision agent; overrides `role` (trainers write it)
    model: str = ""  # the model the decision call runs on; "" = the last agent's

    def __post_init__(self) -> None:
        number("max_fixes", self.max_fixes, int, ge=0, le=MAX_FIXES)
        info = decision_info(self.kind)
        if not self.role:
            object.__setattr__(self, "role", info.role)


def find_cycle(nodes: Iterable[str], edges: Iterable[Edge]) -> list[str] | None:
    """A cycle as a node list (first node repeated at the end), or None."""
    import networkx as nx

    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return None
    return [u for u, _ in cycle] + [cycle[0][0]]


@dataclass(frozen=True)
class CommGraph:
    agents: tuple[AgentSpec, ...]
    spatial: tuple[tuple[Edge, ...], ...]  # one edge set per round
    temporal: tuple[tuple[Edge, ...], ...] = ()  # rounds-1 edge sets: round i → i+1
    decision: Decision = field(default_factory=Decision)
    active: tuple[tuple[str, ...], ...] = ()  # per round, the agents that run; () = all, every round
    decide: bool = True  # False: no decision step; the last active agent's final output answers

    def __post_init__(self) -> None:
        names = [a.name for a in self.agents]
        # canonical edge order (agent order, no repeats): equal graphs compare and hash equal
        rank = {n: i for i, n in enumerate(names)}

        def canon(edges: Iterable[Sequence[str]]) -> tuple[Edge, ...]:
            pairs = {(str(u), str(v)) for u, v in edges}
            return tuple(sorted(pairs, key=lambda e: (rank.get(e[0], -1), rank.get(e[1], -1), e)))

        object.__setattr__(self, "spatial", tuple(canon(e) for e in self.spatial))
        object.__setattr__(self, "temporal", tuple(canon(e) for e in self.temporal))
        if not names:
            raise ConfigError("a CommGraph needs at least one agent")
        if len(names) > MAX_AGENTS:
            raise ConfigError(f"{len(names)} agents is more than the {MAX_AGENTS} a team may have; use fewer agents")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"agent names must be unique; repeated: {', '.join(dupes)}")
        if not self.spatial:
            raise ConfigError("a CommGraph needs at least one round (spatial must list one edge set per round)")
        if self.rounds > MAX_ROUNDS:
            raise ConfigError(f"{self.rounds} rounds is more than the {MAX_ROUNDS} a graph may have; use fewer rounds")
        if len(self.temporal) != self.rounds - 1:
            raise ConfigError(
                f"{self.rounds} rounds need {self.rounds - 1} temporal edge sets, got {len(self.temporal)}"
            )
        for a in self.agents:
            load_role(a.prompt or a.role)  # an unknown role fails here, listing the known ones
        load_role(self.decision.role)
        known = set(names)
        self._check_active(names, rank)
        for kind, per_round in (("spatial", self.spatial), ("temporal", self.temporal)):
            for t, edges in enumerate(per_round):
                for u, v in edges:
                    for end in (u, v):
                        if end not in known:
                            raise ConfigError(
                                f"{kind} edge {u}->{v} (round {t}) names unknown agent {end!r}; "
                                f"agents: {', '.join(names)}"
                            )
                    ends = ((u, t), (v, t)) if kind == "spatial" else ((u, t), (v, t + 1))
                    for end, r in ends:
                        if end not in self.active[r]:
                            raise ConfigError(
                                f"{kind} edge {u}->{v} (round {t}) touches {end}, which is inactive in round {r}; "
                                "make it active there or drop the edge"
                            )
                if kind == "spatial":
                    cycle = find_cycle(names, edges)
                    if cycle:
                        raise ConfigError(
                            f"spatial edges of round {t} form a cycle {' -> '.join(cycle)}; "
                            "spatial edges must be acyclic within a round (use temporal edges across rounds)"
                        )

    def _check_active(self, names: list[str], rank: dict[str, int]) -> None:
        if not self.active:  # everyone, every round
            object.__setattr__(self, "active", tuple(tuple(names) for _ in self.spatial))
            return
        if len(self.active) != self.rounds:
            raise ConfigError(
                f"active lists {len(self.active)} rounds for a {self.rounds}-round graph; give one per round"
            )
        canon = []
        for t, who in enumerate(self.active):
            unknown = sorted(set(who) - set(names))
            if unknown:
                raise ConfigError(
                    f"active agents of round {t} name unknown {', '.join(unknown)}; agents: {', '.join(names)}"
                )
            if not who:
                raise ConfigError(
                    f"no agent is active in round {t}; a round needs at least one "
                    f"(use a graph with {t} round(s) to stop earlier)"
                    if t
                    else "no agent is active in round 0; a team needs at least one agent that runs"
                )
            canon.append(tuple(sorted(set(who), key=rank.__getitem__)))
        object.__setattr__(self, "active", tuple(canon))

    # -- construction -------------------------------------------------------------------
    @classmethod
    def uniform(
        cls,
        agents: Sequence[AgentSpec],
        spatial: Iterable[Edge] = (),
        temporal: Iterable[Edge] = (),
        rounds: int = 1,
        decision: Decision | None = None,
    ) -> CommGraph:
        """The same spatial edges in every round and the same temporal edges between rounds."""
        number("rounds", rounds, int, ge=1, le=MAX_ROUNDS)
        s, tmp = tuple(spatial), tuple(temporal)
        return cls(tuple(agents), (s,) * rounds, (tmp,) * (rounds - 1), decision or Decision())

    # -- views ----------------------------------------------------------------------------
    @property
    def rounds(self) -> int:
        return len(self.spatial)

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.agents]

    def agent(self, name: str) -> AgentSpec:
        for a in self.agents:
            if a.name == name:
                return a
        raise ConfigError(f"no agent {name!r}; agents: {', '.join(self.names)}")

    def spatial_preds(self, name: str, round: int) -> list[str]:
        """Senders of `name` in `round`, in agent order (the order their outputs appear)."""
        senders = {u for u, v in self.spatial[round] if v == name}
        return [n for n in self.names if n in senders]

    def temporal_preds(self, name: str, round: int) -> list[str]:
        """Agents of round-1 whose outputs `name` reads in `round`."""
        if round == 0:
            return []
        senders = {u for u, v in self.temporal[round - 1] if v == name}
        return [n for n in self.names if n in senders]

    def is_active(self, name: str, round: int) -> bool:
        return name in self.active[round]

    # -- a fixed graph is a `Topology`: the same graph for every query, no gates -------------------
    def graph_for(self, query: str) -> CommGraph:
        return self

    @property
    def inference_gate(self) -> ReceiveGate | None:
        return None

    @property
    def inference_stop_gate(self) -> StopGate | None:
        return None

    def calls(self) -> int:
        """LLM calls the graph plans if every round runs (a code writer's rewrites not counted)."""
        return sum(len(a) for a in self.active) + int(self.decide and decision_info(self.decision.kind).llm_call)

    def last_agent(self, round: int) -> str:
        """The round's last active agent in topological order: its output answers when the
        decision is last_agent or skipped."""
        return self.layers(round)[-1][-1]

    def layers(self, round: int) -> list[list[str]]:
        """Topological layers of a round's active agents (each layer can run at once), in agent
        order; Kahn's algorithm, linear in agents plus edges."""
        names = list(self.active[round])
        waiting = {n: 0 for n in names}
        out_edges: dict[str, list[str]] = {n: [] for n in names}
        for u, v in self.spatial[round]:
            waiting[v] += 1
            out_edges[u].append(v)
        level = {n: 0 for n in names}
        ready = [n for n in names if waiting[n] == 0]
        while ready:
            node = ready.pop()
            for v in out_edges[node]:
                level[v] = max(level[v], level[node] + 1)
                waiting[v] -= 1
                if waiting[v] == 0:
                    ready.append(v)
        out: list[list[str]] = [[] for _ in range(max(level.values()) + 1)]
        for n in names:
            out[level[n]].append(n)
        return out

    def edge_count(self) -> int:
        return sum(len(e) for e in self.spatial) + sum(len(e) for e in self.temporal)

    # -- serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, object]:
        return {
            "agents": [asdict(a) for a in self.agents],
            "spatial": [[list(e) for e in edges] for edges in self.spatial],
            "temporal": [[list(e) for e in edges] for edges in self.temporal],
            "decision": asdict(self.decision),
            "active": [list(a) for a in self.active],
            "decide": self.decide,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CommGraph:
        def settings(d: dict[str, Any]) -> GenerationSettings:
            return GenerationSettings(**{**d, "stop": tuple(d.get("stop", ()))})

        try:
            agents = tuple(AgentSpec(**_agent_fields(a, settings)) for a in data["agents"])
            dec = data.get("decision", {})
            decision = Decision(**{**dec, "settings": settings(dec.get("settings", {}))})
            for part in (*agents, decision):
                check_fields(part)  # a loaded file's names and prompts are text, its numbers numbers
            return cls(
                agents,
                tuple(tuple((u, v) for u, v in edges) for edges in data["spatial"]),
                tuple(tuple((u, v) for u, v in edges) for edges in data.get("temporal", [])),
                decision,
                tuple(tuple(a) for a in data.get("active", ())),  # graphs stored before: everyone active
                bool(data.get("decide", True)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ConfigError(f"not a CommGraph document ({e}); expected keys agents, spatial, temporal") from e

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(), **kw)

    @classmethod
    def from_json(cls, text: str) -> CommGraph:
        data = load_document(text, "the CommGraph document")  # bounded size, nesting and strings; no NaN
        if not isinstance(data, dict):
            raise ConfigError("not a CommGraph document: expected a JSON object with keys agents, spatial, temporal")
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> CommGraph:
        """A graph from a JSON file (`--topology graph.json`)."""
        text = read_text(path, "the graph file")
        try:
            return cls.from_json(text)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None

    def to_networkx(self) -> nx.MultiDiGraph[str]:
        """Nodes are agents (with their spec); edges carry `kind` and `round` (receiving round)."""
        import networkx as nx

        g: nx.MultiDiGraph[str] = nx.MultiDiGraph(
            decision=asdict(self.decision), rounds=self.rounds, decide=self.decide
        )
        for a in self.agents:
            g.add_node(a.name, spec=asdict(a), active=[t for t in range(self.rounds) if self.is_active(a.name, t)])
        for t, edges in enumerate(self.spatial):
            g.add_edges_from(edges, kind="spatial", round=t)
        for t, edges in enumerate(self.temporal):
            g.add_edges_from(edges, kind="temporal", round=t + 1)
        return g

    @classmethod
    def from_networkx(cls, g: nx.MultiDiGraph[str]) -> CommGraph:
        rounds = g.graph["rounds"]
        spatial: list[list[Edge]] = [[] for _ in range(rounds)]
        temporal: list[list[Edge]] = [[] for _ in range(rounds - 1)]
        for u, v, d in g.edges(data=True):
            (spatial[d["round"]] if d["kind"] == "spatial" else temporal[d["round"] - 1]).append((u, v))
        active = [[n for n in g.nodes if t in g.nodes[n].get("active", range(rounds))] for t in range(rounds)]
        return cls.from_dict(
            {
                "agents": [g.nodes[n]["spec"] for n in g.nodes],
                "spatial": spatial,
                "temporal": temporal,
                "decision": g.graph["decision"],
                "active": active,
                "decide": g.graph.get("decide", True),
            }
        )


def _agent_fields(a: dict[str, Any], settings: Callable[[dict[str, Any]], GenerationSettings]) -> dict[str, Any]:
    """An agent's stored fields; graphs written before agents named models said `backend`."""
    fields = {k: v for k, v in a.items() if k != "backend"}
    if "backend" in a and "model" not in a:
        fields["model"] = a["backend"]
    return {**fields, "settings": settings(a.get("settings", {}))}


@runtime_checkable
class Topology(Protocol):
    """Anything that designs a graph for a query: a fixed `CommGraph` (the same graph every
    time), G-Designer, CommFormer, a cascade.

    Besides `graph_for`, what team assembly and the runtime read of every topology: the agents
    its graphs are drawn from, how its team answers (`decision`), and the gates it runs with
    at inference (`inference_gate`: whether an agent reads its senders in a round;
    `inference_stop_gate`: whether the team stops after a round; None: no gate, as for a
    fixed graph)."""

    @property
    def agents(self) -> Sequence[AgentSpec]: ...

    @property
    def rounds(self) -> int: ...  # the most rounds its graphs run (an adaptive team may stop earlier)

    @property
    def decision(self) -> Decision: ...

    @property
    def inference_gate(self) -> ReceiveGate | None: ...

    @property
    def inference_stop_gate(self) -> StopGate | None: ...

    def graph_for(self, query: str) -> CommGraph: ...


def named_models(topology: Topology) -> set[str]:
    """The model keys its agents and its decision name (`DEFAULT_MODEL_KEY` for an agent naming none)."""
    return {a.model for a in topology.agents} | ({topology.decision.model} - {""})
