"""The fault server itself: it must produce each fault for real and never outlive its test."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.faults import FaultServer, Step

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_it_stops_by_itself_after_its_lifetime() -> None:
    with FaultServer([], lifetime_s=0.3) as peer:
        assert httpx.get(f"{peer.base_url}/models").status_code == 200
        time.sleep(0.6)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{peer.base_url}/models", timeout=1)


def test_a_stall_ends_when_the_client_gives_up() -> None:
    with FaultServer([Step(mode="stall", delay_s=30)]) as peer:
        before = threading.active_count()  # the server's loop and its lifetime timer
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{peer.base_url}/chat/completions", json=CHAT, timeout=0.2)
        deadline = time.monotonic() + 2
        while threading.active_count() > before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert threading.active_count() == before  # the handler thread has returned


def test_closing_ends_the_handler_of_a_connection_the_client_keeps_alive() -> None:
    """A leftover handler thread would outlive its test (and make the sandbox guard refuse
    path objects in later tests of this process)."""
    with httpx.Client() as client:  # its pool keeps the connection open after the reply
        with FaultServer([]) as peer:
            assert client.post(f"{peer.base_url}/chat/completions", json=CHAT).status_code == 200
            # socketserver names a handler thread after its target
            handlers = [t for t in threading.enumerate() if t.name.endswith("(process_request_thread)")]
            assert len(handlers) == 1  # waiting for the connection's next request
        assert not handlers[0].is_alive()


def test_a_cut_stream_drops_the_connection_mid_body() -> None:
    with FaultServer([Step(mode="cut", text="a b c d", chunks=2)]) as peer:
        lines: list[str] = []
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            with httpx.stream("POST", f"{peer.base_url}/chat/completions", json={**CHAT, "stream": True}) as r:
                lines.extend(line for line in r.iter_lines() if line)
    assert len(lines) == 2 and all(line.startswith("data: {") for line in lines)


def test_a_trickle_spaces_its_pieces() -> None:
    with FaultServer([Step(mode="trickle", text="a b c", interval_s=0.2)]) as peer:
        started = time.monotonic()
        with httpx.stream("POST", f"{peer.base_url}/chat/completions", json={**CHAT, "stream": True}) as r:
            arrivals = [time.monotonic() - started for line in r.iter_lines() if '"content"' in line]
    assert len(arrivals) == 3 and arrivals[2] - arrivals[0] >= 0.35


@pytest.mark.parametrize(
    ("mode", "content_type", "start"),
    [("not_json", "application/json", b"<html>"), ("text_plain", "text/plain", b"upstream")],
)
def test_bad_bodies_come_with_a_200(mode: str, content_type: str, start: bytes) -> None:
    with FaultServer([Step(mode=mode)]) as peer:  # type: ignore[arg-type]
        r = httpx.post(f"{peer.base_url}/chat/completions", json=CHAT)
    assert r.status_code == 200 and r.headers["content-type"] == content_type and r.content.startswith(start)
