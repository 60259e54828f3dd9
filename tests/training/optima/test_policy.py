from __future__ import annotations

import pytest

from agentnet.errors import ConfigError
from agentnet.training.optima.loop import Policy
from agentnet.training.optima.policy import serve_policies


def test_an_engine_that_cannot_serve_trained_weights_is_refused_listing_those_that_can() -> None:
    with pytest.raises(
        ConfigError, match="^--engine external: Optima serves its own weights; use one of llama-server, vllm$"
    ):
        serve_policies("external")
    with pytest.raises(ConfigError, match="--engine tgi"):
        serve_policies("tgi")


async def test_the_embedded_engine_needs_the_merged_gguf() -> None:
    serve = serve_policies("llama-server")
    with pytest.raises(ConfigError, match="^p has no GGUF for llama-server; train from a named model or a .gguf$"):
        async with serve(Policy("p", "/hf")):
            pass
