"""The run store: evaluation runs and their per-item results in one SQLite file.

Each result is written the moment it is scored, so a killed run loses nothing; the
(run, item) primary key means a resumed run duplicates nothing. Every write is one
transaction, so a write that fails (disk full, locked, read-only) leaves the file as it was
and surfaces as one `StoreError` line naming the file and the fix.

Columns added after the first release (the call ledger: calls, cache hits, calls cut off
at max_tokens, served tokens) are added to older stores when they are opened; their old
results keep NULL there, which summaries report as unknown rather than as zero.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from agentnet.checks import check_fields
from agentnet.configfile import config_from_data
from agentnet.configs import TeamConfig, check_limit
from agentnet.errors import ConfigError, StoreError, UnknownNameError, require_at_least_one
from agentnet.store_file import (
    BASE_COLUMNS,
    LEDGER_COLUMNS,
    SCHEMA,
    check_values,
    explain,
    migrate,
    open_read_only,
    writable,
)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines an evaluation run; stored with it, so a resume needs only the id."""

    task: str = field(default="", metadata={"cli": False})  # the CLI takes it as an argument
    split: str = field(default="test", metadata={"help": "Data split."})
    limit: int | None = field(default=None, metadata={"help": "Only the first N items (default: the whole split)."})
    offset: int = field(
        default=0, metadata={"help": "Skip the split's first N items (with --limit: items N to N+limit-1)."}
    )
    concurrency: int = field(default=4, metadata={"help": "Queries in flight at once."})
    team: TeamConfig = field(default_factory=TeamConfig)
    engine: str = field(default="llama-cpp", metadata={"cli": False})
    model: str = field(default="smollm2-135m", metadata={"cli": False})
    base_url: str | None = field(default=None, metadata={"cli": False})
    data_dir: str | None = field(default=None, metadata={"cli": False})
    # the response cache the run was made with (a resume without --cache uses it again)
    cache: str | None = field(default=None, metadata={"cli": False})
    cache_mode: str = field(default="deterministic", metadata={"cli": False})

    def __post_init__(self) -> None:
        check_fields(self)
        require_at_least_one(self, "concurrency")
        check_limit(self.limit)
        check_limit(self.offset, "offset")

    @property
    def topology(self) -> str:
        return self.team.topology

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def settings(self) -> dict[str, object]:
        """Every setting by name, the team's beside the run's (for reports)."""
        flat = asdict(self)
        return {**{k: v for k, v in flat.items() if k != "team"}, **flat["team"]}

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        data = json.loads(text)
        team_keys = {f.name for f in fields(TeamConfig)} - {"team"}  # "team" is the nested config itself
        # runs stored before the team had its own config kept its fields at the top level
        team = {**{k: data.pop(k) for k in list(data) if k in team_keys}, **data.pop("team", {})}
        # settings another version added or dropped are ignored; runs stored before adversaries have no attack
        return config_from_data(cls, {**data, "team": team}, "the stored run config", strict=False)


@dataclass(frozen=True)
class RunRecord:
    id: str
    created: float
    config: RunConfig
    total_items: int
    status: str
    updated: float
    reason: str | None = None  # why a failed or interrupted run stopped (one line)


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
    # the call ledger; None: not recorded (results written before it existed)
    calls: int | None = None
    cached_calls: int | None = None
    cut_off_calls: int | None = None
    unknown_finish_calls: int | None = None
    served_prompt_tokens: int | None = None
    served_completion_tokens: int | None = None
    cost: float | None = None
    replica_calls: dict[str, int] | None = None  # {replica URL: calls}, when a model had several


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
    # the call ledger, over the `accounted` results that recorded it (0 for older stores)
    accounted: int = 0
    calls: int = 0
    cached_calls: int = 0
    cut_off_calls: int = 0
    unknown_finish_calls: int = 0
    served_tokens_per_query: float | None = None  # tokens servers answered (spent minus cache hits)
    cost_per_query: float | None = None  # at each model's price; None when no result recorded it
    replica_calls: dict[str, int] = field(default_factory=dict)  # calls each replica answered (models with several)

    @property
    def tokens_per_query(self) -> float:
        """Tokens spent per query, cache hits included: what the team costs."""
        return self.prompt_tokens_per_query + self.completion_tokens_per_query

    @property
    def hit_rate(self) -> float | None:
        """The share of calls the response cache answered; None when not recorded."""
        return self.cached_calls / self.calls if self.calls else None

    @property
    def calls_per_query(self) -> float | None:
        """LLM calls per query over the results that recorded them; None when none did."""
        return self.calls / self.accounted if self.accounted else None

    @property
    def cut_off_share(self) -> float | None:
        """The share of calls (with a known finish reason) cut off at max_tokens; None when unknown."""
        known = self.calls - self.unknown_finish_calls
        return self.cut_off_calls / known if known > 0 else None


class RunStore:
    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(
                f"run store {self.path}: cannot create its directory ({e.strerror}); "
                "pass --store PATH in a writable directory"
            ) from e
        with self._guard("opening it"):
            if self.path.exists() and not writable(self.path):
                self._db = open_read_only(self.path)  # reports still work; writes raise StoreError
                self._columns = {r[1] for r in self._db.execute("PRAGMA table_info(results)")}
                return
            self._db = sqlite3.connect(self.path, timeout=busy_timeout_s)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
            self._columns = migrate(self._db)

    @classmethod
    def existing(cls, path: str | Path) -> RunStore:
        """A store that `agentnet bench` wrote (for reading commands): a missing file, or an SQLite
        file without agentnet's tables, is an error — its schema is not added to someone else's file."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"no run store at {path}; run `agentnet bench` first or pass --store")
        try:
            with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as e:
            raise StoreError(explain(path, "opening it", e)) from e
        if not {"runs", "results"} <= tables:
            raise ConfigError(
                f"{path} is not an agentnet run store (no runs and results tables); "
                "pass the --store that `agentnet bench` wrote"
            )
        return cls(path)

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """sqlite3's failures as one StoreError line; `with self._db` has already rolled back."""
        try:
            yield
        except (sqlite3.ProgrammingError, sqlite3.IntegrityError):
            raise  # a bug here, not a problem with the file
        except sqlite3.DatabaseError as e:
            raise StoreError(explain(self.path, doing, e)) from e

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
        with self._guard("creating a run"), self._db:
            self._db.execute(
                "INSERT INTO runs (id, created, task, split, topology, model, config, total_items, status, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                (
                    run_id,
                    now,
                    config.task,
                    config.split,
                    config.topology,
                    config.model,
                    config.to_json(),
                    total_items,
                    now,
                ),
            )
        return run_id

    def set_status(self, run_id: str, status: str, reason: str | None = None) -> None:
        """Mark the run; `reason` (one line) says why a failed or interrupted run stopped."""
        with self._guard(f"marking run {run_id} {status}"), self._db:
            self._db.execute("UPDATE runs SET status = ?, updated = ? WHERE id = ?", (status, time.time(), run_id))
            if self._has_reason():
                self._db.execute("UPDATE runs SET reason = ? WHERE id = ?", (reason, run_id))

    def _has_reason(self) -> bool:
        return any(r[1] == "reason" for r in self._db.execute("PRAGMA table_info(runs)"))

    def run(self, run_id: str) -> RunRecord:
        with self._guard("reading runs"):
            row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            recent = [r.id for r in self.runs()[:5]]
            raise UnknownNameError("run", run_id, recent + (["… (agentnet runs lists all)"] if recent else []))
        return _run_record(row)

    def runs(self) -> list[RunRecord]:
        with self._guard("reading runs"):
            rows = self._db.execute("SELECT * FROM runs ORDER BY created DESC").fetchall()
        return [_run_record(r) for r in rows]

    # -- results ---------------------------------------------------------------------------
    def add_result(self, run_id: str, row: ResultRow, *, grow: bool = False) -> None:
        """Insert or replace (a resumed run re-runs items whose run had failed); `grow`: the run has
        no fixed item list (a served team's), so the result adds one to its total."""
        values = {
            "run_id": run_id,
            "item_id": row.item_id,
            "position": row.position,
            "answer": row.answer,
            "gold": row.gold,
            "extracted": row.extracted,
            "score": row.score,
            "prompt_tokens": row.prompt_tokens,
            "completion_tokens": row.completion_tokens,
            "agent_tokens": json.dumps(row.agent_tokens),
            "latency_s": row.latency_s,
            "edges": json.dumps(row.edges),
            "error": row.error,
            "trajectory": json.dumps(row.trajectory),
            "created": time.time(),
            **{c: getattr(row, c) for c in LEDGER_COLUMNS},
            "replica_calls": json.dumps(row.replica_calls) if row.replica_calls else None,
        }
        check_values(self.path, row.item_id, values)
        names = ", ".join(values)
        marks = ", ".join("?" * len(values))
        with self._guard(f"storing item {row.item_id} of run {run_id}"), self._db:
            self._db.execute(f"INSERT OR REPLACE INTO results ({names}) VALUES ({marks})", tuple(values.values()))
            self._db.execute(
                "UPDATE runs SET updated = ?, total_items = total_items + ? WHERE id = ?",
                (time.time(), int(grow), run_id),
            )

    def finished_items(self, run_id: str) -> set[str]:
        """Items scored without error: a resume skips these."""
        with self._guard("reading results"):
            rows = self._db.execute("SELECT item_id FROM results WHERE run_id = ? AND error IS NULL", (run_id,))
            return {r[0] for r in rows}

    def results(self, run_id: str, with_trajectories: bool = False) -> list[ResultRow]:
        columns = ", ".join(BASE_COLUMNS + tuple(self._column(c) for c in LEDGER_COLUMNS))
        with self._guard("reading results"):
            rows = self._db.execute(
                f"SELECT {columns} FROM results WHERE run_id = ? ORDER BY position", (run_id,)
            ).fetchall()
        return [_result_row(r, with_trajectories) for r in rows]

    def summary(self, run_id: str) -> RunSummary:
        run = self.run(run_id)
        c = self._column
        with self._guard("reading results"):
            (
                n,
                failed,
                score,
                prompt,
                completion,
                latency,
                solved,
                accounted,
                calls,
                cached,
                cut_off,
                unknown,
                served,
                cost,
            ) = self._db.execute(
                "SELECT COUNT(*), SUM(error IS NOT NULL), AVG(score), AVG(prompt_tokens), AVG(completion_tokens), "
                f"AVG(latency_s), SUM(score >= 1.0), COUNT({c('calls')}), SUM({c('calls')}), "
                f"SUM({c('cached_calls')}), SUM({c('cut_off_calls')}), SUM({c('unknown_finish_calls')}), "
                f"AVG({c('served_prompt_tokens')} + {c('served_completion_tokens')}), AVG({c('cost')}) "
                "FROM results WHERE run_id = ?",
                (run_id,),
            ).fetchone()
            replicas: Counter[str] = Counter()
            if "replica_calls" in self._columns:
                for (counts,) in self._db.execute(
                    "SELECT replica_calls FROM results WHERE run_id = ? AND replica_calls IS NOT NULL", (run_id,)
                ):
                    replicas.update(json.loads(counts))
        return RunSummary(
            run,
            n,
            failed or 0,
            score or 0.0,
            prompt or 0.0,
            completion or 0.0,
            latency or 0.0,
            solved or 0,
            accounted,
            calls or 0,
            cached or 0,
            cut_off or 0,
            unknown or 0,
            served,
            cost,
            dict(replicas.most_common()),
        )

    def _column(self, name: str) -> str:
        """The column, or NULL in a read-only older store that could not gain it."""
        return name if name in self._columns else "NULL"


def _run_record(row: tuple) -> RunRecord:
    run_id, created, _task, _split, _topology, _model, config, total, status, updated = row[:10]
    reason = row[10] if len(row) > 10 else None  # stores before the reason column have none
    try:
        parsed = RunConfig.from_json(config)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"run {run_id} has a config this version cannot read ({e})") from e
    return RunRecord(run_id, created, parsed, total, status, updated, reason)


def _result_row(row: tuple, with_trajectory: bool) -> ResultRow:
    (
        _run,
        item_id,
        position,
        answer,
        gold,
        extracted,
        score,
        prompt,
        completion,
        agent_tokens,
        latency,
        edges,
        error,
        trajectory,
        _created,
    ) = row[: len(BASE_COLUMNS)]
    ledger: dict[str, Any] = dict(zip(LEDGER_COLUMNS, row[len(BASE_COLUMNS) :], strict=True))
    ledger["replica_calls"] = json.loads(ledger["replica_calls"]) if ledger["replica_calls"] else None
    return ResultRow(
        item_id,
        position,
        answer,
        gold,
        extracted,
        score,
        prompt,
        completion,
        json.loads(agent_tokens),
        latency,
        json.loads(edges),
        error,
        json.loads(trajectory) if with_trajectory else {},
        **ledger,
    )
