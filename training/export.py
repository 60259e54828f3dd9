"""Fine-tuned weights → a GGUF the embedded llama.cpp server can serve.

A LoRA fine-tune changes some linear layers of a model that was loaded from a GGUF. We write
a copy of the *base GGUF* (every metadata key — tokenizer, chat template — and every tensor
the fine-tune left alone, still in its original quantisation) with the changed tensors
replaced by base + delta, re-quantised (Q8_0 by default). Why not llama.cpp's own
`convert_hf_to_gguf.py` / `convert_lora_to_gguf.py`: they live in the llama.cpp source tree,
which no PyPI package ships; the `gguf` package they are built on does ship, and a merged
copy needs only its reader, writer and quantisers.

Layouts: llama.cpp stores some attention weights with rows permuted relative to HF (LLaMA's
rotary q/k). Rather than hard-code which architectures do that, each changed tensor's layout
is *measured*: the dequantised base GGUF tensor is compared with the HF base weight, as is
and under the rotary permutation, and the delta is written in whichever layout matched.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentnet.errors import ConfigError, MissingDependencyError


def _numpy_gguf() -> tuple[Any, Any]:
    try:
        import gguf
        import numpy as np
    except ImportError as e:
        raise MissingDependencyError(
            f"writing a GGUF needs {e.name}: run `pip install -c constraints.txt -e '.[train]'`"
        ) from None
    return gguf, np


def _rotary_permute(w: Any, heads: int) -> Any:
    """HF → llama.cpp row order for LLaMA-style q/k projections (as llama.cpp's converter does)."""
    rows = w.shape[0]
    return w.reshape(heads, 2, rows // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _match_layout(gguf_base: Any, hf_base: Any, heads: list[int], np: Any) -> Any:
    """A function mapping HF-layout arrays to this tensor's GGUF layout."""
    scale = float(np.abs(hf_base).mean()) + 1e-12

    def close(a: Any) -> bool:
        return a.shape == gguf_base.shape and float(np.abs(a - gguf_base).mean()) < 0.05 * scale

    if close(hf_base):
        return lambda w: w
    for h in heads:
        if h > 0 and hf_base.shape[0] % (2 * h) == 0 and close(_rotary_permute(hf_base, h)):
            return lambda w, h=h: _rotary_permute(w, h)
    raise ConfigError(
        "a fine-tuned tensor matches its base GGUF tensor in no known layout; "
        "export from the same GGUF the model was loaded from"
    )


def _field_value(field: Any, gguf: Any) -> tuple[Any, Any, Any]:
    vtype = field.types[0]
    sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
    return field.contents(), vtype, sub


def merged_gguf(
    base_gguf: Path,
    hf_names: Mapping[str, Any],
    deltas: Mapping[str, Any],
    out: Path,
    *,
    qtype: str = "Q8_0",
) -> Path:
    """Write `base_gguf` with `delta` added to each named tensor (HF names → numpy float32).

    `hf_names` maps each HF parameter name in `deltas` to its *base* weight (float32 numpy),
    used only to measure the GGUF layout.
    """
    gguf, np = _numpy_gguf()
    reader = gguf.GGUFReader(str(base_gguf))
    arch_name = reader.fields["general.architecture"].contents()
    arch = next((a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch_name), None)
    if arch is None:
        raise ConfigError(f"{base_gguf}: gguf does not know architecture {arch_name!r}")
    blocks = int(reader.fields[f"{arch_name}.block_count"].contents())
    heads = [
        int(reader.fields[k].contents())
        for k in (f"{arch_name}.attention.head_count", f"{arch_name}.attention.head_count_kv")
        if k in reader.fields
    ]
    names = gguf.get_tensor_name_map(arch, blocks)
    by_gguf: dict[str, str] = {}
    for hf in deltas:
        target = names.get_name(hf, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise ConfigError(f"no GGUF tensor for fine-tuned parameter {hf!r} ({arch_name})")
        by_gguf[target] = hf
    quant = getattr(gguf.GGMLQuantizationType, qtype)

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    writer = gguf.GGUFWriter(str(partial), arch_name)
    for field in reader.fields.values():
        if field.name == "general.architecture" or field.name.startswith("GGUF."):
            continue
        value, vtype, sub = _field_value(field, gguf)
        writer.add_key_value(field.name, value, vtype, sub_type=sub)
    written: set[str] = set()
    for tensor in reader.tensors:
        param = by_gguf.get(tensor.name)  # the fine-tuned parameter's name
        if param is None:  # untouched: copy the quantised bytes as they are
            writer.add_tensor(tensor.name, tensor.data, raw_shape=tensor.data.shape, raw_dtype=tensor.tensor_type)
            continue
        base = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        layout = _match_layout(base, np.asarray(hf_names[param], dtype=np.float32), heads, np)
        merged = base + layout(np.asarray(deltas[param], dtype=np.float32))
        if merged.shape[-1] % 32:  # Q8_0 needs rows in blocks of 32
            writer.add_tensor(tensor.name, merged.astype(np.float16))
        else:
            data = gguf.quants.quantize(merged, quant)
            writer.add_tensor(tensor.name, data, raw_shape=data.shape, raw_dtype=quant)
        written.add(tensor.name)
    missing = sorted(set(by_gguf) - written)
    if missing:
        raise ConfigError(f"{base_gguf} has no tensor(s) {', '.join(missing)}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(out)
    return out


def lora_deltas(peft_model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(base weights, deltas) of every LoRA-adapted linear layer, keyed by the HF parameter name."""
    import torch

    bases: dict[str, Any] = {}
    deltas: dict[str, Any] = {}
    for name, module in peft_model.named_modules():
        if not hasattr(module, "get_delta_weight") or not getattr(module, "active_adapters", None):
            continue
        hf = name.removeprefix("base_model.model.") + ".weight"
        with torch.no_grad():
            delta = sum(module.get_delta_weight(a) for a in module.active_adapters)
            bases[hf] = module.get_base_layer().weight.float().numpy()
            deltas[hf] = delta.float().numpy()
    if not deltas:
        raise ConfigError("the model has no LoRA layers to export")
    return bases, deltas
