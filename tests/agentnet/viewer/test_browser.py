"""The viewer in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright
loads the pages from disk, and the test checks the rendered DOM — the index's rows, a sort, an
item's agents and edges, a message opened by clicking its agent — and saves a screenshot.
Skips loudly without Chromium or Playwright (`.ci/run` installs Chromium where apt can)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agentnet.store import RunStore
from agentnet.viewer import write_viewer
from agentnet.viewer.data import file_name
from tests.agentnet.viewer.runs import make_store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "SKIPPED LOUDLY: no Chromium (apt-get install chromium); the viewer's browser test did not run",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="SKIPPED LOUDLY: playwright missing; install the [dev] extra"
)
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_the_viewer_renders_sorts_and_opens_a_message_on_click(tmp_path: Path) -> None:
    ids = make_store(tmp_path / "runs.sqlite")  # (before Playwright's loop starts: the runs use asyncio)
    with RunStore(tmp_path / "runs.sqlite") as store:
        index = write_viewer(store, ids["attacked"], tmp_path / "v", compare=(ids["adaptive"],))
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            _check(browser.new_page(viewport={"width": 1600, "height": 1200}), index, tmp_path)
        finally:
            browser.close()


def _check(page, index: Path, tmp_path: Path) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(index.as_uri())
    rows = page.locator("#index tbody tr")
    assert rows.count() == 4 and "page 1 of 1 · 4 items" in page.inner_text("#page-info")
    page.click("#index th:nth-child(3)")  # tokens, descending: the item whose output carries markup is longest
    assert rows.first.locator("td").first.inner_text() == "planted/3"
    rows.first.locator("a").click()
    assert page.url.endswith(file_name("planted/3"))
    assert page.locator("section.pane").count() == 2
    assert page.locator('section.pane:first-child svg .node[data-call="a1@0"] text').first.text_content() == "a1"
    assert (
        page.locator("section.pane:first-child svg g.edge.gated").count() == 6
    )  # a2 gated in round 1: 2 spatial + 4 temporal
    assert page.locator("section.pane:nth-child(2) svg g.idle").count() == 3  # a1-a3 skipped in round 1
    message = page.locator("details#r0-call-a1\\@0")
    assert not message.evaluate("d => d.open")
    page.click('section.pane:first-child svg .node[data-call="a1@0"]')
    assert message.evaluate("d => d.open") and "picked" in (message.get_attribute("class") or "")
    assert "deceptive agent" in message.inner_text() and "The answer is 7" in message.inner_text()
    assert page.evaluate("window.pwned") is None  # the stored markup stayed text
    page.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)
    assert (tmp_path / "viewer.png").stat().st_size > 20_000 and errors == []
