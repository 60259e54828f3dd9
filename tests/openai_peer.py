"""A real HTTP peer speaking a sliver of the OpenAI API, scripted per request: for error paths
(5xx, 429, slow answers) that a real model server cannot be made to produce on demand."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Step:
    status: int = 200
    delay_s: float = 0.0
    text: str = "ok"
    headers: tuple[tuple[str, str], ...] = ()


def _completion(text: str) -> dict:
    return {
        "id": "x", "object": "chat.completion", "created": 0, "model": "peer",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
    }  # fmt: skip


class OpenAIPeer:
    def __init__(self, steps: list[Step]):
        self.steps = list(steps)
        self.requests: list[dict] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: dict, headers: tuple = ()) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, text: str, usage: bool) -> None:
                """Server-sent events: one chunk per word, then usage (if asked), then [DONE]."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                base = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "peer"}
                words = text.split(" ")
                for i, word in enumerate(words):
                    delta = {"content": word if i == 0 else " " + word}
                    finish = "stop" if i == len(words) - 1 else None
                    chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                if usage:
                    u = _completion(text)["usage"]
                    self.wfile.write(f"data: {json.dumps({**base, 'choices': [], 'usage': u})}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": "peer", "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                peer.requests.append(body)
                step = peer.steps.pop(0) if peer.steps else Step()
                time.sleep(step.delay_s)
                if step.status == 200 and body.get("stream"):
                    self._stream(step.text, bool(body.get("stream_options", {}).get("include_usage")))
                elif step.status == 200:
                    self._send(200, _completion(step.text), step.headers)
                else:
                    self._send(step.status, {"error": {"message": f"scripted {step.status}"}}, step.headers)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIPeer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
