import pytest

from agentnet.errors import UnknownNameError
from agentnet.prompts import load_role, role_ids


def test_roles_load_with_title_and_body() -> None:
    assert {"math_solver", "mathematical_analyst", "inspector"} <= set(role_ids())
    card = load_role("math_solver")
    assert card.title == "Math Solver"
    assert "The answer is" in card.system and not card.system.startswith("#")


def test_unknown_role_lists_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="unknown role 'wizard'; known: .*math_solver"):
        load_role("wizard")


def test_header_lines_name_the_roles_tool_and_reminder_and_stay_out_of_the_system_prompt() -> None:
    pal = load_role("pal")
    assert pal.tool == "python" and pal.reminder.startswith("Reply with one ```python code block")
    assert not pal.system.startswith(("tool:", "reminder:")) and "reminder" not in pal.system
    cot = load_role("cot")
    assert (cot.tool, cot.reminder) == ("none", "") and cot.system.startswith("You are a careful problem solver")
    # a coder who hears a peer's passing code explained it in prose (no code: its answer failed)
    expert = load_role("programming_expert")
    assert "complete code in one ```python code block" in expert.reminder and "looks right" in expert.reminder


def test_a_reminder_is_the_last_line_of_the_user_prompt_only_for_its_role() -> None:
    from agentnet.agents import AgentSpec, PeerOutput, build_messages

    peers = [PeerOutput("a0", "cot", "The answer is 4")]
    pal = build_messages(AgentSpec("p", "pal", tool="python"), "What is 2 + 2?", peers)
    assert pal[-1].content.endswith("\n\n" + load_role("pal").reminder) and "What is 2 + 2?" in pal[-1].content
    assert pal[-1].content.index("The answer is 4") < pal[-1].content.index(load_role("pal").reminder)
    cot = build_messages(AgentSpec("c", "cot"), "What is 2 + 2?", peers)
    assert "Reply with one" not in cot[-1].content
