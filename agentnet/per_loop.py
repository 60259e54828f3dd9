"""Objects bound to the running event loop: one per loop, made on first use.

asyncio primitives and HTTP connection pools belong to the loop that first used them, so a
backend or cache shared by several `asyncio.run` calls keeps one of each per loop.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from agentnet.errors import ConfigError

T = TypeVar("T")


class PerLoop:
    """One object per running event loop.

    asyncio primitives and HTTP connection pools are bound to the loop that first used
    them; a backend shared by several `asyncio.run` calls needs one of each per loop.
    """

    def __init__(self, factory: Callable[[], T]):
        self._factory = factory
        self._items: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def get(self) -> Any:
        loop = asyncio.get_running_loop()
        item = self._items.get(loop)
        if item is None:
            item = self._items[loop] = self._factory()
        return item

    def pop_current(self) -> Any | None:
        return self._items.pop(asyncio.get_running_loop(), None)


def concurrency_limit(max_concurrency: int | None) -> PerLoop:
    """A per-loop semaphore (or a no-op context when unlimited)."""
    if max_concurrency is not None and max_concurrency < 1:
        raise ConfigError(f"max_concurrency={max_concurrency} must be at least 1 (or None)")
    if max_concurrency is None:
        return PerLoop(_Unlimited)
    return PerLoop(lambda: asyncio.Semaphore(max_concurrency))


class _Unlimited:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None
