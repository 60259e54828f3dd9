from __future__ import annotations

import asyncio

from agentnet.graph import Decision
from agentnet.runtime import Team
from agentnet.training.trace.params import team_parameters
from agentnet.training.trace.problem import Episode, build_problem
from tests.training.trace import toy

SECTIONS = [
    "#Instruction",
    "#Code",
    "#Documentation",
    "#Variables",
    "#Constraints",
    "#Inputs",
    "#Others",
    "#Outputs",
    "#Feedback",
]


def _episodes(spec, params, n: int) -> list[Episode]:
    task = toy.ToyTask()
    team = Team(params.apply(spec).graph(), toy.team_backend())
    out = []
    for item in list(task.items())[:n]:
        t = team.run(item.question)
        s = asyncio.run(task.score(item, t.answer))
        out.append(Episode(item, t, s))
    return out


def test_a_minibatch_renders_as_an_opto_problem_with_the_calls_in_order() -> None:
    spec = toy.spec("chain", 2, Decision("final_refer", settings=toy.SETTINGS), rounds=2)
    params = team_parameters(spec, ["prompts", "decision", "rounds"])
    problem = build_problem("toy", spec, params, _episodes(spec, params, 2))
    text = problem.render()
    assert [line for line in text.splitlines() if line.startswith("#") and " " not in line] == SECTIONS
    assert problem.code.splitlines() == [
        "# rounds = 2: the agents' calls repeat once per round",
        "# round 0",
        "a0_r0 = call_llm(system=a0_prompt, task=query, temperature=0)",
        "a1_r0 = call_llm(system=a1_prompt, task=query, spatial=[a0_r0], temperature=0)",
        "# round 1",
        "a0_r1 = call_llm(system=a0_prompt, task=query, temporal=[a0_r0], temperature=0)",
        "a1_r1 = call_llm(system=a1_prompt, task=query, spatial=[a0_r1], temporal=[a1_r0], temperature=0)",
        "answer = final_refer(system=decision_prompt, task=query, finals=[a0_r1, a1_r1])",
        "extracted = task_extract(answer)",
        "result = score(extracted, expected)",
    ]
    assert problem.variables.startswith("(str) a0_prompt = You are a math expert.")
    assert "(int) rounds = 2" in problem.variables
    assert (
        "(int) rounds: Communication rounds" in problem.constraints and "An integer from 1 to 4." in problem.constraints
    )
    assert problem.inputs.splitlines() == [
        "(str) query[0] = Question number 0: what is the answer?",
        "(str) query[1] = Question number 1: what is the answer?",
    ]
    assert "(str) a1_r1[1] = Hmm. The answer is 7" in problem.others
    assert problem.outputs.splitlines()[0] == "(str) answer[0] = Some thinking first. The answer is 42"
    assert problem.feedback.splitlines()[1].startswith(
        'Example 1: score 0; the answer read from the output was "7", the expected answer is "42"; the team used'
    )
    assert problem.feedback.splitlines()[-1].startswith("Mean score 0.50 over 2 example(s)")
    assert "[final_refer]" in problem.documentation and "[majority_vote]" not in problem.documentation
    assert problem.names == ("a0_prompt", "a1_prompt", "decision_prompt", "rounds")
    assert problem.schemas["a0_prompt"] == {"type": "string"}
    assert problem.schemas["rounds"] == {"type": "integer", "minimum": 1, "maximum": 4}


def test_frozen_prompts_show_as_role_constants_and_long_values_are_clipped() -> None:
    spec = toy.spec("single", 1)
    params = team_parameters(spec, ["temperature"])
    [episode] = _episodes(spec, params, 1)
    problem = build_problem("toy", spec, params, [episode], max_chars=10, show_expected=False)
    assert (
        problem.code.splitlines()[2]
        == 'a0_r0 = call_llm(system=role_prompt("math_solver"), task=query, temperature=temperature)'
    )
    assert problem.others == "(str) a0_r0 = Some think …[27 more characters]"
    assert 'the expected answer is "(hidden)"' in problem.feedback
