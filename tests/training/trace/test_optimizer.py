from __future__ import annotations

import asyncio
import json

from agentnet.errors import BackendError
from agentnet.testing import ScriptedBackend
from agentnet.training.trace.optimizer import OptoPrime, OptoPrimeConfig
from agentnet.training.trace.problem import Problem


def _problem(value: str, feedback: str) -> Problem:
    return Problem(
        "Improve it.",
        "y = f(x)",
        "[f] f(x)",
        f"(str) x = {value}",
        "(str) x: the input",
        "(none)",
        "(none)",
        "(str) y = 1",
        feedback,
        values={"x": value},
        names=("x",),
    )


def test_prompt_follows_optoprime_and_memory_shows_earlier_steps() -> None:
    backend = ScriptedBackend(['{"reasoning": "a", "suggestion": {"x": "two"}}', "TERMINATE"])
    opt = OptoPrime(backend, OptoPrimeConfig(memory_size=1, json_mode=False))
    first = asyncio.run(opt.propose(_problem("one", "too small")))
    assert (first.suggestion, first.reasoning, first.error) == ({"x": "two"}, "a", None)
    assert first.usage.completion_tokens == 5  # the fake counts words
    second = asyncio.run(opt.propose(_problem("two", "still small")))
    assert second.terminate and second.suggestion == {}
    system, user = backend.calls[0].messages
    assert system.role == "system" and "#Variables: the variables you may change" in system.content
    assert '"suggestion": {' in system.content
    assert user.content.splitlines()[3:5] == ["#Instruction", "Improve it."]
    assert user.content.endswith('The keys of "suggestion" can only be these variables: x.\n\nYour response:')
    assert "earlier values" not in user.content and backend.calls[0].settings.json_schema is None
    memory = backend.calls[1].messages[1].content
    assert '"x": "one"' in memory and '"feedback": "too small"' in memory  # the previous step, not this one
    assert '"x": "two"' not in memory.split("Now you see")[0]
    assert opt.state_dict() == {"memory": [[{"x": "two"}, "still small"]]}  # FIFO of size 1


def test_state_round_trips_and_failures_come_back_as_errors() -> None:
    opt = OptoPrime(ScriptedBackend(["I cannot answer that.", BackendError("down", url="http://x")]))
    bad = asyncio.run(opt.propose(_problem("one", "f1")))
    assert bad.error and bad.error.startswith("no JSON suggestion") and bad.raw == "I cannot answer that."
    down = asyncio.run(opt.propose(_problem("one", "f2")))
    assert down.error == (
        "optimiser call failed: down (server http://x) "
        "(a server without structured output? turn json_mode off: --free-text)"
    )
    restored = OptoPrime(ScriptedBackend([]))
    restored.load_state_dict(opt.state_dict())
    assert list(restored.memory) == [({"x": "one"}, "f1"), ({"x": "one"}, "f2")]


def test_json_mode_constrains_the_reply_to_the_trainable_variables_and_their_types() -> None:
    problem = _problem("one", "f")
    problem = Problem(
        **{
            **problem.__dict__,
            "values": {"x": "one", "n": 2},
            "names": ("x", "n"),
            "schemas": {"x": {"type": "string"}, "n": {"type": "integer", "minimum": 1, "maximum": 4}},
        }
    )
    backend = ScriptedBackend(['{"reasoning": "r", "suggestion": {"n": 3}}'])
    proposal = asyncio.run(OptoPrime(backend, OptoPrimeConfig()).propose(problem))
    assert proposal.suggestion == {"n": 3}
    schema = json.loads(backend.calls[0].settings.json_schema)
    assert schema["required"] == ["reasoning", "suggestion"] and not schema["additionalProperties"]
    suggestion = schema["properties"]["suggestion"]
    assert suggestion["properties"] == {"x": {"type": "string"}, "n": {"type": "integer", "minimum": 1, "maximum": 4}}
    assert suggestion["additionalProperties"] is False
