"""`agentnet serve-team`'s own options: what the CLI needs to build the command, kept apart from
`endpoint` (which imports the runtime and LangGraph) so the CLI starts without them."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentnet.checks import check_fields
from agentnet.errors import ConfigError

# `--team` is the command's own option, not a generated one: generated lists split on commas, and SPEC has them
TEAMS_HELP = (
    "A served team: NAME=SPEC[;KEY=VALUE…], SPEC as `run --team` takes it (members or a team file; empty: "
    "the team options), KEYs its own topology, rounds, task… (repeat for more teams; none: the team options "
    "are one team called `team`)."
)


@dataclass(frozen=True)
class EndpointConfig:
    """How `agentnet serve-team` serves its teams."""

    teams: tuple[str, ...] = field(default=(), metadata={"cli": False, "help": TEAMS_HELP})  # the command's own --team
    task: str = field(
        default="",
        metadata={
            "help": "Task whose roles, decision and answer extraction the teams use (e.g. gsm8k; a team's ;task= wins); "
            "default: free-form questions, as `agentnet run` answers them."
        },
    )
    host: str = field(
        default="127.0.0.1", metadata={"help": "Interface to listen on (0.0.0.0: every one; set --api-key then)."}
    )
    port: int = field(default=8000, metadata={"help": "Port to listen on.", "ge": 0, "le": 65535})
    concurrency: int = field(
        default=4, metadata={"help": "Team runs at once (they share the engines' slots).", "ge": 1, "le": 256}
    )
    queue: int = field(
        default=16,
        metadata={
            "help": "Requests that may wait for a run past --concurrency; more get 429 with Retry-After.",
            "ge": 0,
            "le": 100_000,
        },
    )
    request_timeout: float = field(
        default=600.0, metadata={"help": "Seconds a request may take, waiting included (then 504).", "gt": 0}
    )
    drain_timeout: float = field(
        default=30.0,
        metadata={
            "help": "On Ctrl-C/SIGTERM, seconds admitted requests get to finish; the rest are recorded as cut short.",
            "ge": 0,
        },
    )
    max_body_bytes: int = field(default=1 << 20, metadata={"help": "Largest request body (then 413).", "ge": 1})
    max_request_tokens: int = field(
        default=4096,
        metadata={
            "help": "Largest max_tokens a request may ask for (applied to each agent call; a team's own --max-tokens "
            "applies when lower).",
            "ge": 1,
        },
    )
    reasoning: str = field(
        default="field",
        metadata={
            "help": "Where the final reply behind the answer goes: the `reasoning_content` field, after the answer in "
            "`content`, or nowhere.",
            "choices": ("field", "content", "none"),
        },
    )
    api_key: str = field(
        default="",
        metadata={
            "help": "Bearer token clients must send (default: none).",
            "envvar": "AGENTNET_SERVE_API_KEY",
            "secret": True,
        },
    )

    def __post_init__(self) -> None:
        check_fields(self)
        object.__setattr__(self, "teams", tuple(self.teams))
        if self.reasoning not in ("field", "content", "none"):
            raise ConfigError(f"reasoning={self.reasoning!r}; use field, content or none")
        if not self.host.strip():
            raise ConfigError("--host is empty; give an interface, e.g. 127.0.0.1")
