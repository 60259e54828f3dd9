"""The run store: evaluation runs and their per-item results in one SQLite file.

Each result is written the moment it is scored, so a killed run loses nothing; the
(run, item) primary key means a resumed run duplicates nothing.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from agentnet.configs import TeamConfig, check_limit
from agentnet.errors import ConfigError, UnknownNameError, require_at_least_one

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    task TEXT NOT NULL,
    split TEXT NOT NULL,
    topology TEXT NOT NULL,
    model TEXT NOT NULL,
    config TEXT NOT NULL,          -- the run's full RunConfig as JSON
    total_items INTEGER NOT NULL,  -- items selected (after --limit)
    status TEXT NOT NULL,          -- running | finished | interrupted
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs(id),
    item_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    answer TEXT NOT NULL,
    gold TEXT NOT NULL,
    extracted TEXT NOT NULL,
    score REAL NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    agent_tokens TEXT NOT NULL,    -- {agent: [prompt, completion]}
    latency_s REAL NOT NULL,
    edges TEXT NOT NULL,           -- the graph used, as CommGraph JSON
    error TEXT,
    trajectory TEXT NOT NULL,      -- the full Trajectory JSON
    created REAL NOT NULL,
    PRIMARY KEY (run_id, item_id)
);
"""


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines an evaluation run; stored with it, so a resume needs only the id."""

    task: str = field(default="", metadata={"cli": False})  # the CLI takes it as an argument
    split: str = field(default="test", metadata={"help": "Data split."})
    limit: int | None = field(default=None, metadata={"help": "Only the first N items (default: the whole split)."})
    concurrency: int = field(default=4, metadata={"help": "Queries in flight at once."})
    team: TeamConfig = field(default_factory=TeamConfig)
    engine: str = field(default="llama-cpp", metadata={"cli": False})
    model: str = field(default="smollm2-135m", metadata={"cli": False})
    base_url: str | None = field(default=None, metadata={"cli": False})
    data_dir: str | None = field(default=None, metadata={"cli": False})

    def __post_init__(self) -> None:
        require_at_least_one(self, "concurrency")
        check_limit(self.limit)

    @property
    def topology(self) -> str:
        return self.team.topology

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def settings(self) -> dict[str, Any]:
        """Every setting by name, the team's beside the run's (for reports)."""
        flat = asdict(self)
        return {**{k: v for k, v in flat.items() if k != "team"}, **flat["team"]}

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        data = json.loads(text)
        team_keys = {f.name for f in fields(TeamConfig)}
        # runs stored before the team had its own config kept its fields at the top level
        team = {**{k: data.pop(k) for k in list(data) if k in team_keys}, **data.pop("team", {})}
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known}, team=TeamConfig(**team))


@dataclass(frozen=True)
class RunRecord:
    id: str
    created: float
    config: RunConfig
    total_items: int
    status: str
    updated: float


@dataclass(frozen=True)
class ResultRow:
    item_id: str
    position: int
    answer: str
    gold: str
    extracted: str
    score: float
    prompt_tokens: int
    completion_tokens: int
    agent_tokens: dict[str, list[int]]
    latency_s: float
    edges: dict[str, Any]
    error: str | None
    trajectory: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class RunSummary:
    run: RunRecord
    scored: int
    failed: int
    accuracy: float  # mean score over scored items
    prompt_tokens_per_query: float
    completion_tokens_per_query: float
    latency_s_per_query: float
    solved: int = 0  # items with the full score (1.0): exact answers even where the score gives partial credit

    @property
    def tokens_per_query(self) -> float:
        return self.prompt_tokens_per_query + self.completion_tokens_per_query


class RunStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ------------------------------------------------------------------------------
    def create_run(self, config: RunConfig, total_items: int) -> str:
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:4]
        now = time.time()
        with self._db:
            self._db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                (run_id, now, config.task, config.split, config.topology, config.model, config.to_json(), total_items, now),
            )
        return run_id

    def set_status(self, run_id: str, status: str) -> None:
        with self._db:
            self._db.execute("UPDATE runs SET status = ?, updated = ? WHERE id = ?", (status, time.time(), run_id))

    def run(self, run_id: str) -> RunRecord:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            recent = [r.id for r in self.runs()[:5]]
            raise UnknownNameError("run", run_id, recent + (["… (agentnet runs lists all)"] if recent else []))
        return _run_record(row)

    def runs(self) -> list[RunRecord]:
        rows = self._db.execute("SELECT * FROM runs ORDER BY created DESC").fetchall()
        return [_run_record(r) for r in rows]

    # -- results ---------------------------------------------------------------------------
    def add_result(self, run_id: str, row: ResultRow) -> None:
        """Insert or replace (a resumed run re-runs items whose run had failed)."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id, row.item_id, row.position, row.answer, row.gold, row.extracted, row.score,
                    row.prompt_tokens, row.completion_tokens, json.dumps(row.agent_tokens), row.latency_s,
                    json.dumps(row.edges), row.error, json.dumps(row.trajectory), time.time(),
                ),
            )  # fmt: skip
            self._db.execute("UPDATE runs SET updated = ? WHERE id = ?", (time.time(), run_id))

    def finished_items(self, run_id: str) -> set[str]:
        """Items scored without error: a resume skips these."""
        rows = self._db.execute("SELECT item_id FROM results WHERE run_id = ? AND error IS NULL", (run_id,))
        return {r[0] for r in rows}

    def results(self, run_id: str, with_trajectories: bool = False) -> list[ResultRow]:
        rows = self._db.execute("SELECT * FROM results WHERE run_id = ? ORDER BY position", (run_id,)).fetchall()
        return [_result_row(r, with_trajectories) for r in rows]

    def summary(self, run_id: str) -> RunSummary:
        run = self.run(run_id)
        (n, failed, score, prompt, completion, latency, solved) = self._db.execute(
            "SELECT COUNT(*), SUM(error IS NOT NULL), AVG(score), AVG(prompt_tokens), AVG(completion_tokens), "
            "AVG(latency_s), SUM(score >= 1.0) FROM results WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        return RunSummary(run, n, failed or 0, score or 0.0, prompt or 0.0, completion or 0.0, latency or 0.0,
                          solved or 0)  # fmt: skip


def _run_record(row: tuple) -> RunRecord:
    run_id, created, _task, _split, _topology, _model, config, total, status, updated = row
    try:
        parsed = RunConfig.from_json(config)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"run {run_id} has a config this version cannot read ({e})") from e
    return RunRecord(run_id, created, parsed, total, status, updated)


def _result_row(row: tuple, with_trajectory: bool) -> ResultRow:
    (_run, item_id, position, answer, gold, extracted, score, prompt, completion, agent_tokens,
     latency, edges, error, trajectory, _created) = row  # fmt: skip
    return ResultRow(
        item_id, position, answer, gold, extracted, score, prompt, completion, json.loads(agent_tokens),
        latency, json.loads(edges), error, json.loads(trajectory) if with_trajectory else {},
    )  # fmt: skip
