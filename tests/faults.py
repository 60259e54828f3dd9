"""A fault-injection OpenAI-compatible server for tests: a real HTTP server on 127.0.0.1 that
answers chat completions (streamed or not) and model listings, scripted per request.

Each POST takes the next `Step` (a normal answer once the script is used up). A step's `mode`
picks the fault; `status` != 200 sends an error body with that status (plus `headers`, e.g.
Retry-After). Every wait is bounded (`delay_s`, `interval_s`, the server's `lifetime_s`) and
ends early when the server stops, so a test that forgets to close it cannot hang; the
server shuts itself down after `lifetime_s` in any case.

Modes:
  answer         a normal answer (`text`), streamed word by word when the request asks
  not_json       200, Content-Type application/json, a body that is not JSON
  text_plain     200, Content-Type text/plain
  empty_choices  200, `"choices": []`
  null_content   200, the message's content is null
  no_message     200, a choice without a message
  wrong_types    200, `"choices"` is a string
  bad_chunk      a stream whose second event is not JSON
  stall          headers never come: the server waits (up to `delay_s`) until the client gives up
  cut            a stream that drops the connection after `chunks` chunks (no final chunk, no [DONE])
  truncated      a stream that ends cleanly after `chunks` chunks, without a final chunk or [DONE]
  trickle        an answer (streamed: a word, non-streamed: a slice of the body) every `interval_s`
  die            the whole process exits at once with code 3 (run it as a child process:
                 `python -m tests.faults PORT STEPS_JSON`, STEPS_JSON a list of Step fields)

Any answer can also lie about itself: `usage` is the usage block it sends (None: none at all;
counts above 2**63, negative or fractional ones as given) and `model` the model it names.
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

Mode = Literal[
    "answer",
    "not_json",
    "text_plain",
    "empty_choices",
    "null_content",
    "no_message",
    "wrong_types",
    "bad_chunk",
    "stall",
    "cut",
    "truncated",
    "trickle",
    "die",
]


@dataclass(frozen=True)
class Step:
    status: int = 200
    delay_s: float = 0.0  # answer/trickle: a wait before answering; stall: the longest wait
    text: str = "ok"
    headers: tuple[tuple[str, str], ...] = ()
    mode: Mode = "answer"
    chunks: int = 2  # cut: content chunks sent before the connection drops
    interval_s: float = 0.1  # trickle: the pause between pieces
    stream_usage: bool = True  # False: like llama-cpp-python's server, no usage chunk in streams
    usage: dict | None = field(default_factory=lambda: dict(USAGE))  # None: the reply has no usage block
    model: str = "peer"  # the model the reply names


USAGE = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
_BASE = {"id": "x", "created": 0, "model": "peer"}


def completion_body(
    text: str | None, *, choices: object = None, usage: dict | None = USAGE, model: str = "peer"
) -> dict:
    message = {"role": "assistant", "content": text}
    default = [{"index": 0, "finish_reason": "stop", "message": message}]
    body = {**_BASE, "model": model, "object": "chat.completion", "choices": default if choices is None else choices}
    if usage is not None:
        body["usage"] = usage
    return body


def _chunk(choices: list, usage: dict | None = None, model: str = "peer") -> bytes:
    body = {**_BASE, "model": model, "object": "chat.completion.chunk", "choices": choices}
    if usage is not None:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n".encode()


def _delta(piece: str, finish: str | None = None, model: str = "peer") -> bytes:
    return _chunk([{"index": 0, "delta": {"content": piece}, "finish_reason": finish}], model=model)


class FaultServer:
    """Use as a context manager; `requests` holds every POSTed body in arrival order."""

    def __init__(self, steps: list[Step], *, lifetime_s: float = 60.0, port: int = 0):
        self.steps = list(steps)
        self.requests: list[dict] = []
        self.lifetime_s = lifetime_s
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._open: dict[threading.Thread, socket.socket] = {}  # handler thread -> its connection
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._watchdog = threading.Timer(lifetime_s, self.close)
        self._watchdog.daemon = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def next_step(self, body: dict) -> Step:
        with self._lock:
            self.requests.append(body)
            return self.steps.pop(0) if self.steps else Step()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; False when the server is stopping."""
        return not self._stopping.wait(seconds)

    def join(self, timeout_s: float | None = None) -> None:
        """Block until the server is closed (or `lifetime_s` ends it)."""
        self._stopping.wait(timeout_s)

    def __enter__(self) -> FaultServer:
        self.thread.start()
        self._watchdog.start()
        return self

    def close(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._watchdog.cancel()
        self.server.shutdown()
        self.server.server_close()
        self._end_handlers()

    def _end_handlers(self, timeout_s: float = 5.0) -> None:
        """Hang up on every open connection and wait for its handler thread: a client that keeps
        its connection alive (httpx's pool, until garbage collection) would otherwise leave the
        thread blocked reading a next request, alive into later tests (the sandbox guard refuses
        path objects while another thread runs, see tests/tasks/sandbox/test_guard.py)."""
        with self._lock:
            handlers = list(self._open.items())
        for _, connection in handlers:
            _hang_up(connection)  # the blocked read returns EOF
        for thread, _ in handlers:
            thread.join(timeout_s)

    def opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._open[threading.current_thread()] = connection
            late = self._stopping.is_set()  # accepted just before shutdown, after _end_handlers looked
        if late:
            _hang_up(connection)

    def closed(self) -> None:
        with self._lock:
            self._open.pop(threading.current_thread(), None)

    def __exit__(self, *exc: object) -> None:
        self.close()


def _hang_up(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # the client hung up first


_BODY_MODES = ("not_json", "text_plain", "empty_choices", "null_content", "no_message", "wrong_types")


def _handler(peer: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # streams use chunked transfer, as uvicorn's do

        def log_message(self, *args: object) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            peer.opened(self.connection)

        def finish(self) -> None:
            peer.closed()
            super().finish()

        def _send(self, status: int, data: bytes, content_type: str = "application/json", headers: tuple = ()) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _json(self, status: int, body: dict, headers: tuple = ()) -> None:
            self._send(status, json.dumps(body).encode(), headers=headers)

        def do_GET(self) -> None:
            self._json(200, {"object": "list", "data": [{"id": "peer", "object": "model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            step = peer.next_step(body)
            if step.mode == "die":
                print("fatal: scripted death", file=sys.stderr, flush=True)
                os._exit(3)
            if step.mode == "stall":
                return self._stall(step.delay_s or peer.lifetime_s)
            if step.delay_s and not peer.wait(step.delay_s):
                return
            if step.status != 200:
                return self._json(step.status, {"error": {"message": f"scripted {step.status}"}}, step.headers)
            if body.get("stream") and step.mode not in _BODY_MODES:  # a bad body is bad either way
                return self._stream(step, bool((body.get("stream_options") or {}).get("include_usage")))
            self._reply(step)

        def _reply(self, step: Step) -> None:
            bodies = {
                "not_json": (b"<html>502 Bad Gateway</html>", "application/json"),
                "text_plain": (b"upstream busy, try later", "text/plain"),
                "empty_choices": (json.dumps(completion_body(step.text, choices=[])).encode(), "application/json"),
                "null_content": (json.dumps(completion_body(None)).encode(), "application/json"),
                "no_message": (
                    json.dumps(completion_body(step.text, choices=[{"index": 0, "finish_reason": "stop"}])).encode(),
                    "application/json",
                ),
                "wrong_types": (json.dumps(completion_body(step.text, choices="oops")).encode(), "application/json"),
            }
            if step.mode in bodies:
                return self._send(200, *bodies[step.mode])
            data = json.dumps(completion_body(step.text, usage=step.usage, model=step.model)).encode()
            if step.mode != "trickle":
                return self._send(200, data, headers=step.headers)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            size = max(1, len(data) // 10)
            for i in range(0, len(data), size):
                if not self._write(data[i : i + size]) or not peer.wait(step.interval_s):
                    return

        def _stream(self, step: Step, usage: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            words = step.text.split(" ")
            pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
            for i, piece in enumerate(pieces):
                if step.mode == "cut" and i == step.chunks:
                    return self._drop()
                if step.mode == "truncated" and i == step.chunks:
                    return self._end()
                if step.mode == "bad_chunk" and i == 1:
                    self._event(b"data: {not json\n\n")
                    return self._end()
                if not self._event(_delta(piece, "stop" if i == len(pieces) - 1 else None, step.model)):
                    return
                if step.mode == "trickle" and i < len(pieces) - 1 and not peer.wait(step.interval_s):
                    return
            if step.mode == "cut":  # fewer words than `chunks`: drop before the end anyway
                return self._drop()
            if usage and step.stream_usage and step.usage is not None:
                self._event(_chunk([], step.usage, step.model))
            self._event(b"data: [DONE]\n\n")
            self._end()

        def _event(self, data: bytes) -> bool:
            return self._write(b"%x\r\n%s\r\n" % (len(data), data))

        def _end(self) -> None:
            self._write(b"0\r\n\r\n")

        def _write(self, data: bytes) -> bool:
            try:
                self.wfile.write(data)
                self.wfile.flush()
                return True
            except OSError:  # the client went away
                self.close_connection = True
                return False

        def _drop(self) -> None:
            """End the TCP connection mid-body: the chunked body never gets its last chunk."""
            self.close_connection = True
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def _stall(self, limit_s: float) -> None:
            """Send nothing until the client hangs up, the server stops, or `limit_s` passes."""
            self.close_connection = True
            deadline = time.monotonic() + limit_s
            while time.monotonic() < deadline and peer.wait(0):
                try:
                    readable, _, _ = select.select([self.connection], [], [], 0.05)
                    if readable and not self.connection.recv(1, socket.MSG_PEEK):
                        return  # EOF: the client gave up
                except OSError:
                    return

    return Handler


def main(argv: list[str]) -> None:
    """A fault server as its own process, for tests of a server dying: PORT STEPS_JSON [LIFETIME_S]."""
    port, steps = int(argv[0]), [Step(**fields) for fields in json.loads(argv[1])]
    server = FaultServer(steps, port=port, lifetime_s=float(argv[2]) if len(argv) > 2 else 60.0)
    with server:
        print(f"fault server on {server.base_url}", flush=True)
        server.join()


if __name__ == "__main__":
    main(sys.argv[1:])
