"""GGUF → HF-format directory, for engines that cannot read GGUF (vLLM).

transformers reads the GGUF and dequantises it (bf16 by default: faster than fp32 on
CPUs with AVX-512 bf16, and what vLLM serves); the result is cached per model name.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

from agentnet.errors import MissingDependencyError
from agentnet.serving.models import ResolvedModel


def gguf_to_hf(model: ResolvedModel, cache_dir: Path, dtype: str = "bfloat16") -> ResolvedModel:
    out = cache_dir / "hf" / model.name
    if (out / "config.json").exists():
        return ResolvedModel(model.name, str(out), "hf-dir")
    missing = [m for m in ("transformers", "gguf", "torch") if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(
            f"converting {model.name} to HF format needs {', '.join(missing)}: "
            "run `pip install -c constraints.txt -e '.[train]'`"
        )
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(model.source)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    weights: Any = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=getattr(torch, dtype))
    # transformers dequantises GGUF into plain layers but keeps a GGUF quantizer marker
    # that refuses to save; the weights are ordinary tensors, so drop the marker.
    if getattr(weights, "hf_quantizer", None) is not None:
        weights.hf_quantizer.remove_quantization_config(weights)
    tokenizer.save_pretrained(tmp)
    weights.save_pretrained(tmp)
    tmp.replace(out)
    return ResolvedModel(model.name, str(out), "hf-dir")
