"""The client examples of docs/serving-teams.md, run as written against a served ScriptedBackend
team (only the URL is the test server's), and the OpenAI SDK's view of the server's errors."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from tests.assembly.endpoint_helpers import scripted, serving

DOC = Path(__file__).resolve().parents[2] / "docs" / "serving-teams.md"
DOC_URL = "http://127.0.0.1:8000/v1"


def example(name: str) -> str:
    blocks = re.findall(r"```python\n(# example: (\S+)\n.*?)```", DOC.read_text(), flags=re.S)
    return next(code for code, tag in blocks if tag == name)


def run_example(name: str, url: str) -> list[str]:
    code = example(name)
    assert DOC_URL in code
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code.replace(DOC_URL, url), f"{DOC.name}:{name}", "exec"), {})  # noqa: S102 - the docs' own code
    return printed.getvalue().splitlines()


def test_the_openai_sdk_example_gets_the_answer_usage_and_the_run(tmp_path: Path) -> None:
    pytest.importorskip("openai")
    team, _ = scripted()
    with serving(tmp_path, team) as s:
        lines = run_example("openai-sdk", s.url)
    answer, tokens, calls, show, streamed = lines
    assert answer == "42" and int(tokens) > 0
    assert calls == "4 ['a0', 'a1', 'a2', 'decision']"
    assert show.startswith(f"agentnet show {team.run_id} chatcmpl-") and show.endswith(f"--store {s.store}")
    assert streamed == "42"


def test_the_langchain_example_gets_the_answer_plain_and_streamed(tmp_path: Path) -> None:
    pytest.importorskip(
        "langchain_openai", reason="SKIPPED LOUDLY: langchain-openai missing; install agentnet[endpoint]"
    )
    team, _ = scripted()
    with serving(tmp_path, team) as s:
        lines = run_example("langchain", s.url)
    assert lines == ["42", "42"]


def test_the_openai_sdk_raises_its_own_errors_for_refusals(tmp_path: Path) -> None:
    openai = pytest.importorskip("openai")
    team, _ = scripted()
    with serving(tmp_path, team) as s:
        client = openai.OpenAI(base_url=s.url, api_key="unused", max_retries=0)
        with pytest.raises(openai.NotFoundError, match="served teams: trio"):
            client.chat.completions.create(model="nobody", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.BadRequestError, match="messages` is empty"):
            client.chat.completions.create(model="trio", messages=[])
