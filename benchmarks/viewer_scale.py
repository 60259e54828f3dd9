"""How `agentnet show` scales: write the pages of an N-item run and time the index in headless
Chromium (load, a sort, the next page). The run's items are copies of real scripted runs of a
4-agent × 2-round team (the viewer tests' store), so every page carries prompts and outputs.

    .venv/bin/python benchmarks/viewer_scale.py --items 3000
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' scripted store

from agentnet.store import RunStore  # noqa: E402
from agentnet.viewer import write_viewer  # noqa: E402
from tests.agentnet.viewer.runs import make_store  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=3000)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp())
    ids = make_store(work / "runs.sqlite")
    with RunStore(work / "runs.sqlite") as store:
        rows = store.results(ids["attacked"], with_trajectories=True)
        big = store.create_run(store.run(ids["attacked"]).config, args.items)
        for i in range(args.items):
            store.add_result(
                big, dataclasses.replace(rows[i % len(rows)], item_id=f"big/{i}", position=i, score=float(i % 3 == 0))
            )
        started = time.perf_counter()
        index = write_viewer(store, big, work / "show")
        write_s = time.perf_counter() - started
    size = sum(f.stat().st_size for f in (work / "show").rglob("*.html"))
    table = [
        ("items", f"{args.items:,}"),
        ("write pages", f"{write_s:.1f} s"),
        ("on disk", f"{size / 1e6:.0f} MB"),
        ("per item page", f"{size / args.items / 1e3:.0f} KB"),
    ]
    chromium = shutil.which("chromium")
    if chromium:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page()
            for label, act in (
                ("index load", lambda: page.goto(index.as_uri())),
                ("sort by tokens", lambda: page.click("#index th:nth-child(3)")),
                ("next page", lambda: page.click("#next")),
            ):
                started = time.perf_counter()
                act()
                table.append((label, f"{time.perf_counter() - started:.2f} s"))
            browser.close()
    else:
        table.append(("browser", "no chromium: not timed"))
    for k, v in table:
        print(f"{k:<16} {v:>10}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
