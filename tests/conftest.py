"""Test tiers: the default tier is deterministic (ScriptedBackend, local HTTP peers) plus
integration tests on the real embedded SmolLM2 server; `qwen` and `vllm` tests are opt-in
(--run-qwen, --run-vllm) and skip with a reason in the summary when not enabled or installed."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from agentnet.serving import ServeConfig, start
from agentnet.serving.models import NAMED_MODELS, default_cache_dir, model_status

OPT_IN = {"qwen": "--run-qwen", "vllm": "--run-vllm"}
# no test may reach a model or dataset hub; offline, a hub fallback fails at once instead of
# after ~20 s of DNS retries (set before `datasets`/`huggingface_hub` read it at import)
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_addoption(parser: pytest.Parser) -> None:
    for marker, flag in OPT_IN.items():
        parser.addoption(flag, action="store_true", help=f"run tests marked {marker}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker, flag in OPT_IN.items():
            if marker in item.keywords and not config.getoption(flag):
                item.add_marker(pytest.mark.skip(reason=f"opt-in tier '{marker}': pass {flag} to run it"))


def _require_local() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("SKIPPED LOUDLY: llama-cpp-python missing; install with `make test` (extra [local])")
    status = model_status(NAMED_MODELS["smollm2-135m"], default_cache_dir())
    if status != "ready":
        pytest.skip(f"SKIPPED LOUDLY: smollm2-135m {status}")


@pytest.fixture(scope="session")
def smollm2_server(tmp_path_factory: pytest.TempPathFactory):
    """One real llama.cpp server with SmolLM2-135M for the whole session."""
    _require_local()
    config = ServeConfig(engine="llama-cpp", model="smollm2-135m", ctx_size=2048,
                         cache_dir=tmp_path_factory.mktemp("cache"))  # fmt: skip
    with start(config) as server:
        yield server


def benchmark_data() -> Path:
    """$AGENTNET_DATA_DIR, else the public benchmark files beside the repository (../shared/data,
    never copied into it); skips loudly when neither exists."""
    path = Path(os.environ.get("AGENTNET_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
    if not path.is_dir():
        pytest.skip(f"SKIPPED LOUDLY: benchmark data not found at {path}; set AGENTNET_DATA_DIR")
    return path


@pytest.fixture
def shared_data_dir():
    return benchmark_data()
