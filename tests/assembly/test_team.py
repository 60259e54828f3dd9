from __future__ import annotations

import asyncio
import json

import pytest

from agentnet.assembly.team import agents_for, decision_for, team_for, topology_for
from agentnet.configs import TeamConfig
from agentnet.errors import ConfigError
from agentnet.graph import CommGraph
from agentnet.tasks.humaneval import HumanEval
from agentnet.testing import ScriptedBackend
from tests.topologies import planted


def test_agents_cycle_the_roles_and_fall_back_to_the_tasks_then_the_defaults() -> None:
    assert [a.role for a in agents_for(TeamConfig(agents=3, roles=("critic", "lawyer")))] == [
        "critic",
        "lawyer",
        "critic",
    ]
    assert [a.role for a in agents_for(TeamConfig(agents=2), planted.PlantedTask())] == list(planted.ROLES[:2])
    assert [a.role for a in agents_for(TeamConfig(agents=3))] == ["math_solver", "mathematical_analyst", "inspector"]
    assert {a.settings.max_tokens for a in agents_for(TeamConfig(max_tokens=99))} == {99}


def test_decisions_come_from_the_config_then_the_task_with_the_registry_role() -> None:
    assert decision_for(TeamConfig()).kind == "last_agent"
    assert decision_for(TeamConfig(), HumanEval()).kind == "code_writer"
    assert decision_for(TeamConfig(), HumanEval()).role == "code_writer"
    assert decision_for(TeamConfig(decision="final_refer"), HumanEval()).role == "final_refer"


def test_a_code_decision_gets_the_tasks_code_check() -> None:
    team = team_for(HumanEval(), "chain", ScriptedBackend(["x"]), TeamConfig(agents=2))
    assert team.context.code_check is not None
    assert team.context.extract("Here:\n```python\nx = 1\n```") == "x = 1"  # the task's reader, not the default


@pytest.mark.parametrize("task", [None, planted.PlantedTask()])
def test_a_code_decision_without_a_code_task_fails_loudly(task) -> None:
    with pytest.raises(ConfigError, match="has no code check"):
        team_for(task, "chain", ScriptedBackend(["x"]), TeamConfig(agents=2, decision="code_writer"))


def test_temporal_modes_apply_to_fixed_shapes_only() -> None:
    graph = topology_for(TeamConfig(topology="chain", rounds=2, temporal="complete", agents=2))
    assert isinstance(graph, CommGraph) and len(graph.temporal[0]) == 4
    with pytest.raises(ConfigError, match="applies to fixed shapes"):
        topology_for(TeamConfig(topology="gdesigner:x.pt", temporal="self"))


def test_a_graph_file_is_a_topology(tmp_path) -> None:
    graph = topology_for(TeamConfig(topology="star", agents=3))
    path = tmp_path / "g.json"
    path.write_text(graph.to_json())
    loaded = topology_for(TeamConfig(topology=str(path)))
    assert loaded == graph
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="g.json: the CommGraph document is invalid JSON"):
        topology_for(TeamConfig(topology=str(path)))
    path.write_text(json.dumps([1, 2]))
    with pytest.raises(ConfigError, match="expected a JSON object"):
        topology_for(TeamConfig(topology=str(path)))


class _Handmade:
    """A topology written by hand that forgot its decision."""

    inference_gate = inference_stop_gate = None

    def __init__(self) -> None:
        self.graph = topology_for(TeamConfig(topology="chain", agents=2))
        self.agents, self.rounds = self.graph.agents, self.graph.rounds

    def graph_for(self, query: str) -> CommGraph:
        return self.graph.graph_for(query)


def test_a_hand_written_topology_lacking_a_member_is_one_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        team_for(None, _Handmade(), planted.backend())  # type: ignore[arg-type]
    assert str(info.value) == (
        "topology _Handmade has no decision; a topology gives agents, rounds, decision, inference_gate, "
        "inference_stop_gate, graph_for (agentnet.graph.Topology; None for a gate it does not have)"
    )
    complete = _Handmade()
    complete.decision = complete.graph.decision  # type: ignore[attr-defined]
    t = asyncio.run(team_for(None, complete, planted.backend()).arun("Question number 1: what is the answer?"))
    assert t.calls == 2


def test_a_multi_agent_shape_refuses_a_single_agent() -> None:
    with pytest.raises(ConfigError, match="star needs at least 2 agents, got 1"):
        topology_for(TeamConfig(topology="star", agents=1))
    graph = topology_for(TeamConfig(topology="single", agents=1))
    assert isinstance(graph, CommGraph) and graph.names == ["a0"]


def test_the_team_runs_with_the_tasks_extraction() -> None:
    team = team_for(planted.PlantedTask(), "chain", planted.backend(), TeamConfig(agents=3))
    t = asyncio.run(team.arun("Question number 1: what is the answer?"))
    assert t.answer == "The answer is 42" and t.calls == 3


def test_sampling_copies_of_one_agent_draw_with_their_own_seeds() -> None:
    from agentnet.assembly.team import agents_for

    sampled = agents_for(TeamConfig(team="cot@m,cot@m,cot@m", temperature=0.7, seed=5))
    assert [a.settings.seed for a in sampled] == [5, 6, 7]
    assert {a.settings.seed for a in agents_for(TeamConfig(team="cot@m,cot@m"))} == {None}  # greedy: no seed


def test_the_tests_tool_of_a_team_runs_the_tasks_visible_examples() -> None:
    task = HumanEval()
    item = next(task.items())
    reply = f"```python\n{item.meta['prompt']}{item.answer}\n```"
    config = TeamConfig(team="coder=programmer+tests", topology="single", decision="last_agent")
    t = asyncio.run(team_for(task, "single", ScriptedBackend([reply]), config).arun(item.question))
    run = t.messages[0].tool_run
    assert run is not None and (run.tool, run.status) == ("tests", "passed") and "example(s) passed" in run.output
