from __future__ import annotations

import pytest

from agentnet.errors import ConfigError
from agentnet.training.optima.loop import Policy
from agentnet.training.optima.policy import serve_policies


def test_an_engine_that_cannot_serve_trained_weights_is_refused_listing_those_that_can() -> None:
    with pytest.raises(ConfigError, match="^--engine external: Optima serves its own weights; use one of llama-server, llama-cpp, vllm$"):
        serve_policies("external")
    with pytest.raises(ConfigError, match="--engine tgi"):
        serve_policies("tgi")


@pytest.mark.parametrize("engine", ["llama-server", "llama-cpp"])
async def test_gguf_engines_need_the_merged_gguf(engine: str) -> None:
    serve = serve_policies(engine)
    with pytest.raises(ConfigError, match=f"^p has no GGUF for {engine}; train from a named model or a .gguf$"):
        async with serve(Policy("p", "/hf")):
            pass
