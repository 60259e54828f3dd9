"""Prompt templates, one file each: roles in `roles/<id>.md` (first line `# Title`, then
optional header lines — `tool: <kind>`, the tool an agent of this role uses by default;
`reminder: <text>`, a line put at the end of the agent's user prompt, where a small model heeds
an instruction it skips in the system prompt — then the system prompt) and the user-prompt
pieces as `string.Template` files beside this one."""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

from agentnet.errors import UnknownNameError


@dataclass(frozen=True)
class RoleCard:
    id: str
    title: str
    system: str
    tool: str = "none"  # the tool an agent of this role uses unless its team says otherwise
    reminder: str = ""  # the last line of the agent's user prompt ("" none)


def _files() -> Any:
    return resources.files(__name__)


@cache
def role_ids() -> tuple[str, ...]:
    return tuple(sorted(p.name[:-3] for p in (_files() / "roles").iterdir() if p.name.endswith(".md")))


@cache
def load_role(role_id: str) -> RoleCard:
    if role_id not in role_ids():
        raise UnknownNameError("role", role_id, list(role_ids()))
    text = (_files() / "roles" / f"{role_id}.md").read_text(encoding="utf-8")
    first, _, body = text.partition("\n")
    headers = {"tool": "none", "reminder": ""}
    while True:
        head, _, rest = body.strip().partition("\n")
        key, colon, value = head.partition(":")
        if not colon or key.strip() not in headers:
            break
        headers[key.strip()], body = value.strip(), rest
    return RoleCard(role_id, first.lstrip("# ").strip(), body.strip(), headers["tool"], headers["reminder"])


@cache
def template(name: str) -> Template:
    return Template((_files() / f"{name}.md").read_text(encoding="utf-8"))


@cache
def optimizer_template(name: str) -> Template:
    """A piece of the Trace optimiser's prompt: `optimizer/<name>.md` beside this file."""
    folder = _files() / "optimizer"
    known = sorted(p.name[:-3] for p in folder.iterdir() if p.name.endswith(".md"))
    if name not in known:
        raise UnknownNameError("optimizer template", name, known)
    return Template((folder / f"{name}.md").read_text(encoding="utf-8"))
