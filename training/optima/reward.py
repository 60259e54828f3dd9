"""Optima's reward: task score, minus a token cost, plus readability, with the paper's guards.

    R = score + λ_tok · tokens / max_tokens + λ_read · 1 / max_m NLL(m)    (λ_tok < 0)

`tokens` are the conversation's tokens (every agent turn's completion tokens: what the agents
said to each other), `max_tokens` the largest such count in the sampled set; NLL(m) is the
mean per-token negative log-likelihood of message m under the *base* model. Guards: a
conversation over `token_cap` tokens gets readability −1 (instead of 1/NLL), and a message
that speaks for another agent (a line opening with another speaker's tag, "Bob: …") adds
`tag_penalty`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from agentnet.checks import check_fields
from agentnet.errors import ConfigError
from agentnet.trajectory import MessageRecord, Trajectory
from agentnet.types import Message

NLL = Callable[[Sequence[Message], str], float]  # (prompt, message) -> mean NLL per token


@dataclass(frozen=True)
class RewardConfig:
    lambda_tokens: float = field(default=-0.5, metadata={"help": "Weight of tokens / max tokens (negative)."})
    lambda_read: float = field(default=0.6, metadata={"ge": 0, "help": "Weight of readability, 1 / max message NLL."})
    token_cap: int = field(
        default=500, metadata={"ge": 1, "help": "Conversations over this many tokens get readability -1."}
    )
    tag_penalty: float = field(default=-10.0, metadata={"help": "Added when a message speaks for another agent."})

    def __post_init__(self) -> None:
        check_fields(self)
        if self.lambda_tokens > 0:
            raise ConfigError(f"lambda_tokens={self.lambda_tokens} would reward long conversations; use 0 or less")
        if self.token_cap < 1:
            raise ConfigError(f"token_cap={self.token_cap}: use a positive number of tokens")


@dataclass(frozen=True)
class Reward:
    total: float
    score: float
    tokens: int
    token_term: float
    readability: float  # 1 / max NLL, or -1 over the cap
    penalty: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def turns(trajectory: Trajectory) -> list[MessageRecord]:
    """The agents' turns in the order they spoke (decision calls excluded)."""
    return [m for m in trajectory.messages if m.kind == "agent"]


def conversation_tokens(trajectory: Trajectory) -> int:
    return sum(m.usage.completion_tokens for m in turns(trajectory))


def speaks_for_others(speaker: str, text: str, speakers: Sequence[str]) -> bool:
    """Does `speaker`'s message contain a line opened by another speaker's tag?"""
    others = [re.escape(s) for s in speakers if s.lower() != speaker.lower()]
    if not others:
        return False
    return re.search(rf"^\W*(?:{'|'.join(others)})\s*:", text, re.IGNORECASE | re.MULTILINE) is not None


def readability(nlls: Sequence[float], tokens: int, cap: int) -> float:
    if tokens > cap:
        return -1.0
    worst = max(nlls, default=0.0)
    return 1.0 / worst if worst > 0 else 0.0


def reward(
    score: float,
    tokens: int,
    max_tokens: int,
    nlls: Sequence[float],
    malformed: bool,
    config: RewardConfig,
) -> Reward:
    token_term = config.lambda_tokens * tokens / max(max_tokens, 1)
    read = readability(nlls, tokens, config.token_cap)
    penalty = config.tag_penalty if malformed else 0.0
    total = score + token_term + config.lambda_read * read + penalty
    return Reward(total, score, tokens, token_term, read, penalty)


def conversation_reward(
    trajectory: Trajectory,
    score: float,
    max_tokens: int,
    nll: NLL,
    config: RewardConfig,
    speakers: dict[str, str],
) -> Reward:
    """The reward of one conversation; `speakers` maps agent names to the tags they speak under."""
    said = turns(trajectory)
    tokens = conversation_tokens(trajectory)
    tags = list(speakers.values())
    malformed = any(speaks_for_others(speakers.get(m.agent, m.agent), m.output, tags) for m in said)
    # over the cap readability is -1 whatever the NLLs are: skip the model calls
    nlls = [nll(m.prompt, m.output) for m in said] if tokens <= config.token_cap else []
    return reward(score, tokens, max_tokens, nlls, malformed, config)
