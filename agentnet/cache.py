"""A response cache: an `LLMBackend` wrapper that answers a repeated identical call from SQLite.

Re-running a benchmark row, resuming a run or training a topology repeats many calls with the
same model, messages and settings; at temperature 0 the answer is the same, so the machine
need not pay for it twice. A hit keeps the original `usage`, so the tokens a team *spent* stay
what the topology costs; `extra["cached"]` marks it, so the tokens actually *served* can be
told apart (see `Trajectory.served_usage`).

The file is shared safely: SQLite in WAL mode (readers never block the writer) with a busy
timeout across processes, and one connection per wrapper used from worker threads under a
lock, so the event loop never waits on the disk. Identical calls in flight at the same time
(parallel agents with one role often send the same first prompt) share one server request.
Errors are never cached; a cache that can no longer be written only logs a warning, since a
call that was answered must not fail because its copy could not be kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast, get_args

from agentnet.errors import ConfigError
from agentnet.llm import DeltaCallback, LLMBackend
from agentnet.per_loop import PerLoop
from agentnet.types import Completion, GenerationSettings, ListsModels, Message, Usage

log = logging.getLogger(__name__)

CacheMode = Literal["deterministic", "all"]
CACHE_MODES: tuple[str, ...] = get_args(CacheMode)
KEY_VERSION = 1  # bump when the key's document changes: old entries then simply miss

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,      -- sha256 of (model, messages, settings): see cache_key
    model TEXT NOT NULL,
    completion TEXT NOT NULL,  -- the Completion as JSON
    created REAL NOT NULL
);
"""


@dataclass(frozen=True)
class CacheConfig:
    """The response cache of a run; `path=None` turns it off."""

    path: Path | None = field(
        default=None,
        metadata={
            "help": "SQLite file of a response cache (its directory must exist): identical calls are "
            "answered from it instead of the server. Off when unset.",
            "flags": ("--cache",),
        },
    )
    mode: CacheMode = field(
        default="deterministic",
        metadata={
            "help": "Calls the cache answers: deterministic (temperature 0 only) or all "
            "(sampled calls too: a repeated sampled call returns the same sample).",
            "flags": ("--cache-mode",),
        },
    )

    def __post_init__(self) -> None:
        _check_mode(self.mode)
        if self.path is not None:
            check_path(Path(self.path))  # before a command creates anything

    def wrap(self, backend: LLMBackend, *, namespace: str = "") -> LLMBackend:
        """`backend` itself when the cache is off, else a `CachedBackend` around it."""
        if self.path is None:
            return backend
        return CachedBackend(backend, self.path, mode=self.mode, namespace=namespace)


def cache_key(namespace: str, model: str, messages: Sequence[Message], settings: GenerationSettings) -> str:
    """The hash of everything that decides an answer: the model, the messages and every setting."""
    doc = {
        "v": KEY_VERSION,
        "namespace": namespace,
        "model": model,
        "messages": [m.to_dict() for m in messages],
        "settings": {**asdict(settings), "model": model},  # None (the default model) and its name agree
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class CachedBackend:
    """An `LLMBackend` that answers from an SQLite cache and asks `inner` only on a miss.

    `mode="deterministic"` caches temperature-0 calls only; `"all"` caches sampled calls too.
    `namespace` separates entries that share a model name but not its outputs (e.g. two
    engines). `hits` and `misses` count this wrapper's cacheable calls.
    """

    def __init__(
        self,
        inner: LLMBackend,
        path: str | Path,
        mode: CacheMode = "deterministic",
        *,
        namespace: str = "",
        busy_timeout_s: float = 30.0,
    ):
        _check_mode(mode)
        self.inner, self.path, self.mode, self.namespace = inner, Path(path), mode, namespace
        self.name = inner.name
        self._db = _open(self.path, busy_timeout_s)
        self._lock = threading.Lock()  # one connection, used from worker threads one at a time
        self._in_flight = PerLoop(dict)  # key -> Future of the leader's Completion (None: it failed)
        self.hits = self.misses = self.write_errors = 0

    def __repr__(self) -> str:
        return f"CachedBackend({self.inner!r}, {str(self.path)!r}, mode={self.mode!r})"

    @property
    def model(self) -> str | None:
        return getattr(self.inner, "model", None)

    @property
    def max_concurrency(self) -> int | None:
        return getattr(self.inner, "max_concurrency", None)

    @property
    def hit_rate(self) -> float | None:
        total = self.hits + self.misses
        return self.hits / total if total else None

    async def list_models(self) -> list[str]:
        return await cast(ListsModels, self.inner).list_models()  # the wrappers pass the question on

    async def aclose(self) -> None:
        closer = getattr(self.inner, "aclose", None)
        if closer is not None:
            await closer()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def caches(self, settings: GenerationSettings) -> bool:
        return self.mode == "all" or settings.temperature == 0.0

    async def complete(
        self,
        messages: Sequence[Message],
        settings: GenerationSettings,
        *,
        on_delta: DeltaCallback | None = None,
        on_retract: Callable[[], None] | None = None,
    ) -> Completion:
        # a miss is the inner backend's call: its retries withdraw their partial text themselves
        retract: dict[str, Any] = {"on_retract": on_retract} if on_retract is not None else {}
        if not self.caches(settings):
            return await self.inner.complete(messages, settings, on_delta=on_delta, **retract)
        model = settings.model or self.model
        if model is None:  # the inner backend learns its default model on its first call
            completion = await self.inner.complete(messages, settings, on_delta=on_delta, **retract)
            self.misses += 1
            await self._store(cache_key(self.namespace, completion.model, messages, settings), completion)
            return completion
        started = time.perf_counter()
        key = cache_key(self.namespace, model, messages, settings)
        in_flight: dict[str, asyncio.Future[Completion | None]] = self._in_flight.get()
        leader = in_flight.get(key)
        if leader is not None:  # an identical call is on its way: wait for its answer
            shared = await asyncio.shield(leader)  # shield: a cancelled follower must not cancel it
            if shared is not None:
                return self._hit(shared, started, on_delta)
            return await self._miss(key, messages, settings, on_delta, retract)  # it failed: errors are not shared
        future: asyncio.Future[Completion | None] = asyncio.get_running_loop().create_future()
        in_flight[key] = future
        try:
            stored = await self._lookup(key)
            if stored is not None:
                future.set_result(stored)
                return self._hit(stored, started, on_delta)
            answer = await self._miss(key, messages, settings, on_delta, retract)
            future.set_result(answer)
            return answer
        finally:
            if not future.done():
                future.set_result(None)
            del in_flight[key]

    def _hit(self, stored: Completion, started: float, on_delta: DeltaCallback | None) -> Completion:
        self.hits += 1
        if on_delta is not None and stored.text:
            on_delta(stored.text)
        extra = {**stored.extra, "cached": True, "cached_latency_s": stored.latency_s}
        # no request was sent: 0 attempts, and the latency is the lookup's
        return replace(stored, latency_s=time.perf_counter() - started, attempts=0, extra=extra)

    async def _miss(
        self,
        key: str,
        messages: Sequence[Message],
        settings: GenerationSettings,
        on_delta: DeltaCallback | None,
        retract: dict[str, Any],
    ) -> Completion:
        completion = await self.inner.complete(messages, settings, on_delta=on_delta, **retract)
        self.misses += 1
        await self._store(key, completion)
        return completion

    # -- the file ---------------------------------------------------------------------------
    async def _lookup(self, key: str) -> Completion | None:
        try:
            row = await asyncio.to_thread(self._read, key)
        except sqlite3.Error as e:  # e.g. locked past the busy timeout: ask the server instead
            log.warning("response cache %s unreadable, asking the server (%s)", self.path, e)
            return None
        return _completion(json.loads(row[0])) if row else None

    async def _store(self, key: str, completion: Completion) -> None:
        if completion.finish_reason == "error":
            return
        data = json.dumps(completion.to_dict(), default=str)
        try:
            await asyncio.to_thread(self._write, key, completion.model, data)
        except sqlite3.Error as e:  # e.g. disk full: the answer stands, only its copy is lost
            self.write_errors += 1
            log.warning("response cache %s not written (%s); free space or pass another cache path", self.path, e)

    def _read(self, key: str) -> tuple[str] | None:
        with self._lock:
            query = "SELECT completion FROM responses WHERE key = ?"
            row: tuple[str] | None = self._db.execute(query, (key,)).fetchone()
            return row

    def _write(self, key: str, model: str, data: str) -> None:
        with self._lock, self._db:  # first writer wins: concurrent processes stored the same answer
            self._db.execute("INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?)", (key, model, data, time.time()))


def _check_mode(mode: str) -> None:
    if mode not in CACHE_MODES:
        raise ConfigError(f"cache mode {mode!r} unknown; use one of {', '.join(CACHE_MODES)}")


_FIX = "pass a --cache path in a writable directory"


def check_path(path: Path) -> None:
    """A ConfigError when `path` cannot be a cache file (checked without creating anything)."""
    parent = path.parent
    if not parent.is_dir():
        raise ConfigError(f"cache path {path}: directory {parent} does not exist; mkdir -p {parent} or {_FIX}")
    if path.is_dir():
        raise ConfigError(f"cache path {path} is a directory; name a file in it, e.g. {path / 'cache.sqlite'}")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"cache path {path} is read-only (the file or its directory {parent}); {_FIX}")


def _open(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    """Open (creating if needed) the cache file, or one ConfigError saying why it cannot be used."""
    fix = _FIX
    check_path(path)
    db = None
    try:
        db = sqlite3.connect(path, timeout=busy_timeout_s, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        db.execute("BEGIN IMMEDIATE")  # proves a write is possible now, not at the first miss
        db.rollback()
    except sqlite3.Error as e:
        if db is not None:
            db.close()
        raise ConfigError(f"cache path {path} cannot hold a response cache ({e}); {fix}") from e
    return db


def _completion(d: dict[str, Any]) -> Completion:
    return Completion(**{**d, "usage": Usage(**d["usage"])})
