"""The newcomer's demo (`make demo`): `agentnet run QUESTION` with every default — the embedded
llama-server, Qwen2.5-Coder-0.5B, the default team — prints the right answer first, for the
Makefile's question and two simple questions of other kinds (greedy decoding: reproducible)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentnet.cli import app
from agentnet.serving import DEFAULT_ENGINE, DEFAULT_MODEL, ServeConfig

pytestmark = pytest.mark.integration
runner = CliRunner()
MAKEFILE = Path(__file__).resolve().parents[1] / "Makefile"
QUESTIONS = [
    pytest.param(
        "A farmer has 3 pens with 4 sheep in each pen. How many sheep does the farmer have?", "12", id="product"
    ),
    pytest.param(
        "Tom had 15 apples. He gave 6 apples to his friend. How many apples does Tom have left?", "9", id="difference"
    ),
    pytest.param("A notebook costs $3. How much do 5 notebooks cost, in dollars?", "15", id="money"),
]


def test_the_demo_asks_the_first_question_with_the_defaults() -> None:
    demo = MAKEFILE.read_text()
    assert f"QUESTION ?= {QUESTIONS[0].values[0]}" in demo
    assert re.search(r'^\t\$\(VENV\)/bin/agentnet run "\$\(QUESTION\)"$', demo, re.MULTILINE)  # no options
    assert (DEFAULT_ENGINE, DEFAULT_MODEL, ServeConfig().model) == ("llama-server", "qwen2.5-coder-0.5b", DEFAULT_MODEL)


@pytest.mark.parametrize("question, answer", QUESTIONS)
def test_the_default_team_answers_right(question: str, answer: str) -> None:
    from tests.conftest import _require_local

    _require_local(DEFAULT_MODEL)
    result = runner.invoke(app, ["run", question])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Answer: {answer}", result.output  # the answer first, on its own line
    assert "Tokens" in result.stdout and "llama-server serving qwen2.5-coder-0.5b" in result.stderr
