"""The viewer's pages: written from a real store, self-contained, escaped, and refusing bad input."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentnet.cli import app
from agentnet.errors import AgentNetError, ConfigError
from agentnet.store import RunStore
from agentnet.viewer import write_viewer
from agentnet.viewer.data import file_name
from tests.agentnet.viewer.runs import MARKUP, make_store

runner = CliRunner()


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("pages") / "runs.sqlite"
    return path, make_store(path)


def _index_rows(page: str) -> list[dict]:
    data = re.search(r'<script type="application/json" id="index-data">(.*?)</script>', page, re.S)
    assert data is not None
    return json.loads(data.group(1))["rows"]


def test_a_run_writes_an_index_and_one_self_contained_page_per_item(stored, tmp_path) -> None:
    path, ids = stored
    with RunStore(path) as store:
        opened = write_viewer(store, ids["attacked"], tmp_path / "v")
    assert opened == tmp_path / "v" / "index.html"
    rows = _index_rows(opened.read_text())
    assert [r["item"] for r in rows] == [f"planted/{i}" for i in range(4)]
    assert all((tmp_path / "v" / r["href"]).is_file() for r in rows)
    page = (tmp_path / "v" / "items" / file_name("planted/0")).read_text()
    assert re.search(r"""(src|href)=["']?(https?:)?//""", page) is None  # nothing fetched at view time
    assert "<script>" in page and "<style>" in page  # JS and CSS inlined
    assert page.count('class="node"') == 9  # 8 agent calls + the decision, each clickable
    assert 'id="r0-call-a1@0"' in page and "adversary: liar" in page and "gated (" in page


def test_model_output_stays_text(stored, tmp_path) -> None:
    path, ids = stored
    with RunStore(path) as store:
        write_viewer(store, ids["adaptive"], tmp_path / "v")
    page = (tmp_path / "v" / "items" / file_name("planted/3")).read_text()
    assert MARKUP not in page and "&lt;/script&gt;&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page
    index = (tmp_path / "v" / "index.html").read_text()
    assert index.count("</script>") == 2  # the data block and the viewer's script: no break-out


def test_two_runs_side_by_side(stored, tmp_path) -> None:
    path, ids = stored
    with RunStore(path) as store:
        opened = write_viewer(store, ids["attacked"], tmp_path / "v", item="planted/0", compare=(ids["adaptive"],))
    page = opened.read_text()
    assert page.count('class="pane"') == 2 and ids["attacked"] in page and ids["adaptive"] in page
    assert 'id="r1-call-a0@1"' in page and "a0&#x27;s answer is the team&#x27;s" in page
    rows = _index_rows((tmp_path / "v" / "index.html").read_text())
    assert [(r["score"], r["score_1"], bool(r["href"])) for r in rows][:2] == [(0.0, 1.0, True), (0.0, 1.0, False)]


def test_bad_input_is_refused_before_anything_is_written(stored, tmp_path) -> None:
    path, ids = stored
    with RunStore(path) as store:
        for kwargs, message in (
            ({"item": "planted/9"}, "has no item 'planted/9'; its items: planted/0"),
            ({"compare": (ids["attacked"],)}, "repeats a run"),
            ({"compare": ("nope",)}, "unknown run 'nope'"),
        ):
            with pytest.raises(AgentNetError, match=message):
                write_viewer(store, ids["attacked"], tmp_path / "v", **kwargs)
    assert not (tmp_path / "v").exists()


def test_the_cli(stored, tmp_path, monkeypatch) -> None:
    path, ids = stored
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["show", ids["attacked"], "planted/1", "--store", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"show/{ids['attacked']}/items/{file_name('planted/1')}")
    foreign = tmp_path / "other.sqlite"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.commit()
    for args, message in (
        (["show", "nope", "--store", str(path)], "unknown run 'nope'"),
        (["show", ids["attacked"], "x", "--store", str(path)], "has no item 'x'"),
        (["show", ids["attacked"], "--store", str(foreign)], "is not an agentnet run store"),
        (["show", ids["attacked"], "--store", str(tmp_path / "none.sqlite")], "no run store at"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, args
    assert {t for (t,) in sqlite3.connect(foreign).execute("SELECT name FROM sqlite_master")} == {"t"}  # left alone
    with pytest.raises(ConfigError):
        RunStore.existing(foreign)
