"""The configs that commands share, as the user states them: `TeamConfig` (what a team is
made of) and `ItemsConfig` (which benchmark items). Plain data, validated at construction;
the CLI generates its options from their fields (`agentnet.options`). `agentnet.assembly`
turns a `TeamConfig` into agents, a decision, a topology and a `Team`, the same way for
`run`, `bench`, the trainers and the optimiser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentnet.adversaries import AttackConfig
from agentnet.checks import check_fields
from agentnet.decisions import DECISIONS, decision_info
from agentnet.errors import ConfigError
from agentnet.graph import MAX_AGENTS
from agentnet.members import TeamSpec, load_team, parse_prices
from agentnet.prompts import load_role
from agentnet.types import GenerationSettings

TEMPORAL_MODES = ("self", "complete", "none")


# `agentnet run`'s team options by default: those agents answer side by side (one round, no edges)
# and the most common answer wins, so no one agent's slip decides (as a chain's last agent did: its
# inspector "checked" 3 x 4 = 12 into 144)
RUN_DEFAULTS: dict[str, object] = {"topology": "debate", "rounds": 1, "decision": "majority_vote"}


@dataclass(frozen=True)
class TeamConfig:
    topology: str = field(
        default="chain",
        metadata={
            "help": "Graph: a fixed shape (e.g. chain), a trained KIND:PATH or a CommGraph JSON file.",
            "flags": ("--topology", "-t"),
        },
    )
    agents: int = field(
        default=3,
        metadata={
            "help": f"Number of agents (1-{MAX_AGENTS}); --team sets it.",
            "flags": ("--agents", "-n"),
            "ge": 1,
            "le": MAX_AGENTS,
        },
    )
    team: str = field(
        default="",
        metadata={
            "help": "Who is on the team, each agent with its role, tool and model: [NAME=]ROLE[+TOOL]@MODEL,… "
            "(e.g. cot@qwen2.5-coder-0.5b,pal@qwen2.5-coder-0.5b,cot@qwen2.5-coder-1.5b) or a team file "
            "(.yaml/.json: agents, prices, endpoints). Default: --agents copies of the task's roles on --model."
        },
    )
    prices: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "Price per 1,000 tokens by model, MODEL=PRICE,… (default: the model's parameters in billions, "
            "e.g. 0.5 for a 0.5B; 1 for a model of unknown size)."
        },
    )
    rounds: int = field(
        default=1, metadata={"help": "Communication rounds.", "flags": ("--rounds", "-r"), "ge": 1, "le": 100}
    )
    roles: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "Comma-separated role ids cycled over the agents (see `agentnet roles`); default: the task's."
        },
    )
    decision: str = field(
        default="",
        metadata={
            "help": "How the team's answer is made (agentnet.decisions); default: the task's.",
            "choices": ("", *DECISIONS),
        },
    )
    early_stop: bool = field(default=False, metadata={"help": "Stop before the last round when all agents agree."})
    temporal: str = field(
        default="",
        metadata={
            "help": "Fixed shapes: last-round messages each agent reads: self, complete (a dialogue) or none; "
            "default: the shape's own.",
            "choices": ("", *TEMPORAL_MODES),
        },
    )
    max_tokens: int = field(
        default=256, metadata={"help": "Completion tokens per agent call.", "ge": 1, "le": 1_000_000}
    )
    temperature: float = field(default=0.0, metadata={"help": "Sampling temperature.", "ge": 0, "le": 2})
    logprobs: bool = field(
        default=True,
        metadata={
            "help": "Ask the servers for token log-probabilities: each message keeps its answer's mean (a feature "
            "learners read; no extra call).",
            "flags": ("--logprobs/--no-logprobs",),
        },
    )
    seed: int = field(default=0, metadata={"help": "Seed for random topologies, generated tasks and sampling."})
    attack: AttackConfig = field(default_factory=AttackConfig)

    def __post_init__(self) -> None:
        check_fields(self)  # types and ranges from the fields' metadata, as every config does first
        object.__setattr__(self, "roles", tuple(self.roles))
        object.__setattr__(self, "prices", tuple(self.prices))
        parse_prices(self.prices)
        spec = load_team(self.team) if self.team.strip() else None
        object.__setattr__(self, "_team_spec", spec)  # not a field: read once, never stored twice
        if spec is not None:
            if self.roles:
                raise ConfigError("--roles and --team both say who is on the team; give the roles in --team")
            object.__setattr__(self, "agents", len(spec.members))
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
        return GenerationSettings(temperature=self.temperature, max_tokens=self.max_tokens, logprobs=self.logprobs)

    def team_spec(self) -> TeamSpec | None:
        """The members `team` names (None: copies of the roles on the command's model)."""
        spec: TeamSpec | None = getattr(self, "_team_spec", None)
        return spec

    def price_table(self) -> dict[str, float]:
        """Prices by model: the team file's, then --prices (which win)."""
        spec = self.team_spec()
        return {**(spec.prices if spec else {}), **parse_prices(self.prices)}


@dataclass(frozen=True)
class ItemsConfig:
    """Which benchmark items a command runs on."""

    task: str = field(default="gsm8k", metadata={"help": "Task (see `agentnet tasks`)."})
    split: str = field(default="test", metadata={"help": "Data split."})
    limit: int | None = field(default=None, metadata={"help": "Only the first N items (default: the whole split)."})
    offset: int = field(
        default=0, metadata={"help": "Skip the split's first N items (with --limit: items N to N+limit-1)."}
    )

    def __post_init__(self) -> None:
        check_fields(self)
        check_limit(self.limit)
        check_limit(self.offset, "offset")


def check_limit(limit: int | None, name: str = "limit") -> None:
    if limit is not None and limit < 0:
        raise ConfigError(
            f"{name}={limit} is negative; give a number of items (0 or more)"
            + (", or omit it for all" if name == "limit" else "")
        )
