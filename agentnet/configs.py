"""The configs that commands share, as the user states them: `TeamConfig` (what a team is
made of) and `ItemsConfig` (which benchmark items). Plain data, validated at construction;
the CLI generates its options from their fields (`agentnet.options`). `agentnet.assembly`
turns a `TeamConfig` into agents, a decision, a topology and a `Team`, the same way for
`run`, `bench`, the trainers and the optimiser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentnet.adversaries import AttackConfig
from agentnet.decisions import DECISIONS, decision_info
from agentnet.errors import ConfigError, require_at_least_one
from agentnet.graph import MAX_AGENTS
from agentnet.prompts import load_role
from agentnet.types import GenerationSettings

TEMPORAL_MODES = ("self", "complete", "none")


@dataclass(frozen=True)
class TeamConfig:
    topology: str = field(default="chain", metadata={
        "help": "Graph: a fixed shape (e.g. chain), a trained KIND:PATH or a CommGraph JSON file.",
        "flags": ("--topology", "-t")})
    agents: int = field(default=3, metadata={"help": f"Number of agents (1-{MAX_AGENTS}).", "flags": ("--agents", "-n")})
    rounds: int = field(default=1, metadata={"help": "Communication rounds.", "flags": ("--rounds", "-r")})
    roles: tuple[str, ...] = field(default=(), metadata={
        "help": "Comma-separated role ids cycled over the agents (see `agentnet roles`); default: the task's."})
    decision: str = field(default="", metadata={
        "help": "How the team's answer is made (agentnet.decisions); default: the task's.",
        "choices": ("", *DECISIONS)})
    early_stop: bool = field(default=False, metadata={"help": "Stop before the last round when all agents agree."})
    temporal: str = field(default="", metadata={
        "help": "Fixed shapes: last-round messages each agent reads: self, complete (a dialogue) or none; "
                "default: the shape's own.", "choices": ("", *TEMPORAL_MODES)})
    max_tokens: int = field(default=256, metadata={"help": "Completion tokens per agent call."})
    temperature: float = field(default=0.0, metadata={"help": "Sampling temperature."})
    seed: int = field(default=0, metadata={"help": "Seed for random topologies, generated tasks and sampling."})
    attack: AttackConfig = field(default_factory=AttackConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", tuple(self.roles))
        require_at_least_one(self, "agents", "rounds")
        if self.agents > MAX_AGENTS:
            raise ConfigError(f"agents={self.agents} is more than the {MAX_AGENTS} a team may have; use fewer")
        if not self.topology.strip():
            raise ConfigError("topology is empty; name a shape (e.g. chain), KIND:PATH or a graph .json file")
        for role in self.roles:
            load_role(role)  # an unknown role fails here, listing the known ones
        if self.decision:
            decision_info(self.decision)
        if self.temporal and self.temporal not in TEMPORAL_MODES:
            raise ConfigError(f"temporal={self.temporal!r}; use {', '.join(TEMPORAL_MODES)} (or leave it empty)")
        self.settings()  # max_tokens and temperature ranges
        if ":" not in self.topology and not self.topology.endswith(".json"):
            self.attack.check(self.agents)  # a trained topology or a graph file brings its own team: checked there

    def settings(self) -> GenerationSettings:
        return GenerationSettings(temperature=self.temperature, max_tokens=self.max_tokens)


@dataclass(frozen=True)
class ItemsConfig:
    """Which benchmark items a command runs on."""

    task: str = field(default="gsm8k", metadata={"help": "Task (see `agentnet tasks`)."})
    split: str = field(default="test", metadata={"help": "Data split."})
    limit: int | None = field(default=None, metadata={"help": "Only the first N items (default: the whole split)."})

    def __post_init__(self) -> None:
        check_limit(self.limit)


def check_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise ConfigError(f"limit={limit} is negative; give a number of items (0 or more), or omit it for all")
