from __future__ import annotations

import struct
from pathlib import Path

import pytest
from rich.console import Console

from agentnet.agents import AgentSpec
from agentnet.errors import ConfigError, UnknownNameError
from agentnet.graph import CommGraph, Decision
from agentnet.drawing import draw_topology
from agentnet.run_report import Prices, write_report
from agentnet.run_stats import wilson_interval
from agentnet.run_table import summary_table
from agentnet.configs import TeamConfig
from agentnet.store import ResultRow, RunConfig, RunStore
from agentnet.viewer.data import file_name

AGENTS = (AgentSpec("a0", "math_solver"), AgentSpec("a1", "math_solver"), AgentSpec("a2", "inspector"))
CHAIN = CommGraph.uniform(AGENTS, [("a0", "a1"), ("a1", "a2")])
STAR = CommGraph.uniform(AGENTS, [("a0", "a1"), ("a0", "a2")], decision=Decision("majority_vote"))
MESH = CommGraph.uniform(AGENTS, [("a0", "a1"), ("a0", "a2"), ("a1", "a2")], [("a0", "a0")], rounds=2)  # 7 edges
LEARNED = CommGraph.uniform(AGENTS, [("a0", "a2")], [("a1", "a1")], rounds=2)  # 1·2 + 1 = 3 edges
SCRIPT = "What is 3+4? <script>alert(1)</script>"


def _row(i: int, score: float, prompt: int, completion: int, graph: CommGraph, **kw: object) -> ResultRow:
    wrong = score < 1
    return ResultRow(
        item_id=f"q{i}",
        position=i,
        answer=str(kw.get("answer", "The answer is 8" if wrong else "The answer is 7")),
        gold="7",
        extracted="8" if wrong else "7",
        score=score,
        prompt_tokens=prompt,
        completion_tokens=completion,
        agent_tokens={"a0": [prompt, completion]},
        latency_s=1.5,
        edges=graph.to_dict(),
        error=kw.get("error"),
        trajectory={"query": kw.get("query", f"question {i}")},  # type: ignore[arg-type]
        **kw.get("ledger", {}),  # type: ignore[arg-type]
    )


def _run(store: RunStore, topology: str, rounds: int, total: int, rows: list[ResultRow]) -> str:
    run_id = store.create_run(RunConfig("gsm8k", limit=total, team=TeamConfig(topology=topology, rounds=rounds)), total)
    for r in rows:
        store.add_result(run_id, r)
    store.set_status(run_id, "finished" if rows else "interrupted")
    return run_id


@pytest.fixture
def runs(tmp_path: Path) -> tuple[RunStore, dict[str, str]]:
    """chain: 3/4 at 150 tok/q, 4 calls each, none cut off; mesh: 4/4 at 600 (learned: 2 graphs), stored
    without the call ledger; star: 2/4 at 300 (one error), 5 calls each, 1 cut off, 2 cached; empty."""
    store = RunStore(tmp_path / "runs.sqlite")
    clean = {
        "calls": 4,
        "cached_calls": 0,
        "cut_off_calls": 0,
        "unknown_finish_calls": 0,
        "served_prompt_tokens": 100,
        "served_completion_tokens": 50,
    }
    cut = {
        "calls": 5,
        "cached_calls": 2,
        "cut_off_calls": 1,
        "unknown_finish_calls": 0,
        "served_prompt_tokens": 120,
        "served_completion_tokens": 60,
    }
    chain = [_row(i, 1.0, 100, 50, CHAIN, ledger=clean) for i in range(3)]
    chain += [_row(3, 0.0, 100, 50, CHAIN, query=SCRIPT, ledger=clean)]
    mesh = [_row(i, 1.0, 400, 200, MESH) for i in range(3)] + [_row(3, 1.0, 400, 200, LEARNED)]
    star = [_row(0, 1.0, 200, 100, STAR, ledger=cut)]
    star += [_row(1, 0.0, 200, 100, STAR, error="BackendError: boom", answer="", ledger=cut)]
    star += [_row(2, 1.0, 200, 100, STAR, ledger=cut), _row(3, 0.0, 200, 100, STAR, answer="<b>8</b> | x", ledger=cut)]
    ids = {
        "chain": _run(store, "chain", 1, 4, chain),
        "mesh": _run(store, "mesh", 2, 4, mesh),
        "star": _run(store, "star", 1, 4, star),
        "empty": _run(store, "chain", 1, 10, []),
    }
    yield store, ids
    store.close()


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert 5_000 < len(data) < 2_000_000, f"{path.name}: {len(data)} bytes"
    return struct.unpack(">II", data[16:24])


def test_wilson_interval_matches_hand_computed_values() -> None:
    # 8/10: centre (0.8 + 1.96²/20) / (1 + 1.96²/10) = 0.7167, half-width 0.2266
    lo, hi = wilson_interval(0.8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(1.0, 4) == (pytest.approx(0.5101, abs=1e-4), 1.0)
    assert wilson_interval(0.0, 0) == (0.0, 1.0)


def test_markdown_table_numbers_and_pareto_front(runs: tuple[RunStore, dict[str, str]], tmp_path: Path) -> None:
    store, ids = runs
    files = write_report(store, list(ids.values()), tmp_path / "out")
    md = files.markdown.read_text()
    rows = {name: next(line for line in md.splitlines() if line.startswith(f"| {i} |")) for name, i in ids.items()}
    # chain: 3/4 right; 100+50 tokens per query; $0.15·100/1e6 + $0.60·50/1e6 = $0.000045; 4 queries: $0.00018
    assert (
        "| gsm8k/test | chain | 3×1 | smollm2-135m | 4/4 | 75.0 (30.1–95.4) | 0 | 3/4 | 0.0% (0/16) | 0.0% (0/16) "
        "| 4.00 | 100.0 | 50.0 |"
    ) in rows["chain"]
    assert "| 600 | — | $0.000045 | $0.00018 | 1.50 s |" in rows["chain"]  # no model prices recorded: cost unknown
    # mesh: 4/4; $0.15·400/1e6 + $0.60·200/1e6 = $0.00018 per query, $0.00072 per run
    # mesh recorded no call ledger (an older store): unknown, not 0
    assert (
        "| mesh | 3×2 | smollm2-135m | 4/4 | 100.0 (51.0–100.0) | 0 | 4/4 | unknown | unknown | — | 400.0 |"
        in rows["mesh"]
    )
    assert "| 2,400 | — | $0.00018 | $0.00072 |" in rows["mesh"]
    assert (
        "| 4/4 | 50.0 (15.0–85.0) | 1 (scored 0) | 2/4 | 20.0% (4/20) | 40.0% (8/20) | 5.00 | 200.0 | 100.0 | 1,200 "
        "| — | $0.00009 | $0.00036 |"
    ) in rows["star"]
    assert rows["empty"].endswith("| 0/10 | — | — | — | — | — | — | — | — | — | — | — | — | — |")
    # star: 20% of calls cut off, past the 5% warning
    assert f"- run {ids['star']}: 20.0% of calls (4 of 20) stopped at max_tokens=256 (more than 5%)" in md
    assert f"- run {ids['chain']}: " not in md
    front = md.split("## Pareto front")[1].split("## Run")[0]
    assert f"- {ids['chain']} (chain): 75.0% at 150.0 tokens/query" in front
    assert f"- {ids['mesh']} (mesh): 100.0% at 600.0 tokens/query" in front
    assert ids["star"] not in front and ids["empty"] not in front  # star: chain is better and cheaper
    assert f"{ids['empty']}: no results yet (0 scored, status interrupted); no point on the scatter." in md


def test_sections_config_learned_graphs_and_failures(runs: tuple[RunStore, dict[str, str]], tmp_path: Path) -> None:
    store, ids = runs
    md = write_report(store, list(ids.values()), tmp_path).markdown.read_text()
    mesh = md.split(f"## Run {ids['mesh']}")[1].split("## Run")[0]
    assert "| topology | mesh |" in mesh and "| engine | llama-cpp |" in mesh and "| roles | (task default) |" in mesh
    assert "| calls cut off at max_tokens | unknown |" in mesh and "| tokens served/query | unknown |" in mesh
    assert "2 distinct graphs, mean 6.0 edges; the drawing shows the most common (3 items)." in mesh  # (3·7+3)/4
    assert f"![communication graph of run {ids['mesh']}](topology_{ids['mesh']}.png)" in mesh
    assert "Example failures" not in mesh
    star = md.split(f"## Run {ids['star']}")[1].split("## Run")[0]
    pages = f"show/{ids['star']}/items"
    assert f"| [q1]({pages}/{file_name('q1')}) | question 1 | 7 | 8 | error: BackendError: boom |" in star
    assert (
        f"| [q3]({pages}/{file_name('q3')}) | question 3 | 7 | 8 | &lt;b&gt;8&lt;/b&gt; \\| x |" in star
    )  # no raw HTML
    assert (tmp_path / pages / file_name("q1")).is_file()  # the link leads to the item's page
    assert (
        f"[Every item of {ids['star']}, as the team ran it (messages, edges, tokens)](show/{ids['star']}/index.html)"
        in star
    )
    assert "decision majority_vote" in star
    assert "| failed items (scored 0) | 1 |" in star and "| response cache hits | 40.0% (8/20) |" in star
    assert "| tokens served/query | 180.0 |" in star
    assert "No topology drawing: no results yet." in md.split(f"## Run {ids['empty']}")[1]


def test_the_run_section_says_what_an_adaptive_team_skipped(tmp_path: Path) -> None:
    from agentnet.trajectory import Trajectory

    alone = CommGraph(AGENTS, [[], []], [[]], active=[["a0"], ["a0"]], decide=False)
    rows = []
    for i, rounds_run in enumerate((1, 2)):  # the first query stopped after round 0
        t = Trajectory(f"question {i}", alone, [], "The answer is 7", rounds_run)
        rows.append(ResultRow(f"q{i}", i, t.answer, "7", "7", 1.0, 10, 5, {}, 1.0, alone.to_dict(), None, t.to_dict()))
    with RunStore(tmp_path / "runs.sqlite") as store:
        run_id = _run(store, "gdesigner:m.pt", 2, 2, rows)
        md = write_report(store, [run_id], tmp_path / "out").markdown.read_text()
    # a1, a2 skipped in round 0 of both queries and in round 1 of the second; round 1 of the first
    assert (
        "Skipped per query: 3.00 agent calls, 0.50 rounds, the decision call on 100% of queries. "
        "Most often skipped (items): a1@0 (2), a2@0 (2), decision (2), round 1 (1)."
    ) in md


def test_pngs_are_written_and_valid(runs: tuple[RunStore, dict[str, str]], tmp_path: Path) -> None:
    store, ids = runs
    files = write_report(store, list(ids.values()), tmp_path)
    assert set(files.topologies) == {ids["chain"], ids["mesh"], ids["star"]}  # the empty run has no graph
    assert files.scatter.name == "accuracy_vs_tokens.png" and all(p.exists() for p in files.paths)
    width, height = _png_size(files.scatter)
    assert (width, height) == (800, 500)
    for path in files.topologies.values():
        width, height = _png_size(path)
        assert 200 < width < 3000 and 200 < height < 2000


def test_html_is_self_contained_and_escaped(runs: tuple[RunStore, dict[str, str]], tmp_path: Path) -> None:
    store, ids = runs
    page = write_report(store, [ids["chain"]], tmp_path).html.read_text()
    assert "<script>" not in page and "What is 3+4? &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<style>" in page and 'src="accuracy_vs_tokens.png"' in page and f'src="topology_{ids["chain"]}.png"' in page
    assert "http" not in page  # nothing fetched from elsewhere


def test_bad_input(runs: tuple[RunStore, dict[str, str]], tmp_path: Path) -> None:
    store, ids = runs
    with pytest.raises(UnknownNameError, match="unknown run 'nope'"):
        write_report(store, [ids["chain"], "nope"], tmp_path / "out")
    assert not (tmp_path / "out").exists()  # checked before anything is written
    with pytest.raises(ConfigError, match="no run ids given"):
        write_report(store, [], tmp_path)
    files = write_report(store, [ids["empty"]], tmp_path / "empty")
    assert files.topologies == {} and _png_size(files.scatter)
    assert "(no scored runs)" in files.markdown.read_text()


def test_custom_prices(runs: tuple[RunStore, dict[str, str]], tmp_path: Path) -> None:
    store, ids = runs
    md = write_report(store, [ids["chain"]], tmp_path, prices=Prices(1.0, 2.0)).markdown.read_text()
    assert "| $0.0002 | $0.0008 |" in md  # 100·1/1e6 + 50·2/1e6 per query, ×4 per run
    assert "$1.00 / $2.00 per 1M prompt / completion tokens" in md


@pytest.mark.parametrize("decision", ["final_refer", "majority_vote", "code_writer", "last_agent"])
def test_every_decision_kind_draws(decision: str, tmp_path: Path) -> None:
    role = "code_writer" if decision == "code_writer" else "final_refer"
    graph = CommGraph.uniform(AGENTS, [("a0", "a2")], [("a2", "a0")], rounds=3, decision=Decision(decision, role))
    _png_size(draw_topology(graph, tmp_path / "g.png", "test"))


def test_summary_table_for_the_cli(runs: tuple[RunStore, dict[str, str]]) -> None:
    store, ids = runs
    console = Console(record=True, width=200)
    console.print(summary_table([store.summary(i) for i in ids.values()]))
    text = console.export_text()
    lines = {name: next(line for line in text.splitlines() if i in line) for name, i in ids.items()}
    assert "failed: items that errored, scored 0 in the accuracy; cut off: calls stopped at max_tokens" in text
    cells = {name: line.split() for name, line in lines.items()}
    header = (
        "run task topology model scored accuracy failed cut off cached calls/query tok/query cost/query status".split()
    )
    assert text.split("─")[0].split()[-len(header) :] == header
    assert cells["chain"][4:] == ["4/4", "75.0%", "0", "0.0%", "0.0%", "4.0", "150", "—", "finished"]
    assert cells["mesh"][4:] == [
        "4/4",
        "100.0%",
        "0",
        "unknown",
        "unknown",
        "—",
        "600",
        "—",
        "finished",
    ]  # no ledger stored
    assert cells["star"][4:] == ["4/4", "50.0%", "1", "20.0%", "40.0%", "5.0", "300", "—", "finished"]
    assert cells["empty"][4:] == ["0/10", "—", "—", "—", "—", "—", "—", "—", "interrupted"]
    no_cache = Console(record=True, width=150)  # no run used the response cache: no cached column
    no_cache.print(summary_table([store.summary(ids["chain"]), store.summary(ids["mesh"])]))
    plain = no_cache.export_text()
    assert "cached" not in plain and "cut off" in plain
    assert next(line for line in plain.splitlines() if ids["chain"] in line).split()[4:] == [
        "4/4",
        "75.0%",
        "0",
        "0.0%",
        "4.0",
        "150",
        "—",
        "finished",
    ]


def test_the_robustness_section_sets_attacked_runs_beside_their_clean_twin(tmp_path: Path) -> None:
    import asyncio
    from dataclasses import replace

    from agentnet.adversaries import AttackConfig
    from agentnet.assembly.team import team_for, topology_for
    from agentnet.evaluation import evaluate
    from tests.topologies import planted

    task = planted.LiarTask()
    items = list(task.items())
    clean = TeamConfig(topology="complete", agents=4, roles=planted.ROLES[:4], decision="last_agent")
    attacked = replace(clean, attack=AttackConfig(adversaries=1, adversary_seed=planted.LIAR_ATTACK_SEED))  # a1 lies
    with RunStore(tmp_path / "runs.sqlite") as store:
        ids = []
        for team in (clean, attacked):
            run_id = store.create_run(RunConfig("planted-liar", limit=4, team=team), len(items))
            the_team = team_for(task, topology_for(team, task), planted.liar_backend(), team)  # type: ignore[arg-type]
            asyncio.run(evaluate(the_team, task, items, store, run_id))  # type: ignore[arg-type]
            ids.append(run_id)
        md = write_report(store, ids, tmp_path / "out").markdown.read_text()
        table = summary_table([store.summary(i) for i in ids])
    assert "## Robustness: clean versus attacked" in md
    # everyone after the liar in the complete order hears it and flips: 4/4 → 0/4
    assert (
        f"| complete | a1 (liar), seed 1 | {ids[0]} | 100.0 (51.0–100.0) | {ids[1]} | 0.0 (0.0–49.0) | +100.0 | 4 | a2 100%, a3 100% |"
        in md
    )
    console = Console(width=200, record=True)
    console.print(table)
    assert "complete + 1 liar (seed 1)" in console.export_text()


def test_a_stopped_run_says_why_in_its_section(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    run_id = _run(store, "chain", 1, 2, [_row(0, 1.0, 10, 5, CHAIN)])
    store.set_status(run_id, "failed", reason="no complete answer within 0.2s after 4 attempts")
    md = write_report(store, [run_id], tmp_path / "r").markdown.read_text()
    assert "failed (no complete answer within 0.2s after 4 attempts)" in md
