from __future__ import annotations

import pytest

from agentnet.errors import ConfigError, UnknownNameError
from agentnet.graph import Decision
from agentnet.prompts import load_role
from agentnet.training.trace.params import DEFAULT_EXTRACT, Parameter, ParameterSet, TeamSpec, team_parameters
from tests.training.trace import toy


def test_groups_declare_each_trainable_value_with_its_current_value() -> None:
    spec = toy.spec("chain", 2, Decision("final_refer", settings=toy.SETTINGS), rounds=2)
    params = team_parameters(spec, ["prompts", "decision", "rounds", "temperature", "extract"])
    assert params.names == ["a0_prompt", "a1_prompt", "decision_prompt", "rounds", "temperature", "extract_answer"]
    assert params["a0_prompt"].value == load_role("math_solver").system
    assert params["decision_prompt"].value == load_role("final_refer").system
    assert (params["rounds"].value, params["rounds"].bounds) == (2, (1, 4))
    assert params["extract_answer"].value == DEFAULT_EXTRACT and params["extract_answer"].kind == "code"


def test_each_kind_has_a_json_schema_for_constrained_replies() -> None:
    assert Parameter("t", 0.5, "d", "temperature", "float", bounds=(0, 1)).json_schema() == {
        "type": "number",
        "minimum": 0,
        "maximum": 1,
    }
    assert Parameter("r", 2, "d", "rounds", "int", choices=(1, 2)).json_schema() == {"enum": [1, 2]}
    assert Parameter("e", "def extract(o): ...", "d", "extract", "code").json_schema() == {"type": "string"}


def test_apply_writes_every_target_into_the_graph() -> None:
    spec = toy.spec("chain", 2, Decision("final_refer", settings=toy.SETTINGS))
    params = team_parameters(spec, ["prompts", "decision", "rounds", "temperature", "extract"])
    new = params.with_values(
        {
            "a1_prompt": "Check it.",
            "decision_prompt": "Decide.",
            "rounds": 3,
            "temperature": 0.7,
            "extract_answer": "def extract(output):\n    return output\n",
        }
    )
    graph = new.apply(spec).graph()
    assert graph.agent("a0").system == load_role("math_solver").system and graph.agent("a1").system == "Check it."
    assert graph.decision.system == "Decide." and graph.rounds == 3
    assert {a.settings.temperature for a in graph.agents} | {graph.decision.settings.temperature} == {0.7}
    assert new.apply(spec).extract_code.startswith("def extract")
    assert params.changed(new) == {
        k: new[k].value for k in ["a1_prompt", "decision_prompt", "rounds", "temperature", "extract_answer"]
    }


def test_single_trains_only_the_agent_that_runs() -> None:
    spec = toy.spec("single", 2)
    assert team_parameters(spec, ["prompts"]).names == ["a0_prompt"]


def test_parameter_set_and_spec_round_trip_through_json_dicts() -> None:
    spec = toy.spec("chain", 2, Decision("final_refer", settings=toy.SETTINGS), rounds=2)
    params = team_parameters(spec, ["prompts", "rounds"])
    assert ParameterSet.from_dict(params.to_dict()) == params
    assert TeamSpec.from_dict(spec.to_dict()) == spec


def test_errors_name_the_bad_value_and_the_choices() -> None:
    spec = toy.spec()
    with pytest.raises(UnknownNameError, match="unknown parameter group 'roles'; known: prompts, decision"):
        team_parameters(spec, ["roles"])
    with pytest.raises(ConfigError, match="decision 'last_agent' makes no LLM call"):
        team_parameters(spec, ["decision"])
    frozen = ParameterSet((Parameter("rounds", 1, "r", "rounds", kind="int", trainable=False),))
    with pytest.raises(ConfigError, match="rounds is not trainable"):
        frozen.with_values({"rounds": 2})
    with pytest.raises(ConfigError, match="must be a Python identifier"):
        Parameter("a0 prompt", "x", "d", "system:a0")
    with pytest.raises(ConfigError, match="is not of kind int"):
        Parameter("rounds", "two", "d", "rounds", kind="int")
