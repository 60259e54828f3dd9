"""The Hugging Face hub as the fallback source of a split that has no data file here.

Tried only when `TaskConfig.hub` is on (the default) and the split names a `HubSource`.
Offline (`HF_HUB_OFFLINE` or `HF_DATASETS_OFFLINE` set) `datasets` reads only its local cache,
which answers at once. Online, `datasets` retries an unreachable hub for about 25 seconds, so
one TCP connection to the endpoint (or to the proxy) is tried first, for `PROBE_SECONDS`, and
an unreachable hub fails at once with the "no data" message.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from agentnet.tasks.records import DataNotFoundError, Parse, Skips, Strictness, T

PROBE_SECONDS = 3.0
DEFAULT_ENDPOINT = "https://huggingface.co"
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class HubSource:
    """Where the same records live on the Hugging Face hub (same field names as the files)."""

    path: str
    name: str | None
    split: str


def offline() -> bool:
    """Whether the user told the Hugging Face libraries to stay offline."""
    return any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def unreachable(timeout: float = PROBE_SECONDS) -> str | None:
    """Why the hub (or the HTTPS proxy in front of it) takes no connection now, or None."""
    endpoint = urllib.parse.urlsplit(os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT)
    target = endpoint
    proxy = urllib.request.getproxies().get(endpoint.scheme or "https")
    if proxy and not urllib.request.proxy_bypass(endpoint.hostname or ""):
        target = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    host = target.hostname or ""
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        return f"{host}:{port} is unreachable ({e}); set HF_HUB_OFFLINE=1 to use a cached copy"
    return None


def hub_records(source: HubSource, config: Strictness, parse: Parse[T], missing: DataNotFoundError) -> Iterator[T]:
    """`parse(row number, row)` over the hub copy; `missing` (why no file was found) heads any error."""
    if importlib.util.find_spec("datasets") is None:
        raise DataNotFoundError(f"{missing}; or `pip install datasets` to fetch {source.path} from the hub")
    # probed before `datasets` is imported: it reads HF_HUB_OFFLINE once, at import
    if not offline() and (why := unreachable()) is not None:
        raise DataNotFoundError(f"{missing}; the hub copy {source.path} failed too: {why}")
    from datasets import load_dataset

    try:
        rows = load_dataset(source.path, source.name, split=source.split)
    except Exception as e:  # datasets raises many kinds (connection, missing split, cache miss…)
        raise DataNotFoundError(f"{missing}; the hub copy {source.path} failed too: {str(e)[:200]}") from e
    skips = Skips(f"{source.path} (hub, split {source.split})", config.strict, "row")
    yield from skips.each((number, partial(parse, number, dict(row))) for number, row in enumerate(rows, start=1))
