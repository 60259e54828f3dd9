"""Which conversations to learn from: iSFT's best-per-item filter and the SFT/DPO rows.

iSFT (Optima): per item keep the highest-reward conversation if its reward reaches
`threshold`, then keep the top `top_fraction` of those. Each kept conversation gives one
training row per agent turn: the prompt the agent saw and what it said. Iteration 0's
format instructions are removed from the prompts, so the model learns the format without
being told it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentnet.errors import ConfigError
from agentnet.trajectory import Trajectory
from agentnet.types import Message
from agentnet.training.optima.reward import Reward, turns


@dataclass(frozen=True)
class Sample:
    """One sampled conversation on one item, with its reward."""

    item_id: str
    trajectory: Trajectory
    score: float
    format: str = ""  # the iteration-0 format seed it was sampled under, if any
    reward: Reward | None = None  # set once the whole sampled set is in (it normalises tokens)

    @property
    def total(self) -> float:
        return self.reward.total if self.reward else float("-inf")

    def to_dict(self) -> dict[str, object]:
        return {
            "item_id": self.item_id,
            "trajectory": self.trajectory.to_dict(),
            "score": self.score,
            "format": self.format,
            "reward": self.reward.to_dict() if self.reward else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sample:
        reward = Reward(**d["reward"]) if d.get("reward") else None
        return cls(d["item_id"], Trajectory.from_dict(d["trajectory"]), d["score"], d.get("format", ""), reward)


def select_sft(samples: Sequence[Sample], threshold: float, top_fraction: float) -> list[Sample]:
    if not 0 < top_fraction <= 1:
        raise ConfigError(f"top_fraction={top_fraction}: use a fraction in (0, 1]")
    best: dict[str, Sample] = {}
    for s in samples:
        if s.item_id not in best or s.total > best[s.item_id].total:
            best[s.item_id] = s
    kept = sorted((s for s in best.values() if s.total >= threshold), key=lambda s: -s.total)
    return kept[: math.ceil(len(kept) * top_fraction)]


def plain_prompt(prompt: Sequence[Message], systems: Mapping[str, str], agent: str) -> list[dict[str, str]]:
    """The prompt as chat dicts, its system message reset to the agent's own (format seed removed)."""
    messages = [m.to_dict() for m in prompt]
    if messages and messages[0]["role"] == "system" and agent in systems:
        messages[0] = {"role": "system", "content": systems[agent]}
    return messages


def sft_rows(samples: Sequence[Sample], systems: Mapping[str, str]) -> list[dict[str, object]]:
    """TRL prompt-completion rows (the loss falls on the completions only)."""
    return [
        {"prompt": plain_prompt(t.prompt, systems, t.agent), "completion": [{"role": "assistant", "content": t.output}]}
        for s in samples
        for t in turns(s.trajectory)
        if t.output.strip() and t.error is None
    ]
