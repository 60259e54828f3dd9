from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from agentnet.errors import ServerStartError
from agentnet.serving.process import ServerProcess, free_port, port_is_free, unreachable


def _start_up_error(script: str, tmp_path: Path) -> str:
    """The error of waiting for a server that runs `script` and dies before it answers."""
    process = ServerProcess([sys.executable, "-c", script], tmp_path / "s.log")
    with pytest.raises(ServerStartError) as info:
        process.wait_ready("http://127.0.0.1:1/v1/models", timeout_s=30)
    return str(info.value)


def test_server_that_dies_reports_its_log_tail(tmp_path: Path) -> None:
    text = _start_up_error("import sys; print('loading weights'); print('fatal: bad magic'); sys.exit(3)", tmp_path)
    assert "code 3" in text and "fatal: bad magic" in text and str(tmp_path / "s.log") in text
    assert "compiled for another CPU" not in text


def test_a_native_crash_at_start_up_says_how_to_rebuild_llama_cpp(tmp_path: Path) -> None:
    """Seen on a VM whose CPU advertises AMX: llama.cpp died with SIGSEGV loading the model."""
    script = "import os, signal; print('llama threadpool init'); os.kill(os.getpid(), signal.SIGSEGV)"
    text = _start_up_error(script, tmp_path)
    assert "was killed by SIGSEGV during start-up" in text and "llama threadpool init" in text
    assert "compiled for another CPU" in text
    assert "build-llama-server --force" in text  # without --force an existing (broken) binary is kept


def test_server_never_ready_times_out_and_is_stopped(tmp_path: Path) -> None:
    process = ServerProcess([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "s.log")
    with pytest.raises(ServerStartError, match="not ready after 0.5s"):
        process.wait_ready(f"http://127.0.0.1:{free_port()}/", timeout_s=0.5)
    assert not process.alive()


def test_ready_server_is_stopped_with_its_children(tmp_path: Path) -> None:
    port = free_port()
    # the server spawns a grandchild in its process group; stop() must reach it too
    script = (
        "import subprocess, sys, http.server;"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        "print(child.pid, flush=True);"
        f"http.server.HTTPServer(('127.0.0.1', {port}), http.server.SimpleHTTPRequestHandler).serve_forever()"
    )
    with ServerProcess([sys.executable, "-c", script], tmp_path / "s.log") as process:
        assert process.wait_ready(f"http://127.0.0.1:{port}/", timeout_s=30) < 30
        child = int((tmp_path / "s.log").read_text().split()[0])
    assert not process.alive()
    time.sleep(0.2)
    assert not _running(child)


def _running(pid: int) -> bool:
    try:  # a killed orphan may linger as a zombie until something reaps it
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_port_checks() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        assert not port_is_free("127.0.0.1", taken)
    assert port_is_free("127.0.0.1", free_port())


def _http_server_script(port: int, then: str = "") -> str:
    """A child that prints a line, serves HTTP on `port` in a thread, then runs `then`."""
    return (
        "import http.server, threading, time;"
        f"s = http.server.HTTPServer(('127.0.0.1', {port}), http.server.SimpleHTTPRequestHandler);"
        "threading.Thread(target=s.serve_forever, daemon=True).start();"
        "print('model loaded', flush=True);"
        f"{then or 'time.sleep(60)'}"
    )


def test_health_is_none_while_the_server_runs_and_names_a_kill(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    with ServerProcess([sys.executable, "-c", _http_server_script(port)], tmp_path / "s.log") as process:
        process.wait_ready(f"http://127.0.0.1:{port}/", timeout_s=30)
        assert process.health(url) is None and process.exit_code is None
        os.kill(process.pid, signal.SIGKILL)
        process.proc.wait(timeout=10)
        reason = process.health(url)
    assert reason is not None and process.exit_code == -9
    first, tail = reason.split("\n", 1)
    assert f"pid {process.pid}" in first and "killed by SIGKILL" in first and str(tmp_path / "s.log") in first
    assert "model loaded" in tail


def test_health_names_an_exit_code_with_the_log_tail(tmp_path: Path) -> None:
    port = free_port()
    script = _http_server_script(
        port, "time.sleep(0.5); print('CUDA error: out of memory', flush=True); s.server_close(); raise SystemExit(3)"
    )
    with ServerProcess([sys.executable, "-c", script], tmp_path / "s.log") as process:
        process.wait_ready(f"http://127.0.0.1:{port}/", timeout_s=30)
        process.proc.wait(timeout=10)
        reason = process.health(f"http://127.0.0.1:{port}/v1") or ""
    assert "exited with code 3" in reason and "CUDA error: out of memory" in reason


def test_health_names_a_live_process_that_refuses_connections(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    with ServerProcess([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "s.log") as process:
        reason = process.health(url, timeout_s=1.0) or ""
    assert f"runs but {url.split('/')[2]} refuses connections" in reason


def test_unreachable_tells_a_listening_port_from_a_closed_one() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert unreachable(f"http://127.0.0.1:{s.getsockname()[1]}/v1") is None
    closed = free_port()
    assert (
        unreachable(f"http://127.0.0.1:{closed}/v1") == f"127.0.0.1:{closed} refuses connections (Connection refused)"
    )
