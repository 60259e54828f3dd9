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
