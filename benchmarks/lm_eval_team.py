"""GSM8K scored by lm-evaluation-harness against served agentnet teams, beside agentnet's own scorer.

    # the comparison: a fixed and a learned team on the embedded model, the first 100 test items
    python benchmarks/lm_eval_team.py --limit 100 --learned gdesigner:topology-run/model.pt \\
        --bench-store agentnet_runs.sqlite --bench-run fixed=RUN_ID --bench-run learned=RUN_ID \\
        --out benchmarks/results/lm-eval-gsm8k
    # the plumbing, no model: ScriptedBackend teams (the learned one an untrained GPTSwarm)
    python benchmarks/lm_eval_team.py --scripted --limit 3 --out /tmp/lm-eval-plumbing

Both teams are served by one `agentnet serve-team --task gsm8k --reasoning content` (a child
process; with --scripted, in this process): the team `agentnet bench gsm8k` runs (the task's roles
and decision, the command's team options) as `fixed`, and `--learned`'s topology as `learned`.
`lm_eval --model local-chat-completions` asks each for the task `agentnet_gsm8k`
(benchmarks/lm_eval/agentnet_gsm8k.yaml: the local test file, the bare question, lm-eval's gsm8k
reference and normalisation) with two of lm-eval's filters: `served-answer` (the content's first
line: the answer agentnet extracted) and `flexible-extract` (lm-eval's own: the last number of
the final reply). agentnet's scorer reads the same generations from the server's run store
(`GSM8K.score` on each request's final reply), so the scorers grade identical text; with
--bench-run TEAM=RUN, the per-item scores of a stored `agentnet bench gsm8k --limit N` run of that
team (its own generations: with the same --max-tokens, temperature 0 and a shared --cache, the
served team's calls are the bench run's, answered from the cache) join them. Written to OUT: comparison.md and comparison.json (accuracies and every
item where the scorers disagree), lm-eval's outputs and samples, and the run store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
TASK_YAML = REPO / "benchmarks" / "lm_eval" / "agentnet_gsm8k.yaml"
FILTERS = ("served-answer", "flexible-extract")
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def items(limit: int, data_dir: Path | None) -> list[Any]:
    from agentnet.assembly.items import load_items
    from agentnet.configs import ItemsConfig
    from agentnet.tasks import TaskConfig

    _, chosen = load_items(ItemsConfig("gsm8k", "test", limit), TaskConfig(data_dir=data_dir, hub=False))
    return chosen


# -- serving ------------------------------------------------------------------------------------
def planted_reply(chosen: list[Any]):  # noqa: ANN201 - a ScriptedBackend reply function
    """Scripted replies that make the scorers meet and part: right, right in agentnet's eyes only
    ("3.0" for 3), and right with a later number lm-eval's last-number rule takes."""
    golds = {it.question: it.answer for it in chosen}

    def reply(messages: Any, settings: Any) -> str:
        text = "\n".join(m.content for m in messages)
        question = next((q for q in golds if q in text), "")
        position = list(golds).index(question) if question else -1
        gold = golds.get(question, "0")
        if position == 1:
            return f"Adding them up gives {gold}.0 in all. The answer is {gold}.0"
        if position == 2:
            return f"The answer is {gold}, which I checked twice (step 2)."
        return f"Working it through step by step. The answer is {gold}"

    return reply


@contextmanager
def scripted_server(chosen: list[Any], out: Path, port: int) -> Iterator[str]:
    from agentnet.agents import AgentSpec
    from agentnet.assembly.chat_api import ApiSettings, bind
    from agentnet.assembly.endpoint import endpoint, served_team
    from agentnet.assembly.team import decision_for
    from agentnet.assembly.team_service import Limits
    from agentnet.configs import TeamConfig
    from agentnet.tasks import make_task
    from agentnet.testing import ScriptedBackend
    from agentnet.topologies.gptswarm import GPTSwarm

    task = make_task("gsm8k")
    backend = ScriptedBackend(planted_reply(chosen))
    config = TeamConfig()
    agents = [AgentSpec(f"a{i}", role, config.settings()) for i, role in enumerate(task.roles)]
    swarm = out / "gptswarm-untrained.pt"
    GPTSwarm(agents, 1, decision_for(config, task)).save(swarm)  # a learned kind, untrained: plumbing only
    teams = [
        served_team("fixed", config, backend, task=task, model="scripted"),
        served_team("learned", TeamConfig(topology=f"gptswarm:{swarm}"), backend, task=task, model="scripted"),
    ]
    with (
        endpoint(
            teams, Limits(concurrency=4), ApiSettings(reasoning="content"), out / "runs.sqlite", bind("127.0.0.1", port)
        ) as server,
        server.running() as url,
    ):
        yield url


@contextmanager
def served(args: argparse.Namespace, out: Path, port: int) -> Iterator[str]:
    """`agentnet serve-team` with both teams, until the block ends (then SIGINT: drained, recorded)."""
    command = [
        sys.executable,
        "-m",
        "agentnet.cli",
        "serve-team",
        "--port",
        str(port),
        "--store",
        str(out / "runs.sqlite"),
        "--task",
        "gsm8k",
        "--reasoning",
        "content",
        "--concurrency",
        str(args.concurrency),
        "--team",
        f"fixed={args.fixed}",
        "--team",
        f"learned=;topology={args.learned}",
        *args.serve_arg,
    ]
    if args.data_dir:
        command += ["--data-dir", str(args.data_dir)]
    log = (out / "serve-team.log").open("w")
    child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **OFFLINE})
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + args.start_timeout
        while True:
            if child.poll() is not None:
                raise SystemExit(f"serve-team exited ({child.returncode}); see {out / 'serve-team.log'}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"serve-team did not answer within {args.start_timeout:g} s; see {out / 'serve-team.log'}"
                )
            time.sleep(1)
        yield url
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=120)
        except subprocess.TimeoutExpired:
            child.kill()
        log.close()


# -- lm-eval ------------------------------------------------------------------------------------
def task_dir(out: Path, data_dir: Path | None) -> Path:
    """The task YAML's folder; with --data-dir, a copy that reads the file from there."""
    if data_dir is None:
        return TASK_YAML.parent
    folder = out / "tasks"
    folder.mkdir(parents=True, exist_ok=True)
    text = TASK_YAML.read_text().replace(
        "../shared/data/gsm8k/test.jsonl", str((data_dir / "gsm8k" / "test.jsonl").resolve())
    )
    (folder / TASK_YAML.name).write_text(text)
    return folder


def lm_eval(team: str, url: str, limit: int, out: Path, tasks: Path, concurrency: int) -> Path:
    binary = shutil.which("lm_eval", path=str(Path(sys.executable).parent)) or shutil.which("lm_eval")
    if binary is None:
        raise SystemExit("lm_eval is not installed; pip install 'agentnet[harness]'")
    where = out / "lm_eval" / team
    model_args = (
        f"model={team},base_url={url}/chat/completions,num_concurrent={concurrency},max_retries=2,"
        "tokenized_requests=False,timeout=3600"
    )
    command = [
        binary,
        "--model",
        "local-chat-completions",
        "--model_args",
        model_args,
        "--tasks",
        "agentnet_gsm8k",
        "--include_path",
        str(tasks),
        "--limit",
        str(limit),
        "--apply_chat_template",
        "--log_samples",
        "--output_path",
        str(where),
    ]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, cwd=REPO, check=True, env={**os.environ, **OFFLINE, "OPENAI_API_KEY": "unused"})
    return where


def samples(where: Path) -> dict[str, dict[int, dict[str, Any]]]:
    """lm-eval's logged samples: filter -> doc_id -> sample."""
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for path in sorted(where.rglob("samples_agentnet_gsm8k_*.jsonl")):
        for line in path.read_text().splitlines():
            s = json.loads(line)
            found.setdefault(s.get("filter", "none"), {})[s["doc_id"]] = s
    if not found:
        raise SystemExit(f"no lm-eval samples under {where}")
    return found


def first(value: Any) -> str:
    while isinstance(value, list) and value:
        value = value[0]
    return str(value) if not isinstance(value, list) else ""


# -- agentnet's scorer ----------------------------------------------------------------------------
def served_rows(store_path: Path, team: str) -> dict[str, Any]:
    """The newest served run of `team`: query -> result row (with its trajectory)."""
    from agentnet.store import RunStore

    with RunStore.existing(store_path) as store:
        runs = [r for r in store.runs() if r.config.split == f"serve-team:{team}"]
        if not runs:
            raise SystemExit(f"no served run of {team} in {store_path}")
        rows = store.results(runs[0].id, with_trajectories=True)
    return {r.trajectory["query"]: r for r in rows} | {"__run__": runs[0].id}


def bench_scores(store_path: Path | None, run_id: str | None) -> dict[str, float]:
    if not (store_path and run_id):
        return {}
    from agentnet.store import RunStore

    with RunStore.existing(store_path) as store:
        return {r.item_id: r.score for r in store.results(run_id)}


def compare(
    team: str,
    chosen: list[Any],
    lm: dict[str, dict[int, dict[str, Any]]],
    rows: dict[str, Any],
    bench: dict[str, float],
) -> dict[str, Any]:
    from agentnet.tasks import make_task

    task = make_task("gsm8k")
    per_item = []
    for i, item in enumerate(chosen):
        row = rows.get(item.question)
        reply = row.trajectory["answer"] if row is not None else ""
        score = asyncio.run(task.score(item, reply)) if row is not None else None
        entry: dict[str, Any] = {
            "item": item.id,
            "gold": item.answer,
            "agentnet": {"extracted": score.extracted if score else None, "score": score.value if score else None},
            "reply_tail": reply.strip()[-160:],
            "error": row.error if row is not None else "not in the run store",
        }
        for name in FILTERS:
            s = lm.get(name, {}).get(i)
            entry[name] = {
                "extracted": first(s["filtered_resps"]) if s else None,
                "score": s.get("exact_match") if s else None,
            }
        if item.id in bench:
            entry["bench"] = bench[item.id]
        scores = [entry["agentnet"]["score"], *(entry[n]["score"] for n in FILTERS)]
        entry["disagree"] = len({s for s in scores if s is not None}) > 1
        per_item.append(entry)

    def accuracy(key: str) -> float | None:
        values = [e[key]["score"] for e in per_item if e[key]["score"] is not None]
        return sum(values) / len(values) if values else None

    summary = {
        "team": team,
        "run_id": rows.get("__run__"),
        "items": len(per_item),
        "agentnet": accuracy("agentnet"),
        **{n: accuracy(n) for n in FILTERS},
    }
    if bench:
        summary["bench"] = sum(bench.get(e["item"], 0.0) for e in per_item) / len(per_item)
    return {"summary": summary, "items": per_item}


def markdown(results: list[dict[str, Any]], command: str) -> str:
    def pct(v: float | None) -> str:
        return "–" if v is None else f"{100 * v:.1f}%"

    lines = [
        f"`{command}`",
        "",
        "| team | items | agentnet scorer | lm-eval served-answer | lm-eval flexible-extract | agentnet bench |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s = r["summary"]
        lines.append(
            f"| {s['team']} (run {s['run_id']}) | {s['items']} | {pct(s['agentnet'])} | {pct(s['served-answer'])} | "
            f"{pct(s['flexible-extract'])} | {pct(s.get('bench'))} |"
        )
    for r in results:
        odd = [e for e in r["items"] if e["disagree"]]
        lines += ["", f"### {r['summary']['team']}: {len(odd)} item(s) where the scorers disagree", ""]
        if odd:
            lines += [
                "| item | gold | agentnet | served-answer | flexible-extract | the reply ends |",
                "|---|---|---|---|---|---|",
            ]
        for e in odd:
            cells = [
                f"{e[k]['extracted']} ({e[k]['score']:g})" if e[k]["score"] is not None else "–"
                for k in ("agentnet", *FILTERS)
            ]
            tail = e["reply_tail"].replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {e['item']} | {e['gold']} | {' | '.join(cells)} | …{tail[-90:]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--limit", type=int, default=100, help="the first N GSM8K test items (as `agentnet bench gsm8k --limit N`)"
    )
    parser.add_argument(
        "--fixed",
        default="",
        help="the fixed team, SPEC[;KEY=VALUE…] as serve-team --team takes it "
        "(default: the team `agentnet bench gsm8k` runs), e.g. 'cot@qwen2.5-coder-0.5b;topology=single;decision=last_agent'",
    )
    parser.add_argument(
        "--learned", default="", help="the learned team's topology, KIND:PATH (from `agentnet train KIND`)"
    )
    parser.add_argument(
        "--scripted", action="store_true", help="ScriptedBackend teams in this process (no model): the plumbing"
    )
    parser.add_argument("--out", type=Path, default=Path("lm-eval-gsm8k"), help="output folder")
    parser.add_argument("--data-dir", type=Path, default=None, help="benchmark data folder (default ../shared/data)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests lm-eval keeps in flight (and team runs)")
    parser.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        help="extra serve-team argument (repeat), e.g. --serve-arg=--model=qwen2.5-coder-0.5b",
    )
    parser.add_argument("--start-timeout", type=float, default=900.0, help="seconds for serve-team to come up")
    parser.add_argument(
        "--bench-store", type=Path, default=None, help="run store of an `agentnet bench gsm8k` run to show beside"
    )
    parser.add_argument(
        "--bench-run",
        action="append",
        default=[],
        help="TEAM=RUN: that team's `agentnet bench` run in --bench-store (repeat: fixed=…, learned=…)",
    )
    args = parser.parse_args()
    if not args.scripted and not args.learned:
        raise SystemExit("--learned KIND:PATH is required (or --scripted for the plumbing)")
    bench_runs = dict(pair.partition("=")[::2] for pair in args.bench_run)
    if bad := [p for p in args.bench_run if p.partition("=")[0] not in ("fixed", "learned") or "=" not in p]:
        raise SystemExit(f"--bench-run {bad[0]!r} is not TEAM=RUN with TEAM fixed or learned")
    if bench_runs and not args.bench_store:
        raise SystemExit("--bench-run needs --bench-store, the run store that holds those runs")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if (out / "runs.sqlite").exists():
        raise SystemExit(f"{out} already holds a run store; pass a new --out")
    chosen = items(
        args.limit, args.data_dir or Path(os.environ.get("AGENTNET_DATA_DIR") or REPO.parent / "shared" / "data")
    )
    from agentnet.serving.process import free_port

    port = free_port()
    tasks = task_dir(out, args.data_dir)
    server = scripted_server(chosen, out, port) if args.scripted else served(args, out, port)
    with server as url:
        where = {team: lm_eval(team, url, args.limit, out, tasks, args.concurrency) for team in ("fixed", "learned")}
    results = [
        compare(
            team,
            chosen,
            samples(path),
            served_rows(out / "runs.sqlite", team),
            bench_scores(args.bench_store, bench_runs.get(team)),
        )
        for team, path in where.items()
    ]
    (out / "comparison.json").write_text(json.dumps(results, indent=1))
    text = markdown(results, " ".join(["python benchmarks/lm_eval_team.py", *sys.argv[1:]]))
    (out / "comparison.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
