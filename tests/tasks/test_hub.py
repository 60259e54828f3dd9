"""The hub fallback fails at once when the hub cannot be reached, instead of retrying ~25 s."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

from agentnet.tasks.base import DataNotFoundError, TaskConfig
from agentnet.tasks.hub import offline, unreachable
from agentnet.tasks.math_word import GSM8K

needs_datasets = pytest.mark.skipif(importlib.util.find_spec("datasets") is None, reason="needs `datasets`")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def online_but_unreachable(monkeypatch: pytest.MonkeyPatch) -> int:
    """Not offline, no proxy, and a hub endpoint on a local port nobody listens on."""
    for name in (
        "HF_HUB_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "AGENTNET_DATA_DIR",
        "https_proxy",
        "HTTPS_PROXY",
        "http_proxy",
        "HTTP_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    port = _closed_port()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    return port


def test_offline_reads_the_hugging_face_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert not offline()
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    assert offline()


def test_unreachable_names_the_endpoint(online_but_unreachable: int) -> None:
    why = unreachable(timeout=1.0)
    assert why is not None and why.startswith(f"127.0.0.1:{online_but_unreachable} is unreachable")
    assert "HF_HUB_OFFLINE=1" in why


def test_a_listening_endpoint_is_reachable(monkeypatch: pytest.MonkeyPatch, online_but_unreachable: int) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert unreachable(timeout=1.0) is None


@needs_datasets
def test_an_unreachable_hub_fails_at_once_with_the_no_data_message(tmp_path: Path, online_but_unreachable: int) -> None:
    with pytest.raises(DataNotFoundError) as info:
        next(GSM8K(TaskConfig(data_dir=tmp_path)).items())
    message = str(info.value)
    assert message.startswith(f"no gsm8k data: tried {tmp_path / 'gsm8k' / 'test.jsonl'}")
    # the probe answered, so `datasets` (and its retries) was never reached
    assert f"the hub copy openai/gsm8k failed too: 127.0.0.1:{online_but_unreachable} is unreachable" in message
