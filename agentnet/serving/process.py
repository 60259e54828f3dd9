"""A model server as a child process: started in its own process group, polled until it
answers, stopped with its whole group (at exit too), its output kept in a log file."""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from agentnet.errors import ServerStartError

# a native crash at start-up is almost always a llama.cpp build for another CPU (a cache directory
# copied from elsewhere) or for CPU features this machine cannot run
CRASHES = (-signal.SIGSEGV, -signal.SIGILL, -signal.SIGBUS)
CRASH_HINT = (
    "; a native crash while loading usually means llama.cpp was compiled for another CPU: rebuild it here "
    "with `python -m agentnet.serving build-llama-server --force` (see agentnet/serving/cpu_flags.py)"
)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def unreachable(url: str, timeout_s: float = 2.0) -> str | None:
    """None when something accepts TCP connections at `url`'s host and port, else why not.

    Also a health check for an external server: `evaluate(..., health=lambda: unreachable(url))`.
    A connect that times out counts as reachable: a full accept queue is busy, not dead.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except TimeoutError:
        return None
    except OSError as e:
        return f"{host}:{port} refuses connections ({e.strerror or e})"
    return None


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if the process that started it dies, even by SIGKILL."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _ended(code: int) -> str:
    """How a process with this return code ended: "exited with code 3", "was killed by SIGSEGV"."""
    return f"was killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"


class ServerProcess:
    """A started server. Use as a context manager or call `stop()`; also stopped at exit."""

    def __init__(self, cmd: Sequence[str], log_path: Path, env: dict[str, str] | None = None):
        self.cmd = list(cmd)
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            self.cmd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # its own process group, so stop() reaches its children
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        atexit.register(self.stop)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        """None while it runs; else its exit code (negative: the signal that killed it)."""
        return self.proc.poll()

    def health(self, url: str, timeout_s: float = 2.0) -> str | None:
        """None while the server runs and accepts connections at `url`'s host and port; else
        why not, one line, then the log's tail.

        Cheap enough to call after every failed request: a process check, then a TCP connect.
        No HTTP request on purpose: llama-cpp-python's server makes a waiting request
        interrupt the stream it is generating, and a busy server may queue one for minutes.
        """
        code = self.proc.poll()
        if code is not None:
            return f"the server (pid {self.pid}) {_ended(code)} (log {self.log_path})\n{tail(self.log_path)}"
        problem = unreachable(url, timeout_s)
        if problem is None:
            return None
        return f"the server (pid {self.pid}) runs but {problem} (log {self.log_path})\n{tail(self.log_path)}"

    def wait_ready(self, url: str, timeout_s: float) -> float:
        """Poll `url` until it answers 200; returns the seconds it took."""
        import httpx

        started = time.monotonic()
        while True:
            if not self.alive():
                self._close_log()
                code = self.proc.returncode
                raise ServerStartError(
                    f"server {_ended(code)} during start-up (log {self.log_path}){CRASH_HINT if code in CRASHES else ''}:\n"
                    f"{tail(self.log_path)}"
                )
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > timeout_s:
                self.stop()
                raise ServerStartError(
                    f"server not ready after {timeout_s:g}s (log {self.log_path}); raise "
                    f"--startup-timeout if the model is large. Last lines:\n{tail(self.log_path)}"
                )
            time.sleep(0.25)

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after `grace_s`. Idempotent."""
        atexit.unregister(self.stop)
        try:  # the group may outlive its leader, so signal it either way
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        if not self._log.closed:
            self._log.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
