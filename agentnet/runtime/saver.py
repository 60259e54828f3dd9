"""The checkpointer a `Team` opens on an SQLite path: LangGraph's `SqliteSaver`, its async API
answered on the event loop's own thread.

`AsyncSqliteSaver` hands every statement to aiosqlite's worker thread and waits for it to come
back; a 4-agent, 2-round query makes ~90 such trips (a checkpoint per step, the writes of each
task, their commits), and on a busy 2-core machine the trips cost more than the statements: a
checkpointed query took 3.6x an unchecked one that way, 2.1x this way (benchmarks/graph_memory.py).
A statement here is an SQLite write in WAL mode without an fsync, tens of microseconds, so the
loop is not held up for long. The file is the same as `AsyncSqliteSaver`'s: either reads it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.sqlite import SqliteSaver


class LoopSqliteSaver(SqliteSaver):
    """`SqliteSaver` whose async methods run its sync ones in place (no worker thread)."""

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        for found in self.list(config, filter=filter, before=before, limit=limit):
            yield found

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return self.get_delta_channel_history(config=config, channels=channels)


@contextmanager
def open_sqlite(path: Path) -> Iterator[LoopSqliteSaver]:
    """An SQLite checkpointer on `path` (created with its folder if missing), closed on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)  # the saver locks around each use
    try:
        saver = LoopSqliteSaver(conn)
        saver.setup()  # WAL, the tables
        # no fsync per commit: a committed step survives the process being killed, which is
        # what resume is for; a power cut may lose the last steps (WAL keeps the file whole)
        conn.execute("PRAGMA synchronous=NORMAL")
        yield saver
    finally:
        conn.close()
