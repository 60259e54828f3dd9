"""ScriptedBackend teams behind a real endpoint on 127.0.0.1 (no model), for the endpoint's tests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agentnet.assembly.chat_api import ApiSettings, EndpointServer, bind
from agentnet.assembly.endpoint import endpoint, served_team
from agentnet.assembly.team_service import Limits, ServedTeam, TeamService
from agentnet.configs import TeamConfig
from agentnet.testing import ScriptedBackend

ANSWER = "I worked it out step by step. The answer is 42"


def scripted(
    name: str = "trio",
    *,
    latency_s: float = 0.0,
    reply: str = ANSWER,
    decision: str = "final_refer",
    agents: int = 3,
    topology: str = "chain",
) -> tuple[ServedTeam, ScriptedBackend]:
    backend = ScriptedBackend(lambda messages, settings: reply, latency_s=latency_s)
    config = TeamConfig(topology=topology if agents > 1 else "single", agents=agents, decision=decision)
    return served_team(name, config, backend, model="scripted"), backend


@dataclass
class Running:
    url: str
    service: TeamService
    server: EndpointServer
    store: Path

    def wait_for(self, admitted: int, timeout_s: float = 10.0) -> None:
        """Until `admitted` requests are running or waiting (bounded)."""
        deadline = time.monotonic() + timeout_s
        while sum(self.service.load) < admitted:
            assert time.monotonic() < deadline, f"only {self.service.load} admitted"
            time.sleep(0.01)


@contextmanager
def serving(
    tmp_path: Path, *teams: ServedTeam, limits: Limits = Limits(), settings: ApiSettings = ApiSettings()
) -> Iterator[Running]:
    store = tmp_path / "runs.sqlite"
    with endpoint(teams, limits, settings, store, bind("127.0.0.1", 0)) as server, server.running() as url:
        yield Running(url, server.service, server, store)


def sse(lines: Iterator[str]) -> list[Any]:
    """The data events of a stream ("[DONE]" kept as the string)."""
    out = []
    for line in lines:
        if line.startswith("data: "):
            data = line[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def chat(url: str, model: str = "trio", content: str = "What is 6 x 7?", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def post(url: str, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{url}/chat/completions", json=body, timeout=30, **kwargs)
