"""Test tiers: the default tier is deterministic (ScriptedBackend, local HTTP peers) plus
integration tests on the real embedded engine (llama-server) with SmolLM2 for plumbing and
Qwen2.5-Coder-0.5B for answers; `slow` tests (the expensive trainings) run in `make test-slow`;
`qwen` and `vllm` tests are opt-in (--run-qwen, --run-vllm) and skip with a reason in the summary
when not enabled or installed.

An integration test skips loudly when the embedded engine or its model is missing, unless
$AGENTNET_REQUIRE_LOCAL is set (`make test` sets it: the install built them, so a missing one is
a failure there, not a skip)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from agentnet.serving import ServeConfig, start
from agentnet.serving.llama_server import BUILD_HINT, find_binary
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


def _missing(why: str) -> None:
    if os.environ.get("AGENTNET_REQUIRE_LOCAL"):
        pytest.fail(f"{why} (AGENTNET_REQUIRE_LOCAL is set: the install should have provided it)")
    pytest.skip(f"SKIPPED LOUDLY: {why}")


def _require_local(model: str = "smollm2-135m") -> None:
    """The embedded engine's binary and `model` are installed (else skip loudly, or fail)."""
    if find_binary() is None:
        _missing(f"no llama-server binary; {BUILD_HINT}, or run `make install-dev`")
    status = model_status(NAMED_MODELS[model], default_cache_dir())
    if status != "ready":
        _missing(f"{model} {status}")


@pytest.fixture(scope="session")
def smollm2_server(tmp_path_factory: pytest.TempPathFactory):
    """One real llama-server with SmolLM2-135M (4 slots) for the whole session: plumbing, not answers."""
    _require_local()
    config = ServeConfig(model="smollm2-135m", ctx_size=2048, cache_dir=tmp_path_factory.mktemp("cache"))
    with start(config) as server:
        yield server


def one_fast(values: Iterable[Any], fast: Any) -> list[Any]:
    """Parameters of which only `fast` runs in the default tier; the others are marked `slow`.
    A multi-seed (or multi-kind) planted training keeps one representative in `make test` and
    runs every seed in `make test-slow`; stacked on two parameters, the default tier runs the
    one combination of both fast values."""
    return [v if v == fast else pytest.param(v, marks=pytest.mark.slow) for v in values]


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
