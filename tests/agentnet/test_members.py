"""Team members from a flag or a team file: parsed and validated once, before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentnet.configs import TeamConfig
from agentnet.errors import AgentNetError, ConfigError
from agentnet.members import Member, TeamSpec, load_team, parse_members, parse_prices
from agentnet.types import GenerationSettings

MIX = "cot@qwen2.5-coder-0.5b,pal@qwen2.5-coder-0.5b,strong=cot@qwen2.5-coder-1.5b"


def test_inline_members_name_role_tool_and_model() -> None:
    members = parse_members(MIX)
    assert members == (
        Member("cot", "qwen2.5-coder-0.5b"),
        Member("pal", "qwen2.5-coder-0.5b"),
        Member("cot", "qwen2.5-coder-1.5b", name="strong"),
    )
    agents = TeamSpec(members).agents(GenerationSettings())
    assert [(a.name, a.role, a.model, a.tool) for a in agents] == [
        ("a0", "cot", "qwen2.5-coder-0.5b", "none"),
        ("a1", "pal", "qwen2.5-coder-0.5b", "python"),  # the role's default tool
        ("strong", "cot", "qwen2.5-coder-1.5b", "none"),
    ]
    assert TeamSpec(members).models == ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")


def test_an_explicit_tool_overrides_the_roles() -> None:
    (m,) = parse_members("pal+none@m")
    assert m.effective_tool == "none"
    (m,) = parse_members("cot+python")
    assert (m.model, m.effective_tool) == ("default", "python")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("wizard@m", "unknown role 'wizard'"),
        ("cot+hammer@m", "unknown tool 'hammer'"),
        ("cot@m,,pal@m", "team member '' is not"),
        ("x=cot@m,x=pal@m", "two agents are named x"),
        ("bad name=cot@m", "agent name 'bad name' is not usable"),
        ("cot@", "is not \\[NAME=\\]ROLE"),
    ],
)
def test_bad_members_get_one_line(text: str, error: str) -> None:
    with pytest.raises(AgentNetError, match=error) as info:
        load_team(text)
    assert "\n" not in str(info.value)


def test_a_yaml_team_file_with_prices_and_endpoints(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(
        "agents:\n"
        "  - {role: cot, model: small}\n"
        "  - {name: prog, role: pal, model: small}\n"
        "  - cot@big\n"
        "prices: {big: 1.5, small: 0.5}\n"
        "endpoints: {big: [http://gpu1:8000/v1/, http://gpu2:8000/v1]}\n"
        "decision_model: big\n"
    )
    spec = load_team(str(path))
    assert [m.name for m in spec.members] == ["", "prog", ""]
    assert spec.prices == {"big": 1.5, "small": 0.5}
    assert spec.endpoints == {"big": ("http://gpu1:8000/v1", "http://gpu2:8000/v1")}
    assert spec.decision_model == "big" and spec.models == ("small", "big")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("agents: []", "non-empty list"),
        ("[1, 2]", "must be a mapping"),
        ("agents: [{role: cot, model: m}]\nprice: {m: 1}", "unknown key\\(s\\) price"),
        ("agents: [{role: cot}]\nprices: {m: -1}", "must be a finite number"),
        ("agents: [{role: cot}]\nprices: {m: .nan}", "must be a finite number"),
        ("agents: [{role: cot}]\nprices: {m: true}", "must be a finite number"),
        ("agents: [{role: cot}]\nendpoints: {m: [ftp://x]}", "must be an http\\(s\\) URL"),
        ("agents: [{role: cot, colour: red}]", "agent 0 must be a mapping with `role`"),
        ("agents: [{role: 3}]", "are strings"),
        ("agents: [", "does not parse"),
    ],
)
def test_bad_team_files_get_one_line_naming_the_file(tmp_path: Path, body: str, error: str) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(body)
    with pytest.raises(AgentNetError, match=error) as info:
        load_team(str(path))
    assert "\n" not in str(info.value)


def test_a_deeply_nested_or_huge_team_file_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="nested too deeply|does not parse"):
        load_team(str(deep))
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps({"agents": ["cot@m"], "pad": "x" * (2 << 20)}))
    with pytest.raises(ConfigError, match="at most 1,048,576"):
        load_team(str(huge))
    with pytest.raises(ConfigError, match="cannot read the team file"):
        load_team(str(tmp_path / "missing.yaml"))


def test_prices_are_model_equals_number() -> None:
    assert parse_prices(("a=0.5", "b=2")) == {"a": 0.5, "b": 2.0}
    for bad, error in (("a", "not MODEL=PRICE"), ("a=x", "is not a number"), ("a=-1", "finite"), ("a=nan", "finite")):
        with pytest.raises(ConfigError, match=error):
            parse_prices((bad,))


def test_team_config_takes_the_team_and_its_prices(tmp_path: Path) -> None:
    config = TeamConfig(team=MIX, prices=("qwen2.5-coder-1.5b=2",))
    assert config.agents == 3 and config.team_spec() is not None
    assert config.price_table() == {"qwen2.5-coder-1.5b": 2.0}
    with pytest.raises(ConfigError, match="--roles and --team"):
        TeamConfig(team=MIX, roles=("cot",))
