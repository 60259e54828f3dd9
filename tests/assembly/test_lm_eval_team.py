"""benchmarks/lm_eval_team.py's plumbing: lm-evaluation-harness against served ScriptedBackend teams
(a fixed one and an untrained GPTSwarm), on 3 GSM8K items, offline. Needs lm-eval (the `harness`
extra) and the local GSM8K file; skips loudly without them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("AGENTNET_DATA_DIR") or REPO.parent / "shared" / "data")


@pytest.mark.slow
def test_lm_eval_scores_served_teams_beside_agentnets_scorer(tmp_path: Path) -> None:
    pytest.importorskip("lm_eval", reason="SKIPPED LOUDLY: lm-eval missing; pip install 'agentnet[harness]'")
    pytest.importorskip("torch", reason="SKIPPED LOUDLY: the learned team needs the graph extra")
    if not (DATA / "gsm8k" / "test.jsonl").is_file():
        pytest.skip(f"SKIPPED LOUDLY: no GSM8K test file under {DATA}")
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "lm_eval_team.py"),
            "--scripted",
            "--limit",
            "3",
            "--out",
            str(out),
            "--data-dir",
            str(DATA),
        ],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = {r["summary"]["team"]: r for r in json.loads((out / "comparison.json").read_text())}
    for team in ("fixed", "learned"):
        s = results[team]["summary"]
        assert (s["items"], s["agentnet"], s["served-answer"]) == (3, 1.0, 1.0)
        assert s["flexible-extract"] == pytest.approx(1 / 3)  # "3.0" for 3, and a later "step 2": lm-eval's last number
        odd = [e for e in results[team]["items"] if e["disagree"]]
        assert [e["flexible-extract"]["extracted"] for e in odd] == ["3.0", "2"]
