"""Who is on a team: each member's role, model and tool, from a flag or a team file.

Inline (`--team`): comma-separated `[NAME=]ROLE[+TOOL]@MODEL`, e.g.
`cot@qwen2.5-coder-0.5b,pal@qwen2.5-coder-0.5b,strong=cot@qwen2.5-coder-1.5b`. A member
without `+TOOL` uses its role's default tool (`pal` runs python); without `@MODEL` it runs on
the command's `--model`. A team file (`--team team.yaml`, YAML or JSON) says the same, and
can add a price per model and endpoints (replicas) per model:

    agents:
      - {role: cot, model: qwen2.5-coder-0.5b}
      - {role: pal, model: qwen2.5-coder-0.5b}          # tool: python, from the role
      - {name: strong, role: cot, model: qwen2.5-coder-1.5b}
    prices: {qwen2.5-coder-1.5b: 1.5}                   # per 1,000 tokens
    endpoints: {qwen2.5-coder-1.5b: [http://gpu1:8000/v1, http://gpu2:8000/v1]}
    decision_model: qwen2.5-coder-1.5b                  # the decision call's model

Everything is validated here, once, before any server starts or file is written.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentnet.agents import DEFAULT_MODEL_KEY, AgentSpec
from agentnet.errors import ConfigError
from agentnet.prompts import load_role
from agentnet.tools import tool_info
from agentnet.types import GenerationSettings

TEAM_FILE_SUFFIXES = (".yaml", ".yml", ".json")
MAX_TEAM_FILE_BYTES = 1 << 20  # a team file is a short list; anything larger is a mistake
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_MEMBER = re.compile(r"^(?:(?P<name>[^=@+]+)=)?(?P<role>[^=@+]+)(?:\+(?P<tool>[^=@+]+))?(?:@(?P<model>.+))?$")
_FILE_KEYS = ("agents", "prices", "endpoints", "decision_model")


@dataclass(frozen=True)
class Member:
    """One agent of a team as the user states it; `tool=None` takes the role's default."""

    role: str
    model: str = DEFAULT_MODEL_KEY
    tool: str | None = None
    name: str = ""

    def __post_init__(self) -> None:
        load_role(self.role)  # an unknown role lists the known ones
        if self.tool is not None:
            tool_info(self.tool)
        if self.name and not _NAME.match(self.name):
            raise ConfigError(f"agent name {self.name!r} is not usable; use letters, digits, - or _ (at most 64)")
        if not self.model.strip() or self.model != self.model.strip():
            raise ConfigError(
                f"member {self.role!r} names the model {self.model!r}; name a model (see `agentnet models`)"
            )

    @property
    def effective_tool(self) -> str:
        return self.tool if self.tool is not None else load_role(self.role).tool

    def spec(self, index: int, settings: GenerationSettings) -> AgentSpec:
        return AgentSpec(self.name or f"a{index}", self.role, settings, model=self.model, tool=self.effective_tool)  # type: ignore[arg-type]


@dataclass(frozen=True)
class TeamSpec:
    """A team's members, prices (per 1,000 tokens, by model) and endpoints (by model)."""

    members: tuple[Member, ...]
    prices: dict[str, float] = field(default_factory=dict)
    endpoints: dict[str, tuple[str, ...]] = field(default_factory=dict)
    decision_model: str = ""

    def __post_init__(self) -> None:
        if not self.members:
            raise ConfigError("a team needs at least one agent; list them as ROLE@MODEL,… or under `agents:`")
        names = [m.name or f"a{i}" for i, m in enumerate(self.members)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"two agents are named {', '.join(dupes)}; give each agent its own name")
        for model, price in self.prices.items():
            check_price(model, price)
        for model, urls in self.endpoints.items():
            for url in urls:
                check_url(model, url)

    @property
    def models(self) -> tuple[str, ...]:
        """The distinct models the team runs on, in member order (the decision's last)."""
        found = [m.model for m in self.members] + ([self.decision_model] if self.decision_model else [])
        return tuple(dict.fromkeys(found))

    def agents(self, settings: GenerationSettings) -> tuple[AgentSpec, ...]:
        return tuple(m.spec(i, settings) for i, m in enumerate(self.members))


def check_price(model: str, price: object) -> float:
    if isinstance(price, bool) or not isinstance(price, (int, float)) or not math.isfinite(price) or price < 0:
        raise ConfigError(f"price {price!r} for model {model!r} must be a finite number, 0 or more (per 1,000 tokens)")
    return float(price)


def check_url(model: str, url: object) -> str:
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
        raise ConfigError(f"endpoint {url!r} for model {model!r} must be an http(s) URL, e.g. http://gpu1:8000/v1")
    return url.rstrip("/")


def parse_members(text: str) -> tuple[Member, ...]:
    """`[NAME=]ROLE[+TOOL]@MODEL,…` (see the module docstring)."""
    members = []
    for part in (p.strip() for p in text.split(",")):
        match = _MEMBER.match(part)
        if not part or match is None:
            raise ConfigError(
                f"team member {part!r} is not [NAME=]ROLE[+TOOL]@MODEL "
                "(e.g. cot@qwen2.5-coder-0.5b or pal+python@qwen2.5-coder-0.5b)"
            )
        g = {k: v.strip() for k, v in match.groupdict().items() if v is not None}
        members.append(Member(g["role"], g.get("model", DEFAULT_MODEL_KEY), g.get("tool"), g.get("name", "")))
    return tuple(members)


def parse_prices(entries: tuple[str, ...]) -> dict[str, float]:
    """`MODEL=PRICE` entries (per 1,000 tokens)."""
    prices = {}
    for entry in entries:
        model, sep, value = entry.partition("=")
        if not sep or not model.strip():
            raise ConfigError(f"price {entry!r} is not MODEL=PRICE (e.g. qwen2.5-coder-1.5b=1.5)")
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"price {value!r} for model {model.strip()!r} is not a number") from None
        prices[model.strip()] = check_price(model.strip(), number)
    return prices


def is_team_file(value: str) -> bool:
    return value.strip().lower().endswith(TEAM_FILE_SUFFIXES)


def load_team(value: str) -> TeamSpec:
    """A team from `--team`: a team file's path, or inline members."""
    return load_team_file(Path(value)) if is_team_file(value) else TeamSpec(parse_members(value))


def load_team_file(path: Path) -> TeamSpec:
    try:
        size = path.stat().st_size
        if size > MAX_TEAM_FILE_BYTES:
            raise ConfigError(f"team file {path} is {size:,} bytes; a team file is at most {MAX_TEAM_FILE_BYTES:,}")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the team file {path} ({e}); give a YAML or JSON team file") from None
    data = _parse(path, text)
    try:
        return _team_from(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"team file {path} is nested too deeply; a team file is a short list of agents") from None
    except Exception as e:  # noqa: BLE001 - json's and yaml's parse errors: one line either way
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"team file {path} does not parse ({first})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"team file {path} must be a mapping with an `agents:` list")
    return data


def _team_from(data: dict[str, Any]) -> TeamSpec:
    unknown = sorted(set(data) - set(_FILE_KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(map(str, unknown))}; a team file has {', '.join(_FILE_KEYS)}")
    agents = data.get("agents")
    if not isinstance(agents, list) or not agents:
        raise ConfigError("`agents:` must be a non-empty list of {role, model, tool, name}")
    members: list[Member] = []
    for i, entry in enumerate(agents):
        if isinstance(entry, str):
            members.extend(parse_members(entry))
            continue
        if not isinstance(entry, dict) or not set(entry) <= {"role", "model", "tool", "name"} or "role" not in entry:
            raise ConfigError(
                f"agent {i} must be a mapping with `role` (and optionally model, tool, name); got {entry!r}"[:300]
            )
        if not all(isinstance(v, str) for v in entry.values()):
            raise ConfigError(f"agent {i}: role, model, tool and name are strings; got {entry!r}"[:300])
        members.append(
            Member(entry["role"], entry.get("model", DEFAULT_MODEL_KEY), entry.get("tool"), entry.get("name", ""))
        )
    prices = _mapping(data, "prices")
    endpoints = _mapping(data, "endpoints")
    urls = {
        m: tuple(check_url(m, u) for u in ([v] if isinstance(v, str) else v if isinstance(v, list) else [v]))
        for m, v in endpoints.items()
    }
    decision_model = data.get("decision_model", "")
    if not isinstance(decision_model, str):
        raise ConfigError(f"decision_model must be a model name; got {decision_model!r}")
    return TeamSpec(tuple(members), {m: check_price(m, p) for m, p in prices.items()}, urls, decision_model)


def _mapping(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"`{key}:` must map model names to values; got {value!r}"[:300])
    return value
