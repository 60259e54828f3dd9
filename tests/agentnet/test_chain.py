import asyncio

from agentnet.agents import AgentSpec
from agentnet.chain import run_chain
from agentnet.testing import ScriptedBackend


def test_chain_passes_each_output_to_the_next_agent() -> None:
    backend = ScriptedBackend(["first says 4", "second says 5", "The answer is 5"])
    team = [AgentSpec("a0", "math_solver"), AgentSpec("a1", "mathematical_analyst"), AgentSpec("a2", "inspector")]
    result = asyncio.run(run_chain("2+3?", team, backend))
    assert result.answer == "The answer is 5"
    prompts = [call.messages[-1].content for call in backend.calls]
    assert "first says 4" not in prompts[0]
    assert "Agent a0, role Math Solver, output:\nfirst says 4" in prompts[1]
    assert "second says 5" in prompts[2] and "first says 4" not in prompts[2]
    assert result.usage.completion_tokens == 3 + 3 + 4
    assert result.usage.prompt_tokens == sum(t.completion.usage.prompt_tokens for t in result.turns)
