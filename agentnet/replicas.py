"""Replicas: one model served by several OpenAI-compatible servers (e.g. vLLM on several GPU hosts).

`ReplicaBackend` is an `LLMBackend` over one backend per replica. Each call goes to the replica
with the fewest requests in flight (ties: the one picked longest ago). A call that fails on
the replica's side (no connection, a cut stream, a timeout, 5xx, 429) is asked of another
replica, each replica at most once per call; the failed replica is health-checked (a TCP
connect) and, when it does not answer, taken out for `cooldown_s`. A request the server
rejected (400, 401, 404 …) would fail anywhere and is raised at once. Each `Completion` names
the replica that answered in `extra["replica"]` (its base URL).

This is the whole of agentnet's routing: the servers do the distributed serving (vLLM's
tensor parallelism inside a replica); the client only chooses where each call goes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from agentnet.errors import BackendError, ConfigError
from agentnet.llm import DeltaCallback, LLMBackend, RetractCallback
from agentnet.serving.process import unreachable  # a TCP connect: the health check a failed replica gets
from agentnet.types import Completion, GenerationSettings, ListsModels, Message

HealthCheck = Callable[[str], "str | None"]  # base URL -> None when it answers, else why not


def replica_side(error: BackendError) -> bool:
    """True when another replica may answer what this one failed: the replica (or the way to it)
    failed, not the request. 408/409/429 are busy signals; other 4xx would fail everywhere."""
    return error.status is None or error.status == 200 or error.status >= 500 or error.status in (408, 409, 429)


@dataclass(frozen=True)
class Replica:
    """One server of a model: its base URL (what trajectories record) and a backend for it."""

    url: str
    backend: LLMBackend


@dataclass(frozen=True)
class ReplicaState:
    """A replica as the router sees it now."""

    url: str
    in_flight: int
    answered: int  # calls it answered
    failed: int  # calls that failed on it (and were asked of another replica)
    out_for_s: float  # seconds until it is tried again (0: in rotation)
    reason: str | None  # why it was taken out (the failed health check)


class _Slot:
    """Mutable bookkeeping of one replica, guarded by the router's lock."""

    def __init__(self, replica: Replica):
        self.replica = replica
        self.in_flight = self.answered = self.failed = 0
        self.picked = 0  # the pick counter when it was last chosen: ties go to the oldest
        self.out_until = 0.0
        self.reason: str | None = None


class ReplicaBackend:
    """An `LLMBackend` that spreads calls over replicas of one model (see the module docstring).

    `health` is asked about a replica after a call failed on it; `clock` is injectable for tests.
    """

    def __init__(
        self,
        replicas: Sequence[Replica],
        *,
        name: str,
        cooldown_s: float = 30.0,
        health: HealthCheck = unreachable,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not replicas:
            raise ConfigError(f"model {name!r} has no replicas; give at least one endpoint URL")
        urls = [r.url for r in replicas]
        if len(set(urls)) != len(urls):
            twice = next(u for u in urls if urls.count(u) > 1)
            raise ConfigError(f"replica {twice} is listed twice for model {name!r}; list each endpoint once")
        if cooldown_s < 0:
            raise ConfigError(f"cooldown_s={cooldown_s} must be 0 or more")
        self.name = name
        self.cooldown_s = cooldown_s
        self._health, self._clock = health, clock
        self._slots = [_Slot(r) for r in replicas]
        self._lock = threading.Lock()  # counters may be touched from several event loops' threads
        self._picks = 0

    def __repr__(self) -> str:
        return f"ReplicaBackend({[s.replica.url for s in self._slots]!r}, name={self.name!r})"

    @property
    def urls(self) -> list[str]:
        return [s.replica.url for s in self._slots]

    def states(self) -> list[ReplicaState]:
        now = self._clock()
        with self._lock:
            return [
                ReplicaState(
                    s.replica.url,
                    s.in_flight,
                    s.answered,
                    s.failed,
                    max(0.0, s.out_until - now),
                    s.reason if s.out_until > now else None,
                )
                for s in self._slots
            ]

    def live(self) -> list[str]:
        """URLs of the replicas in rotation now."""
        return [s.url for s in self.states() if s.out_for_s == 0]

    def _pick(self, tried: set[int]) -> int | None:
        """The replica for the next attempt: in rotation, not yet tried for this call, fewest in
        flight; when every untried one is out, the one that comes back soonest (better a try
        than a certain failure); None when all were tried."""
        now = self._clock()
        with self._lock:
            untried = [i for i in range(len(self._slots)) if i not in tried]
            if not untried:
                return None
            live = [i for i in untried if self._slots[i].out_until <= now]
            if live:
                best = min(live, key=lambda i: (self._slots[i].in_flight, self._slots[i].picked))
            else:
                best = min(untried, key=lambda i: self._slots[i].out_until)
            slot = self._slots[best]
            self._picks += 1
            slot.picked = self._picks
            slot.in_flight += 1
            return best

    async def complete(
        self,
        messages: Sequence[Message],
        settings: GenerationSettings,
        *,
        on_delta: DeltaCallback | None = None,
        on_retract: RetractCallback | None = None,
    ) -> Completion:
        tried: set[int] = set()
        failures: list[str] = []
        kwargs: dict[str, Any] = {} if on_delta is None else {"on_delta": on_delta, "on_retract": on_retract}
        while (index := self._pick(tried)) is not None:
            tried.add(index)
            slot = self._slots[index]
            try:
                completion = await slot.replica.backend.complete(messages, settings, **kwargs)
            except BackendError as error:
                self._done(slot, answered=False)
                if not replica_side(error):
                    raise
                failures.append(f"{slot.replica.url}: {error}")
                await self._check(slot)
                continue
            except BaseException:
                self._done(slot, answered=False, counted=False)  # cancelled or a bug: not the replica's failure
                raise
            self._done(slot, answered=True)
            extra = {**completion.extra, "replica": slot.replica.url}
            if failures:
                extra["replica_failures"] = [f.split(": ", 1)[0] for f in failures]
            return replace(completion, extra=extra, attempts=completion.attempts + len(failures))
        raise BackendError(
            f"every replica of {self.name!r} failed this call: " + " | ".join(failures),
            url=", ".join(self.urls),
            hint="are the servers running? check each URL's /models",
        )

    def _done(self, slot: _Slot, *, answered: bool, counted: bool = True) -> None:
        with self._lock:
            slot.in_flight -= 1
            if answered:
                slot.answered += 1
            elif counted:
                slot.failed += 1

    async def _check(self, slot: _Slot) -> None:
        """After a failed call: a replica that fails its health check is out for `cooldown_s`."""
        problem = await asyncio.to_thread(self._health, slot.replica.url)
        if problem is not None:
            with self._lock:
                slot.out_until = self._clock() + self.cooldown_s
                slot.reason = problem

    async def list_models(self) -> list[str]:
        """The models of the first replica in rotation (replicas serve the same model)."""
        live = self.live() or self.urls
        backend = self._slots[self.urls.index(live[0])].replica.backend
        return await cast(ListsModels, backend).list_models()

    async def aclose(self) -> None:
        for slot in self._slots:
            closer = getattr(slot.replica.backend, "aclose", None)
            if closer is not None:
                await closer()


def calls_per_replica(replicas: Iterable[str | None]) -> dict[str, int]:
    """How many calls each replica answered, most first, from the replica URLs recorded per call
    (`Completion.extra["replica"]`, copied into the trajectory); calls without one (a single
    server, a cache hit recorded without it) are not counted."""
    return dict(Counter(r for r in replicas if r).most_common())
