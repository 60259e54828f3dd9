from agentnet.agents import AgentSpec, PeerOutput, build_messages


def test_messages_follow_gdesigner_shape() -> None:
    agent = AgentSpec("a2", "inspector")
    msgs = build_messages(
        agent,
        "What is 2+3?",
        spatial=[PeerOutput("a0", "math_solver", "It is 5.\n")],
        temporal=[PeerOutput("a2", "inspector", "Earlier I said 6.")],
    )
    assert [m.role for m in msgs] == ["system", "user"]
    assert msgs[0].content.startswith("You are an Inspector.")
    user = msgs[1].content
    assert user.startswith("The task is: What is 2+3?")
    assert "Agent a0, role Math Solver, output:\nIt is 5." in user
    assert user.index("this round") < user.index("previous round")
    assert "Agent a2, role Inspector, output:\nEarlier I said 6." in user


def test_lone_agent_gets_only_the_task() -> None:
    msgs = build_messages(AgentSpec("a", "math_solver"), "  Add 1 and 1.  ")
    assert msgs[1].content == "The task is: Add 1 and 1."


def test_literal_system_prompt_overrides_the_role():
    agent = AgentSpec("a", "math_solver", system="Answer in one word.")
    messages = build_messages(agent, "2+2?")
    assert messages[0].content == "Answer in one word."
