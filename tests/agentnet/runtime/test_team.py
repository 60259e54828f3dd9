from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from agentnet.agents import AgentSpec
from agentnet.errors import BackendError, ConfigError
from agentnet.graph import CommGraph, Decision
from agentnet.rounds import Spoken
from agentnet.runtime import Team
from agentnet.testing import ScriptedBackend
from agentnet.types import GenerationSettings, Message

ROLES = ["math_solver", "mathematical_analyst", "inspector", "critic", "historian"]


def agents(n: int) -> list[AgentSpec]:
    return [AgentSpec(f"a{i}", ROLES[i % len(ROLES)]) for i in range(n)]


def who(messages: Sequence[Message]) -> str:
    """The fake's replies name the system prompt's first words, so tests can tell agents apart."""
    return messages[0].content.split(".")[0]


def test_chain_over_rounds_assembles_spatial_and_temporal_inputs() -> None:
    g = CommGraph.uniform(
        agents(2), [("a0", "a1")], [("a0", "a0"), ("a0", "a1")], rounds=2, decision=Decision("last_agent")
    )
    counter = iter(range(100))
    backend = ScriptedBackend(lambda m, s: f"reply{next(counter)}")
    t = Team(g, backend).run("What is 2+3?")
    prompts = {(m.agent, m.round): m.prompt[-1].content for m in t.messages}
    assert prompts[("a0", 0)] == "The task is: What is 2+3?"
    assert "Agent a0, role Math Solver, output:\nreply0" in prompts[("a1", 0)]
    r1 = prompts[("a1", 1)]  # spatial a0@1, temporal a0@0 (not its own: no a1->a1 edge)
    assert "this round:\nAgent a0, role Math Solver, output:\nreply2" in r1
    assert "previous round:\nAgent a0, role Math Solver, output:\nreply0" in r1 and "reply1" not in r1
    assert t.answer == "reply3" and t.rounds_run == 2 and t.calls == 4


def test_a_layer_runs_concurrently_and_a_chain_does_not() -> None:
    layer = ScriptedBackend(["x"], cycle=True, latency_s=0.05)
    Team(CommGraph.uniform(agents(5), decision=Decision("last_agent")), layer).run("q")
    assert layer.peak_in_flight == 5
    chain = ScriptedBackend(["x"], cycle=True, latency_s=0.02)
    edges = [(f"a{i}", f"a{i + 1}") for i in range(4)]
    Team(CommGraph.uniform(agents(5), edges, decision=Decision("last_agent")), chain).run("q")
    assert chain.peak_in_flight == 1


def test_token_accounting_per_agent_round_and_edge() -> None:
    g = CommGraph.uniform(agents(2), [("a0", "a1")], [("a1", "a0")], rounds=2, decision=Decision("last_agent"))
    backend = ScriptedBackend(lambda m, s: "one two three" if who(m).endswith("math expert") else "four five")
    t = Team(g, backend).run("add")
    by_agent = t.usage_by_agent()
    assert by_agent["a0"].completion_tokens == 6 and by_agent["a1"].completion_tokens == 4
    assert t.usage.prompt_tokens == sum(c.usage.prompt_tokens for c in t.messages)
    assert t.usage_by_round()[0].completion_tokens == 5
    edges = {(e.sender, e.receiver, e.kind, e.round): e.tokens for e in t.edge_tokens()}
    assert edges == {("a0", "a1", "spatial", 0): 3, ("a0", "a1", "spatial", 1): 3, ("a1", "a0", "temporal", 1): 2}
    # what a peer's message adds to a prompt is visible in the prompt counts too
    p = {(m.agent, m.round): m.usage.prompt_tokens for m in t.messages}
    assert p[("a1", 0)] > p[("a0", 0)]


def test_batch_keeps_order_and_shares_the_backend_limit() -> None:
    backend = ScriptedBackend(lambda m, s: m[-1].content.split()[-1], latency_s=0.01, max_concurrency=3)
    team = Team(CommGraph.uniform(agents(2), decision=Decision("last_agent")), backend)
    results = team.batch([f"query {i}" for i in range(12)], concurrency=6)
    assert [r.answer for r in results] == [str(i) for i in range(12)]
    assert backend.peak_in_flight == 3


def test_early_stop_when_all_agree_records_savings() -> None:
    g = CommGraph.uniform(agents(3), rounds=3, decision=Decision("majority_vote"))
    agree = Team(g, ScriptedBackend(["The answer is 7"], cycle=True), early_stop=True).run("q")
    assert agree.rounds_run == 1 and agree.stopped_early and agree.calls == 3
    assert agree.tokens_saved_estimate == 2 * agree.usage.total_tokens and agree.answer == "7"
    replies = iter(["The answer is 7", "The answer is 8"] * 10)
    split = Team(g, ScriptedBackend(lambda m, s: next(replies)), early_stop=True).run("q")
    assert split.rounds_run == 3 and not split.stopped_early and split.calls == 9


def test_majority_vote_and_ties() -> None:
    g = CommGraph.uniform(agents(3), decision=Decision("majority_vote"))
    votes = iter(["The answer is 4", "The answer is 5", "I get 5"])
    assert Team(g, ScriptedBackend(lambda m, s: next(votes))).run("q").answer == "5"
    tie = iter(["answer is 9", "answer is 3", ""])
    assert Team(g, ScriptedBackend(lambda m, s: next(tie))).run("q").answer == "9"


def test_final_refer_reads_every_final_output() -> None:
    g = CommGraph.uniform(agents(3), rounds=2, decision=Decision("final_refer"))
    counter = iter(range(100))
    t = Team(g, ScriptedBackend(lambda m, s: f"out{next(counter)}")).run("q")
    decision = t.messages[-1]
    assert decision.kind == "decision" and decision.agent == "decision" and decision.round == 2
    assert decision.prompt[0].content.startswith("You are the final decision-maker")
    assert all(f"out{i}" in decision.prompt[-1].content for i in (3, 4, 5))
    assert "out0" not in decision.prompt[-1].content and t.answer == "out6"


def test_code_writer_rewrites_after_a_failed_check() -> None:
    drafts = iter(["```python\ndef f():\n    return 1\n```", "```python\ndef f():\n    return 2\n```"])
    checked: list[str] = []

    async def check(code: str, query: str) -> tuple[bool, str]:
        assert query == "write f"
        checked.append(code)
        return ("return 2" in code, "assert f() == 2 failed: got 1")

    g = CommGraph.uniform(agents(1), decision=Decision("code_writer", role="code_writer", max_fixes=2))
    backend = ScriptedBackend(
        lambda m, s: "plan" if "Math Solver" in who(m) or "math expert" in who(m) else next(drafts)
    )
    t = Team(g, backend, code_check=check).run("write f")
    assert t.answer == "def f():\n    return 2" and len(checked) == 2
    second = [m for m in t.messages if m.kind == "decision"][1].prompt[-1].content
    assert "failed its checks" in second and "got 1" in second and "return 1" in second
    with pytest.raises(ConfigError, match="code_check"):
        Team(g, backend).run("write f")


def test_failed_backend_call_is_recorded_and_the_run_goes_on() -> None:
    replies = [BackendError("boom", url="http://x"), "The answer is 3", "The answer is 3"]
    g = CommGraph.uniform(agents(3), [("a0", "a2"), ("a1", "a2")], decision=Decision("last_agent"))
    t = Team(g, ScriptedBackend(replies)).run("q")
    assert [m.error is not None for m in t.messages] == [True, False, False]
    assert "boom" in t.errors[0].error and t.answer == "The answer is 3"
    assert "Agent a0" not in t.messages[-1].prompt[-1].content  # an empty output is not passed on


def test_agents_can_use_different_models() -> None:
    specs = [AgentSpec("a0", "math_solver", model="small"), AgentSpec("a1", "inspector", model="big")]
    g = CommGraph.uniform(specs, [("a0", "a1")], decision=Decision("last_agent"))
    small, big = ScriptedBackend(["s"]), ScriptedBackend(["b"])
    t = Team(g, {"small": small, "big": big}).run("q")
    assert t.answer == "b" and [m.model for m in t.messages] == ["small", "big"]
    assert len(small.calls) == len(big.calls) == 1
    with pytest.raises(ConfigError, match="model\\(s\\) big; the team has backends for small"):
        Team(g, {"small": small}).run("q")
    one = ScriptedBackend(["x", "y"])  # one backend answers for every model the agents name
    assert Team(g, one).run("q").answer == "y"


def test_stream_emits_agent_events_then_the_trajectory() -> None:
    g = CommGraph.uniform(agents(2), [("a0", "a1")], decision=Decision("last_agent"))
    events = list(Team(g, ScriptedBackend(["a b", "c d e"])).stream("q"))
    kinds = [(e.event, e.agent) for e in events]
    assert kinds[:4] == [("start", "a0"), ("delta", "a0"), ("delta", "a0"), ("finish", "a0")]
    assert kinds[-1] == ("done", "") and events[-1].trajectory.answer == "c d e"
    assert "".join(e.text for e in events if e.event == "delta" and e.agent == "a1") == "c d e"
    assert events[3].usage[1] == 2


class Crash(Exception):
    """Stands in for a process killed mid-run."""


def test_checkpointed_run_resumes_only_unfinished_agents(tmp_path: Path) -> None:
    db = tmp_path / "ckpt.sqlite"
    g = CommGraph.uniform(
        agents(3), [("a0", "a1"), ("a1", "a2")], [("a2", "a0")], rounds=2, decision=Decision("last_agent")
    )
    first = ScriptedBackend(["r0", "r1", "r2", Crash("killed")])
    with pytest.raises(Crash):
        Team(g, first, checkpoint=db).run("q", thread_id="t1")
    second = ScriptedBackend(["s3", "s4", "s5"])
    t = Team(g, second, checkpoint=db).run("q", thread_id="t1")
    assert len(second.calls) == 3  # round 1 only
    assert [m.output for m in t.messages] == ["r0", "r1", "r2", "s3", "s4", "s5"]
    assert "r2" in second.calls[0].messages[-1].content  # a0@1 read a2@0 from before the crash
    again = Team(g, ScriptedBackend([]), checkpoint=db).run("q", thread_id="t1")
    assert again.answer == "s5"  # a finished thread returns its result without calls
    with pytest.raises(ConfigError, match="belongs to another query"):
        Team(g, ScriptedBackend([]), checkpoint=db).run("other", thread_id="t1")


def test_trajectory_round_trips_through_json(tmp_path: Path) -> None:
    g = CommGraph.uniform(agents(2), [("a0", "a1")], decision=Decision("final_refer"))
    t = Team(g, ScriptedBackend(["x y", "z", "The answer is 1"])).run("q")
    from agentnet.trajectory import Trajectory

    loaded = Trajectory.load(t.save(tmp_path / "t.json"))
    assert loaded.graph == g and loaded.messages == t.messages and loaded.answer == t.answer
    assert loaded.usage == t.usage


def test_arun_inside_a_running_loop() -> None:
    g = CommGraph.uniform(agents(2), decision=Decision("last_agent"))
    team = Team(g, ScriptedBackend(["x"], cycle=True))

    async def two() -> list[str]:
        return [t.answer for t in await asyncio.gather(team.arun("a"), team.arun("b"))]

    assert asyncio.run(two()) == ["x", "x"]


def test_settings_reach_the_backend() -> None:
    specs = [AgentSpec("a0", "math_solver", GenerationSettings(max_tokens=7, temperature=0.3))]
    backend = ScriptedBackend(["x"])
    Team(CommGraph.uniform(specs, decision=Decision("last_agent")), backend).run("q")
    assert backend.calls[0].settings.max_tokens == 7 and backend.calls[0].settings.temperature == 0.3


def test_parallel_writes_all_land_through_the_reducers() -> None:
    g = CommGraph.uniform(
        agents(5), [], [(f"a{i}", f"a{i}") for i in range(5)], rounds=2, decision=Decision("final_refer")
    )
    counter = iter(range(100))
    t = Team(g, ScriptedBackend(lambda m, s: f"o{next(counter)}", latency_s=0.01)).run("q")
    assert t.calls == 11 and len({(m.agent, m.round) for m in t.messages}) == 11
    decision_prompt = t.messages[-1].prompt[-1].content
    assert all(f"Agent a{i}," in decision_prompt for i in range(5))  # every parallel output reached it


def test_empty_output_is_recorded_not_a_crash() -> None:
    g = CommGraph.uniform(agents(2), [("a0", "a1")], decision=Decision("majority_vote"))
    t = Team(g, ScriptedBackend(["", "The answer is 2"])).run("q")
    assert t.messages[0].output == "" and t.messages[0].error is None and t.answer == "2"
    assert "Agent a0" not in t.messages[1].prompt[-1].content


def test_a_failed_call_marks_the_query_failed_and_a_batch_goes_on() -> None:
    def reply(messages: Sequence[Message], settings: object) -> str | BackendError:
        return BackendError("server down", url="http://x") if "query 1" in messages[-1].content else "ok"

    team = Team(CommGraph.uniform(agents(2), decision=Decision("last_agent")), ScriptedBackend(reply))
    results = team.batch(["query 0", "query 1", "query 2"], concurrency=3)
    assert [r.failed for r in results] == [False, True, False]
    assert "2 agent call(s) failed" in results[1].error and "server down" in results[1].error
    assert results[2].answer == "ok"


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: CommGraph.uniform([]), "at least one agent"),
        (lambda: CommGraph.uniform(agents(2), rounds=0), "rounds=0"),
        (lambda: CommGraph.uniform([AgentSpec("a0", "wizard")]), "unknown role 'wizard'"),
        (lambda: CommGraph.uniform(agents(2), decision=Decision(role="oracle")), "unknown role 'oracle'"),
        (lambda: CommGraph.uniform(agents(2), [("a0", "a1"), ("a1", "a0")]), "cycle a0 -> a1 -> a0"),
        (lambda: CommGraph.uniform(agents(2), [("a0", "a9")]), "unknown agent 'a9'"),
        (lambda: Team(CommGraph.uniform(agents(1)), ScriptedBackend([])).batch(["q"], concurrency=0), "concurrency=0"),
    ],
)
def test_bad_input_names_the_value(build, message: str) -> None:
    from agentnet.errors import AgentNetError

    with pytest.raises(AgentNetError, match=message):
        build()


def test_private_context_reaches_only_its_agent() -> None:
    g = CommGraph.uniform(agents(2), [("a0", "a1")], decision=Decision("last_agent"))
    backend = ScriptedBackend(["I know x", "done"])
    Team(g, backend).run("q", context={"a0": "x = 4"})
    first, second = (c.messages[-1].content for c in backend.calls)
    assert "Your private information (the other agents do not see it):\nx = 4" in first
    assert "x = 4" not in second and "I know x" in second
    with pytest.raises(ConfigError, match="unknown agent\\(s\\) zz"):
        Team(g, ScriptedBackend(["x"])).run("q", context={"zz": "?"})


def test_receive_gate_shuts_out_messages_and_counts_the_savings() -> None:
    g = CommGraph.uniform(
        agents(2), [("a0", "a1")], [("a0", "a0"), ("a1", "a1")], rounds=2, decision=Decision("last_agent")
    )
    asked: list[tuple[str, int, str]] = []

    def gate(agent: str, rnd: int, last: str, query: str) -> bool:
        asked.append((agent, rnd, last))
        return rnd == 0  # read senders in round 0 only

    backend = ScriptedBackend(["one two three", "four", "five six", "seven"])
    t = Team(g, backend, receive_gate=gate).run("q")
    assert asked == [("a1", 0, ""), ("a0", 1, "one two three"), ("a1", 1, "four")]
    r1 = {m.agent: m for m in t.messages if m.round == 1}
    assert (
        r1["a1"].gated_from == ("a0@1", "a1@0")
        and r1["a1"].spatial_from == ()
        and "five six" not in r1["a1"].prompt[-1].content
    )
    assert t.tokens_saved_by_gates() == 3 + 2 + 1  # a0@0 (temporal to a0), a0@1 (spatial), a1@0 (temporal)


def test_private_facts_may_come_as_lists_by_position() -> None:
    g = CommGraph.uniform(agents(2), decision=Decision("last_agent"))
    backend = ScriptedBackend(["x", "y"])
    Team(g, backend).run("q", context=[["fact one", "fact two"], ["fact three"]])
    prompts = sorted(c.messages[-1].content for c in backend.calls)
    assert any("fact one\nfact two" in p for p in prompts) and any(p.endswith("fact three") for p in prompts)


def test_inactive_agents_make_no_call_and_a_skipped_decision_makes_none() -> None:
    g = CommGraph(
        tuple(agents(3)),
        ((("a0", "a2"),), ()),
        ((("a2", "a2"),),),
        Decision("final_refer"),
        active=(("a0", "a2"), ("a2",)),
        decide=False,
    )
    backend = ScriptedBackend(lambda m, s: f"{who(m)} says 4")
    t = Team(g, backend).run("q")
    assert [(m.agent, m.round) for m in t.messages] == [("a0", 0), ("a2", 0), ("a2", 1)]
    assert len(backend.calls) == 3 == t.calls and t.answer.endswith("says 4")
    assert "a1" not in t.usage_by_agent()


def test_a_stop_gate_ends_the_team_after_the_round_it_says() -> None:
    seen: list[tuple[int, Mapping[str, Spoken]]] = []

    def stop(round: int, said: Mapping[str, Spoken], query: str) -> bool:
        seen.append((round, said))
        return round == 1

    g = CommGraph.uniform(
        agents(2), [("a0", "a1")], [("a0", "a0"), ("a1", "a1")], rounds=4, decision=Decision("last_agent")
    )
    t = Team(g, ScriptedBackend(["x"], cycle=True), stop_gate=stop).run("q")
    assert t.rounds_run == 2 and t.calls == 4 and t.stopped_early
    assert [r for r, _ in seen] == [0, 1] and set(seen[0][1]) == {"a0", "a1"}
    assert seen[0][1]["a1"] == Spoken("a1", "x", "x", "scripted", None, None)  # the model that answered


def test_a_resumed_run_keeps_who_runs(tmp_path: Path) -> None:
    g = CommGraph(tuple(agents(3)), ((), ()), ((("a1", "a1"),),), Decision("last_agent"), active=(("a1",), ("a1",)))
    first = Team(g, ScriptedBackend(["one", "two"]), checkpoint=tmp_path / "c.sqlite")
    t = first.run("q", thread_id="t1")
    again = Team(CommGraph.uniform(agents(3)), ScriptedBackend([]), checkpoint=tmp_path / "c.sqlite").run(
        "q", thread_id="t1"
    )
    assert t.answer == "two" and again.answer == "two" and again.graph.active == (("a1",), ("a1",))


def test_the_trajectory_names_what_was_skipped() -> None:
    g = CommGraph(
        tuple(agents(3)),
        ((), (), ()),
        ((("a1", "a1"),), (("a1", "a1"),)),
        Decision("final_refer"),
        active=(("a0", "a1"), ("a1",), ("a1",)),
        decide=False,
    )
    t = Team(g, ScriptedBackend(["x"], cycle=True), stop_gate=lambda r, said, q: r == 1).run("q")
    assert t.skipped() == ["a2@0", "a0@1", "a2@1", "round 2", "decision"] and t.calls == 3
