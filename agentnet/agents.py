"""Agents: what each one is (`AgentSpec`) and the messages it is sent.

Message assembly follows G-Designer: system = the role; user = the task, then this
round's outputs of spatial predecessors (with their roles), then last round's outputs
of temporal predecessors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agentnet.prompts import load_role, template
from agentnet.types import GenerationSettings, Message


@dataclass(frozen=True)
class AgentSpec:
    name: str
    role: str  # a role id of the role library (agentnet/prompts/roles)
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    backend: str = "default"  # key into the team's backends
    prompt: str | None = None  # system-prompt template id; None: the role's own
    system: str | None = None  # literal system prompt; overrides `prompt` (trainers write it)
    adversary: str = ""  # the adversary kind planted here (agentnet.adversaries); "" for an honest agent

    @property
    def title(self) -> str:
        return load_role(self.role).title


@dataclass(frozen=True)
class PeerOutput:
    """What one agent said, as another agent's prompt shows it."""

    name: str
    role: str
    output: str


def _section(kind: str, peers: Sequence[PeerOutput]) -> str:
    if not peers:
        return ""
    items = "\n".join(
        template("peer").substitute(name=p.name, role=load_role(p.role).title, output=p.output.strip())
        for p in peers
    )
    return template(kind).substitute(items=items)


def build_messages(
    agent: AgentSpec,
    task: str,
    spatial: Sequence[PeerOutput] = (),
    temporal: Sequence[PeerOutput] = (),
    feedback: str = "",
    private: str = "",
) -> list[Message]:
    user = template("user").substitute(
        task=task.strip(),
        private=template("private").substitute(private=private.strip()) if private.strip() else "",
        spatial=_section("spatial", spatial),
        temporal=_section("temporal", temporal),
        feedback=template("feedback").substitute(feedback=feedback.strip()) if feedback else "",
    )
    system = agent.system if agent.system is not None else load_role(agent.prompt or agent.role).system
    return [Message("system", system), Message("user", user.strip())]
