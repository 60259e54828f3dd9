"""The run store's SQLite file: its schema, the columns added after the first release (and how an
older file gains them), opening a file that cannot be written, and sqlite's failures as one line
naming the file and the fix. `agentnet.store` is the store itself."""

from __future__ import annotations

import math
import os
import sqlite3
from pathlib import Path
from typing import Any

from agentnet.checks import INT64_MAX, INT64_MIN, show
from agentnet.errors import StoreError

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
    "calls",  # LLM calls the item took
    "cached_calls",  # of them, answered from the response cache
    "cut_off_calls",  # of them, stopped at max_tokens (finish reason "length")
    "unknown_finish_calls",  # of them, with no finish reason recorded
    "served_prompt_tokens",  # tokens of the calls a server answered (not the cache)
    "served_completion_tokens",
    "cost",  # every call's tokens at its model's price (per 1,000 tokens)
    "replica_calls",  # {replica URL: calls it answered}, JSON; NULL when no model had replicas
)
REAL_COLUMNS = {"cost"}
TEXT_COLUMNS = {"replica_calls"}
BASE_COLUMNS = (
    "run_id",
    "item_id",
    "position",
    "answer",
    "gold",
    "extracted",
    "score",
    "prompt_tokens",
    "completion_tokens",
    "agent_tokens",
    "latency_s",
    "edges",
    "error",
    "trajectory",
    "created",
)


def migrate(db: sqlite3.Connection) -> set[str]:
    """Add the ledger columns an older store lacks; a read-only store is read as it is."""
    have = {r[1] for r in db.execute("PRAGMA table_info(results)")}
    missing = [c for c in LEDGER_COLUMNS if c not in have]
    have_runs = {r[1] for r in db.execute("PRAGMA table_info(runs)")}
    for column in (c for c in RUN_COLUMNS if c not in have_runs):
        try:
            with db:
                db.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT")
        except sqlite3.OperationalError:
            pass  # read-only: runs read without a reason
    if missing:
        try:
            with db:
                for column in missing:
                    kind = "REAL" if column in REAL_COLUMNS else "TEXT" if column in TEXT_COLUMNS else "INTEGER"
                    db.execute(f"ALTER TABLE results ADD COLUMN {column} {kind}")
            have.update(missing)
        except sqlite3.OperationalError:
            pass  # cannot write (read-only, locked): reports treat the ledger as unknown; writes raise
    return have


def check_values(path: Path, item_id: str, values: dict[str, Any]) -> None:
    """A last line before SQLite: an integer past 64 bits raises OverflowError there and a NaN becomes
    NULL (a NOT NULL failure); either is one StoreError naming the column, and nothing is written.
    (Servers' counts are checked where their replies are read; this catches any other producer.)"""
    for column, value in values.items():
        bad = (isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX) or (
            isinstance(value, float) and not math.isfinite(value)
        )
        if bad:
            raise StoreError(
                f"run store {path}: item {item_id} has {column}={show(value)}, which the store cannot "
                "hold (64-bit integers, finite numbers); it was not stored"
            )


def writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)  # WAL writes files beside it


def open_read_only(path: Path) -> sqlite3.Connection:
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


def explain(path: Path, doing: str, error: sqlite3.DatabaseError) -> str:
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
