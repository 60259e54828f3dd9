"""Errors that teach: each names the bad value and the fix.

The CLI prints `str(error)` and exits with code 2 for any `AgentNetError`; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations


class AgentNetError(Exception):
    """Base class of every error agentnet raises on purpose."""


class ConfigError(AgentNetError):
    """An invalid configuration value."""


class UnknownNameError(AgentNetError, KeyError):
    """A registry lookup failed; the message lists the known names."""

    def __init__(self, kind: str, name: str, known: list[str]):
        self.kind, self.name, self.known = kind, name, known
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(known) or '(none)'}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ModelError(AgentNetError):
    """A model that cannot be found, assembled or verified."""


class StoreError(AgentNetError):
    """A run store that cannot be read or written (disk full, locked, read-only); names the file and the fix."""


class TrainingError(AgentNetError):
    """A training run that cannot go on (a loss or weight turned non-finite); names the step."""


class MissingDependencyError(AgentNetError, ImportError):
    """An optional extra is not installed; the message says which `pip install` fixes it."""


class BackendError(AgentNetError):
    """An LLM server failed to answer. Names the URL and a hint."""

    def __init__(self, message: str, *, url: str, hint: str = "", status: int | None = None):
        self.url, self.hint, self.status = url, hint, status
        text = f"{message} (server {url})"
        if hint:
            text += f"; {hint}"
        super().__init__(text)


class BackendTimeoutError(BackendError):
    """The server accepted the request but did not answer in time."""


class ServerStartError(AgentNetError):
    """A model server process died or never became ready; carries the log's tail."""


class ServerDiedError(AgentNetError):
    """The model server a run depends on died mid-run; the run was stopped to resume later.

    `reason` is the health check's first line, `log_tail` the rest (the server log's tail).
    """

    def __init__(self, reason: str, *, run_id: str | None = None):
        first, _, rest = reason.partition("\n")
        self.reason, self.log_tail, self.run_id = first, rest, run_id
        text = f"the model server is down: {first}"
        if run_id is not None:
            text += f"; run {run_id} is marked interrupted: finish it with `agentnet bench --resume {run_id}`"
        if rest:
            text += f"\nlast lines of the server log:\n{rest}"
        super().__init__(text)


def require_at_least_one(config: object, *fields: str) -> None:
    """Config validation: each named integer field of `config` must be 1 or more."""
    for name in fields:
        value = getattr(config, name)
        if value < 1:
            raise ConfigError(f"{name}={value} must be at least 1")
