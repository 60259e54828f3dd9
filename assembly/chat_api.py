"""The OpenAI-compatible HTTP face of `agentnet serve-team`: Starlette routes on uvicorn.

`POST /v1/chat/completions` (plain or streamed as server-sent events in OpenAI's chunk format)
and `GET /v1/models`; the request's `model` names a served team. The last user message is the
query. The reply's `content` is the team's extracted answer; the final reply it came from is in
`reasoning_content` (the field OpenAI-compatible servers use for reasoning; `--reasoning content`
puts it after the answer in `content` instead, `none` leaves it out); `usage` is the team's total
tokens; the `agentnet` field (and the `x-agentnet-run` / `x-agentnet-item` headers) names the run
and item in the store, with calls, cost and per-agent usage. Streaming sends the decision call's
tokens as `reasoning_content` deltas while it is made, then the answer.

Every refusal is an OpenAI-style error body with a 4xx status (unknown model, empty messages,
an oversized or non-JSON body, a missing bearer token, 429 with Retry-After past the queue);
a failure of the models is a 502/504, and a bug a 500 body of one line, never a traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agentnet.assembly.team_service import Job, Outcome, RequestError, TeamService
from agentnet.errors import ConfigError
from agentnet.trajectory import DECISION

log = logging.getLogger("agentnet.endpoint")
Reasoning = Literal["field", "content", "none"]
KEEPALIVE_S = 15.0  # an SSE comment while the team works, so proxies keep the stream open


@dataclass(frozen=True)
class ApiSettings:
    api_key: str = ""  # the bearer token clients must send ("" none)
    max_body_bytes: int = 1 << 20
    max_tokens: int = 4096  # the most a request may ask for
    reasoning: Reasoning = "field"
    store: str = ""  # the run store's path, for the `agentnet show` hint


@dataclass(frozen=True)
class ChatRequest:
    model: str
    query: str
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    ignored_messages: int = 0  # messages before the query (the team answers only the query)


def error_response(e: RequestError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(e.body(), status_code=e.status, headers={**e.headers, **(headers or {})})


def _text(content: object, index: int) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):  # content parts: the text ones, joined
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if all(isinstance(p, str) for p in parts):
            return "\n".join(parts)  # type: ignore[arg-type]
    raise RequestError(
        400, f"messages[{index}].content must be a string or a list of text parts", param=f"messages[{index}].content"
    )


def parse_chat(body: object, settings: ApiSettings) -> ChatRequest:
    """The request's fields the team uses, each checked (a bad one is a 400 naming it)."""
    if not isinstance(body, dict):
        raise RequestError(400, "the body must be a JSON object with `model` and `messages`")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise RequestError(400, "`model` must name a served team (see GET /v1/models)", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(
            400, "`messages` is empty; send at least one user message (the team's query)", param="messages"
        )
    users = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise RequestError(400, f"messages[{i}] must be an object with a `role`", param=f"messages[{i}]")
        if m["role"] == "user":
            users.append(i)
    if not users:
        raise RequestError(
            400, "`messages` has no user message; the last user message is the team's query", param="messages"
        )
    query = _text(messages[users[-1]].get("content"), users[-1])
    if not query.strip():
        raise RequestError(400, "the last user message is empty; ask the team something", param="messages")
    n = body.get("n", 1)
    if n not in (1, None) or isinstance(n, bool):
        raise RequestError(400, f"n={n!r}: a team answers once per request; send n=1", param="n")
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise RequestError(400, f"stream={stream!r} must be true or false", param="stream")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise RequestError(400, f"max_tokens={max_tokens!r} must be a whole number, 1 or more", param="max_tokens")
        if max_tokens > settings.max_tokens:
            raise RequestError(
                400,
                f"max_tokens={max_tokens} is above this server's limit of {settings.max_tokens} "
                "(per agent call); ask for fewer",
                param="max_tokens",
            )
    options = body.get("stream_options") or {}
    include_usage = bool(options.get("include_usage")) if isinstance(options, dict) else False
    return ChatRequest(model, query, bool(stream), include_usage, max_tokens, len(messages) - 1)


def usage_block(outcome: Outcome) -> dict[str, int]:
    u = outcome.trajectory.usage
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total_tokens}


def agentnet_block(outcome: Outcome, settings: ApiSettings, request: ChatRequest) -> dict[str, object]:
    """The extension field: where the run is stored and what it took."""
    t, run = outcome.trajectory, outcome.team.run_id
    costs = t.cost_by_agent()
    block: dict[str, object] = {
        "team": outcome.team.name,
        "run_id": run or None,
        "item_id": outcome.item_id,
        "calls": t.calls,
        "cost": t.cost,
        "wall_s": t.wall_s,
        "rounds_run": t.rounds_run,
        "error": t.error,
        "usage_by_agent": {
            a: {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "cost": costs.get(a, 0.0)}
            for a, u in t.usage_by_agent().items()
        },
        "recorded": outcome.recorded,
        "ignored_messages": request.ignored_messages,
    }
    if outcome.store_error:
        block["store_error"] = outcome.store_error
    if outcome.recorded:
        block["show"] = f"agentnet show {run} {outcome.item_id}" + (
            f" --store {settings.store}" if settings.store else ""
        )
    return block


def finish_reason(outcome: Outcome) -> str:
    last = outcome.trajectory.messages[-1] if outcome.trajectory.messages else None
    return "length" if last is not None and last.finish_reason == "length" else "stop"


def message(outcome: Outcome, settings: ApiSettings) -> dict[str, str]:
    reply = outcome.trajectory.answer.strip()
    if settings.reasoning == "content":
        return {"role": "assistant", "content": f"{outcome.answer}\n\n{reply}" if reply else outcome.answer}
    out = {"role": "assistant", "content": outcome.answer}
    if settings.reasoning == "field":
        out["reasoning_content"] = reply
    return out


def outcome_error(outcome: Outcome) -> RequestError:
    kinds = {400: "invalid_request_error", 503: "server_error", 504: "timeout"}
    return RequestError(
        outcome.status,
        outcome.trajectory.error or "the team gave no answer",
        kind=kinds.get(outcome.status, "server_error"),
        code=f"team_{outcome.status}",
    )


def headers_for(outcome_team: str, run_id: str, item_id: str) -> dict[str, str]:
    return {"x-agentnet-team": outcome_team, "x-agentnet-run": run_id, "x-agentnet-item": item_id}


class ChatAPI:
    """The routes, bound to a service and its settings."""

    def __init__(self, service: TeamService, settings: ApiSettings):
        self.service, self.settings = service, settings
        self.started = int(time.time())

    def app(self) -> Starlette:
        routes = [
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/models/{name:path}", self.model, methods=["GET"]),
            Route("/health", self.health, methods=["GET"]),
        ]
        return Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _internal_error})

    def _authorise(self, request: Request) -> None:
        if not self.settings.api_key:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.settings.api_key.encode()
        ):
            raise RequestError(
                401,
                "missing or wrong bearer token; send `Authorization: Bearer <the server's key>`",
                code="invalid_api_key",
            )

    async def _body(self, request: Request) -> object:
        limit = self.settings.max_body_bytes
        length = request.headers.get("content-length")
        too_big = RequestError(
            413, f"the request body is over this server's limit of {limit:,} bytes; send less", code="request_too_large"
        )
        if length is not None and length.isdigit() and int(length) > limit:
            raise too_big
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > limit:
                raise too_big
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            raise RequestError(400, "the body is not JSON; send a JSON chat completion request") from None

    async def chat(self, request: Request) -> Response:
        try:
            self._authorise(request)
            chat = parse_chat(await self._body(request), self.settings)
            served = self.service.team(chat.model)
            job = self.service.submit(served, chat.query, chat.max_tokens, stream=chat.stream)
        except RequestError as e:
            return error_response(e)
        headers = headers_for(served.name, served.run_id, job.item_id)
        if chat.stream:
            return StreamingResponse(
                self._events(chat, job),
                media_type="text/event-stream",
                headers={**headers, "cache-control": "no-cache"},
            )
        outcome = await asyncio.shield(job.outcome)  # a client hanging up leaves the job to finish and be recorded
        if outcome.status != 200:  # recorded all the same: the headers name its item
            return error_response(outcome_error(outcome), headers)
        body = {
            "id": job.item_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": served.name,
            "choices": [
                {
                    "index": 0,
                    "message": message(outcome, self.settings),
                    "finish_reason": finish_reason(outcome),
                    "logprobs": None,
                }
            ],
            "usage": usage_block(outcome),
            "agentnet": agentnet_block(outcome, self.settings, chat),
        }
        return JSONResponse(body, headers=headers)

    async def _events(self, chat: ChatRequest, job: Job) -> AsyncIterator[str]:
        base = {"id": job.item_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": chat.model}

        def chunk(delta: dict[str, str], finish: str | None = None, **extra: object) -> str:
            return (
                "data: "
                + json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})
                + "\n\n"
            )

        yield chunk({"role": "assistant", "content": ""})
        streamed = False
        async for event in job.stream(KEEPALIVE_S):
            if event is None:
                yield ": keep-alive\n\n"
            elif event.event == "delta" and event.agent == DECISION and self.settings.reasoning == "field":
                streamed = True
                yield chunk({"reasoning_content": event.text})
        outcome: Outcome = job.outcome.result()
        if outcome.status != 200:
            yield "data: " + json.dumps(outcome_error(outcome).body()) + "\n\n"
            yield "data: [DONE]\n\n"
            return
        final = message(outcome, self.settings)
        if "reasoning_content" in final and not streamed:
            yield chunk({"reasoning_content": final["reasoning_content"]})
        yield chunk({"content": final["content"]})
        yield chunk({}, finish_reason(outcome), agentnet=agentnet_block(outcome, self.settings, chat))
        if chat.include_usage:
            yield "data: " + json.dumps({**base, "choices": [], "usage": usage_block(outcome)}) + "\n\n"
        yield "data: [DONE]\n\n"

    def _model_card(self, name: str) -> dict[str, object]:
        served = self.service.team(name)
        return {
            "id": name,
            "object": "model",
            "created": self.started,
            "owned_by": "agentnet",
            "agentnet": served.describe(),
        }

    async def models(self, request: Request) -> Response:
        try:
            self._authorise(request)
        except RequestError as e:
            return error_response(e)
        return JSONResponse({"object": "list", "data": [self._model_card(n) for n in self.service.teams]})

    async def model(self, request: Request) -> Response:
        try:
            self._authorise(request)
            return JSONResponse(self._model_card(request.path_params["name"]))
        except RequestError as e:
            return error_response(e)

    async def health(self, request: Request) -> Response:
        running, waiting = self.service.load
        return JSONResponse({"status": "ok", "running": running, "waiting": waiting})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    what = {
        404: f"no route {request.url.path}; use /v1/chat/completions or /v1/models",
        405: f"{request.method} is not allowed on {request.url.path}",
    }.get(exc.status_code, str(exc.detail))
    return error_response(RequestError(exc.status_code, what))


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s: %s: %s", request.url.path, type(exc).__name__, exc)
    return error_response(
        RequestError(
            500, f"internal error ({type(exc).__name__}); the server's log has the details", kind="server_error"
        )
    )


class _Uvicorn(uvicorn.Server):
    """uvicorn, whose shutdown first drains the service: admitted requests get the drain time to
    finish, the rest are cut short and recorded, and only then are connections closed."""

    def __init__(self, config: uvicorn.Config, service: TeamService):
        super().__init__(config)
        self.service = service

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        drain = asyncio.ensure_future(self.service.drain())
        await super().shutdown(sockets)
        if self.force_exit:  # a second Ctrl-C: cut the rest short now (each is still recorded)
            await self.service.drain(0)
        await drain


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else starts (a taken port is one line)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # named: asyncio sets TCP_NODELAY only then
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror}); pass another --port or --host") from None
    sock.set_inheritable(True)
    return sock


class EndpointServer:
    """The app on uvicorn, on a socket bound beforehand. `run()` blocks (Ctrl-C or SIGTERM drains and
    stops it); `running()` serves from a thread for the block (tests, benchmarks)."""

    def __init__(self, service: TeamService, settings: ApiSettings, sock: socket.socket):
        self.service, self.sock = service, sock
        config = uvicorn.Config(
            ChatAPI(service, settings).app(),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=math.ceil(service.limits.drain_s) + 10,
        )
        self.server = _Uvicorn(config, service)

    @property
    def base_url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/v1"

    def run(self) -> None:
        self.server.run(sockets=[self.sock])

    def stop(self) -> None:
        """Drain and stop (as Ctrl-C does); `running()`'s block end waits for it."""
        self.server.should_exit = True

    @contextmanager
    def running(self) -> Iterator[str]:
        thread = threading.Thread(target=self.run, name="agentnet-endpoint", daemon=True)
        thread.start()
        while not self.server.started and thread.is_alive():
            time.sleep(0.01)
        try:
            yield self.base_url
        finally:
            self.stop()
            thread.join()
