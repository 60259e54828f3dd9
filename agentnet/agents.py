"""Agents: what each one is (`AgentSpec`) and the messages it is sent.

Message assembly follows G-Designer: system = the role; user = the task, then this
round's outputs of spatial predecessors (with their roles), then last round's outputs
of temporal predecessors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agentnet.errors import ConfigError
from agentnet.prompts import load_role, template
from agentnet.tools import ToolKind, tool_info
from agentnet.types import GenerationSettings, Message

DEFAULT_MODEL_KEY = "default"  # an agent that names no model runs on the team's one backend


@dataclass(frozen=True)
class AgentSpec:
    name: str
    role: str  # a role id of the role library (agentnet/prompts/roles)
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    model: str = DEFAULT_MODEL_KEY  # the model it runs on: a key into the team's backends
    tool: ToolKind = "none"  # what runs on its reply before anyone reads it (agentnet.tools)
    prompt: str | None = None  # system-prompt template id; None: the role's own
    system: str | None = None  # literal system prompt; overrides `prompt` (trainers write it)
    adversary: str = ""  # the adversary kind planted here (agentnet.adversaries); "" for an honest agent

    def __post_init__(self) -> None:
        if not self.name.strip() or self.name != self.name.strip() or any(c in self.name for c in "@,:/"):
            raise ConfigError(f"agent name {self.name!r} is not usable; use letters, digits, - or _ (no @ , : /)")
        if not self.model.strip():
            raise ConfigError(f"agent {self.name!r} names an empty model; name one (or leave the default)")
        tool_info(self.tool)  # an unknown tool lists the known ones

    @property
    def title(self) -> str:
        return load_role(self.role).title

    def describe(self) -> str:
        """What the agent is, in words a sentence encoder reads (G-Designer's node features): its
        role's title and prompt, then its model and tool when it names them — so a learner can
        prefer an agent for what it is, not only for its role text."""
        card = load_role(self.role)
        model = "" if self.model == DEFAULT_MODEL_KEY else f" Model: {self.model}."
        tool = "" if self.tool == "none" else f" Tool: {self.tool}: {tool_info(self.tool).help}."
        return f"{card.title}: {card.system}{model}{tool}"


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
        template("peer").substitute(name=p.name, role=load_role(p.role).title, output=p.output.strip()) for p in peers
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
    card = load_role(agent.prompt or agent.role)
    system = agent.system if agent.system is not None else card.system
    user = f"{user.strip()}\n\n{card.reminder}" if card.reminder else user.strip()
    return [Message("system", system), Message("user", user)]
