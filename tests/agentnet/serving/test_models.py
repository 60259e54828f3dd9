from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from agentnet.errors import ModelError, UnknownNameError
from agentnet.serving.models import NAMED_MODELS, assemble, resolve, verify


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_unknown_name_lists_the_known_models(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError) as info:
        resolve("gpt-17", tmp_path)
    message = str(info.value)
    assert message.startswith("unknown model 'gpt-17'; known: ")
    assert "smollm2-135m" in message and "qwen2.5-coder-0.5b" in message and "\n" not in message


def test_mismatched_hash_is_refused_showing_both(tmp_path: Path) -> None:
    f = tmp_path / "m.gguf"
    f.write_bytes(b"not the model")
    with pytest.raises(ModelError) as info:
        verify(f, "ab" * 32, tmp_path)
    assert _sha(b"not the model") in str(info.value) and "ab" * 32 in str(info.value)


def test_verified_file_is_remembered(tmp_path: Path) -> None:
    f = tmp_path / "m.gguf"
    f.write_bytes(b"weights")
    verify(f, _sha(b"weights"), tmp_path)
    ledger = json.loads((tmp_path / "verified.json").read_text())
    assert ledger[str(f.resolve())].endswith(_sha(b"weights"))
    f.write_bytes(b"tampered")  # size and mtime change, so it is hashed again
    with pytest.raises(ModelError):
        verify(f, _sha(b"weights"), tmp_path)


def test_assemble_concatenates_and_verifies(tmp_path: Path) -> None:
    parts = []
    for i, chunk in enumerate([b"abc", b"def", b"g"]):
        p = tmp_path / f"part{i}.bin"
        p.write_bytes(chunk)
        parts.append(p)
    target = tmp_path / "out" / "model.gguf"
    assemble(parts, target, _sha(b"abcdefg"), 7)
    assert target.read_bytes() == b"abcdefg"

    bad = tmp_path / "out" / "bad.gguf"
    with pytest.raises(ModelError, match="does not verify"):
        assemble(parts, bad, _sha(b"other"), 7)
    assert not bad.exists() and not bad.with_suffix(".gguf.partial").exists()


def test_paths_and_hub_ids(tmp_path: Path) -> None:
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"x")
    assert resolve(str(gguf), tmp_path).format == "gguf"
    with pytest.raises(ModelError, match="does not exist"):
        resolve(str(tmp_path / "missing.gguf"), tmp_path)
    (tmp_path / "hf").mkdir()
    with pytest.raises(ModelError, match="config.json"):
        resolve(str(tmp_path / "hf"), tmp_path)
    (tmp_path / "hf" / "config.json").write_text("{}")
    assert resolve(str(tmp_path / "hf"), tmp_path).format == "hf-dir"
    assert resolve("HuggingFaceTB/SmolLM2-135M-Instruct", tmp_path).format == "hf-id"


def test_named_models_carry_the_published_hashes() -> None:
    assert NAMED_MODELS["smollm2-135m"].sha256.startswith("b179c952")
    assert NAMED_MODELS["qwen2.5-coder-0.5b"].size == 491_400_064
