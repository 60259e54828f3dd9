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
import math
import os
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from agentnet.checks import INT64_MAX, INT64_MIN, check_fields, show
from agentnet.configfile import config_from_data
from agentnet.configs import TeamConfig, check_limit
from agentnet.errors import ConfigError, StoreError, UnknownNameError, require_at_least_one

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
    status TEXT NOT NULL,          -- running | finished | interrupted | failed
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
# Why a run stopped (failed or interrupted), added later: NULL in older stores and for finished runs.
RUN_COLUMNS = ("reason",)
# The call ledger, added later (ALTER TABLE on older stores; NULL there means "not recorded").
LEDGER_COLUMNS = (
    "calls",                     # LLM calls the item took
    "cached_calls",              # of them, answered from the response cache
    "cut_off_calls",             # of them, stopped at max_tokens (finish reason "length")
    "unknown_finish_calls",      # of them, with no finish reason recorded
    "served_prompt_tokens",      # tokens of the calls a server answered (not the cache)
    "served_completion_tokens",
    "cost",                      # every call's tokens at its model's price (per 1,000 tokens)
    "replica_calls",             # {replica URL: calls it answered}, JSON; NULL when no model had replicas
)  # fmt: skip
REAL_COLUMNS = {"cost"}
TEXT_COLUMNS = {"replica_calls"}
BASE_COLUMNS = (
    "run_id", "item_id", "position", "answer", "gold", "extracted", "score", "prompt_tokens",
    "completion_tokens", "agent_tokens", "latency_s", "edges", "error", "trajectory", "created",
)  # fmt: skip


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines an evaluation run; stored with it, so a resume needs only the id."""

    task: str = field(default="", metadata={"cli": False})  # the CLI takes it as an argument
    split: str = field(default="test", metadata={"help": "Data split."})
    limit: int | None = field(default=None, metadata={"help": "Only the first N items (default: the whole split)."})
    offset: int = field(default=0, metadata={"help": "Skip the split's first N items (with --limit: items N to N+limit-1)."})
    concurrency: int = field(default=4, metadata={"help": "Queries in flight at once."})
    team: TeamConfig = field(default_factory=TeamConfig)
    engine: str = field(default="llama-cpp", metadata={"cli": False})
    model: str = field(default="smollm2-135m", metadata={"cli": False})
    base_url: str | None = field(default=None, metadata={"cli": False})
    data_dir: str | None = field(default=None, metadata={"cli": False})

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

    def settings(self) -> dict[str, Any]:
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
            raise StoreError(f"run store {self.path}: cannot create its directory ({e.strerror}); "
                             "pass --store PATH in a writable directory") from e  # fmt: skip
        with self._guard("opening it"):
            if self.path.exists() and not _writable(self.path):
                self._db = _open_read_only(self.path)  # reports still work; writes raise StoreError
                self._columns = {r[1] for r in self._db.execute("PRAGMA table_info(results)")}
                return
            self._db = sqlite3.connect(self.path, timeout=busy_timeout_s)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
            self._columns = self._migrate()

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
            raise StoreError(_explain(path, "opening it", e)) from e
        if not {"runs", "results"} <= tables:
            raise ConfigError(f"{path} is not an agentnet run store (no runs and results tables); "
                              "pass the --store that `agentnet bench` wrote")  # fmt: skip
        return cls(path)

    def _migrate(self) -> set[str]:
        """Add the ledger columns an older store lacks; a read-only store is read as it is."""
        have = {r[1] for r in self._db.execute("PRAGMA table_info(results)")}
        missing = [c for c in LEDGER_COLUMNS if c not in have]
        have_runs = {r[1] for r in self._db.execute("PRAGMA table_info(runs)")}
        for column in (c for c in RUN_COLUMNS if c not in have_runs):
            try:
                with self._db:
                    self._db.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT")
            except sqlite3.OperationalError:
                pass  # read-only: runs read without a reason
        if missing:
            try:
                with self._db:
                    for column in missing:
                        kind = "REAL" if column in REAL_COLUMNS else "TEXT" if column in TEXT_COLUMNS else "INTEGER"
                        self._db.execute(f"ALTER TABLE results ADD COLUMN {column} {kind}")
                have.update(missing)
            except sqlite3.OperationalError:
                pass  # cannot write (read-only, locked): reports treat the ledger as unknown; writes raise
        return have

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """sqlite3's failures as one StoreError line; `with self._db` has already rolled back."""
        try:
            yield
        except (sqlite3.ProgrammingError, sqlite3.IntegrityError):
            raise  # a bug here, not a problem with the file
        except sqlite3.DatabaseError as e:
            raise StoreError(_explain(self.path, doing, e)) from e

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
                (run_id, now, config.task, config.split, config.topology, config.model, config.to_json(), total_items, now),
            )  # fmt: skip
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
            "run_id": run_id, "item_id": row.item_id, "position": row.position, "answer": row.answer,
            "gold": row.gold, "extracted": row.extracted, "score": row.score, "prompt_tokens": row.prompt_tokens,
            "completion_tokens": row.completion_tokens, "agent_tokens": json.dumps(row.agent_tokens),
            "latency_s": row.latency_s, "edges": json.dumps(row.edges), "error": row.error,
            "trajectory": json.dumps(row.trajectory), "created": time.time(),
            **{c: getattr(row, c) for c in LEDGER_COLUMNS},
            "replica_calls": json.dumps(row.replica_calls) if row.replica_calls else None,
        }  # fmt: skip
        _check_values(self.path, row.item_id, values)
        names = ", ".join(values)
        marks = ", ".join("?" * len(values))
        with self._guard(f"storing item {row.item_id} of run {run_id}"), self._db:
            self._db.execute(f"INSERT OR REPLACE INTO results ({names}) VALUES ({marks})", tuple(values.values()))
            self._db.execute("UPDATE runs SET updated = ?, total_items = total_items + ? WHERE id = ?",
                             (time.time(), int(grow), run_id))  # fmt: skip

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
            (n, failed, score, prompt, completion, latency, solved, accounted, calls, cached, cut_off, unknown,
             served, cost) = self._db.execute(
                "SELECT COUNT(*), SUM(error IS NOT NULL), AVG(score), AVG(prompt_tokens), AVG(completion_tokens), "
                f"AVG(latency_s), SUM(score >= 1.0), COUNT({c('calls')}), SUM({c('calls')}), "
                f"SUM({c('cached_calls')}), SUM({c('cut_off_calls')}), SUM({c('unknown_finish_calls')}), "
                f"AVG({c('served_prompt_tokens')} + {c('served_completion_tokens')}), AVG({c('cost')}) "
                "FROM results WHERE run_id = ?",
                (run_id,),
            ).fetchone()  # fmt: skip
            replicas: Counter[str] = Counter()
            if "replica_calls" in self._columns:
                for (counts,) in self._db.execute(
                    "SELECT replica_calls FROM results WHERE run_id = ? AND replica_calls IS NOT NULL", (run_id,)
                ):
                    replicas.update(json.loads(counts))
        return RunSummary(run, n, failed or 0, score or 0.0, prompt or 0.0, completion or 0.0, latency or 0.0,
                          solved or 0, accounted, calls or 0, cached or 0, cut_off or 0, unknown or 0,
                          served, cost, dict(replicas.most_common()))  # fmt: skip

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
    (_run, item_id, position, answer, gold, extracted, score, prompt, completion, agent_tokens,
     latency, edges, error, trajectory, _created) = row[: len(BASE_COLUMNS)]  # fmt: skip
    ledger: dict[str, Any] = dict(zip(LEDGER_COLUMNS, row[len(BASE_COLUMNS):], strict=True))
    ledger["replica_calls"] = json.loads(ledger["replica_calls"]) if ledger["replica_calls"] else None
    return ResultRow(
        item_id, position, answer, gold, extracted, score, prompt, completion, json.loads(agent_tokens),
        latency, json.loads(edges), error, json.loads(trajectory) if with_trajectory else {}, **ledger,
    )  # fmt: skip


def _check_values(path: Path, item_id: str, values: dict[str, Any]) -> None:
    """A last line before SQLite: an integer past 64 bits raises OverflowError there and a NaN becomes
    NULL (a NOT NULL failure); either is one StoreError naming the column, and nothing is written.
    (Servers' counts are checked where their replies are read; this catches any other producer.)"""
    for column, value in values.items():
        bad = (isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX) or (
            isinstance(value, float) and not math.isfinite(value))  # fmt: skip
        if bad:
            raise StoreError(f"run store {path}: item {item_id} has {column}={show(value)}, which the store cannot "
                             "hold (64-bit integers, finite numbers); it was not stored")  # fmt: skip


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)  # WAL writes files beside it


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A store on a read-only file or filesystem. WAL mode needs its -shm file; where that cannot
    be created, `immutable` reads the file as it is (nothing can write it anyway)."""
    uri = path.resolve().as_uri()
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True)
    try:
        db.execute("SELECT COUNT(*) FROM runs").fetchone()
        return db
    except sqlite3.OperationalError:
        db.close()
        return sqlite3.connect(f"{uri}?immutable=1", uri=True)


def _explain(path: Path, doing: str, error: sqlite3.DatabaseError) -> str:
    """One line: what went wrong with which file, and what to do about it."""
    text = str(error)
    low = text.lower()
    if "full" in low:
        why, fix = "the disk is full", "free space there or pass --store PATH on another disk"
    elif "locked" in low or "busy" in low:
        why, fix = "another process holds it locked", "wait for that process (another bench?) or pass another --store"
    elif "readonly" in low or "read-only" in low:
        why, fix = "it is read-only", "make the file and its directory writable or pass --store PATH elsewhere"
    elif "unable to open" in low:
        why, fix = "it cannot be opened", "check that its directory exists and is writable, or pass another --store"
    elif "not a database" in low or "malformed" in low:
        why, fix = "it is not an agentnet run store (or is damaged)", "pass the right --store or a new path"
    else:
        why, fix = text, "pass another --store"
    return f"run store {path}: {why} while {doing} ({text}); {fix}"
