"""Fine-tuning with TRL (SFT, DPO) and peft LoRA, plus the base model's NLL for readability.

The same code runs on a GPU with a bigger model. `dtype="auto"` trains in bf16 on a GPU and on
CPUs with native bf16 (AVX512-BF16/AMX: 2–3× faster than fp32, SmolLM2-135M trains in
seconds) and in fp32 elsewhere: on an AVX2-only CPU bf16 is emulated and one SFT step of
SmolLM2 took minutes (measured on an AMD EPYC with AVX2). Learning rates default to LoRA-sized values (Optima's 1e-6 /
5e-7 are for full fine-tuning of an 8B model). Heavy imports happen inside the functions:
`pip install -c constraints.txt -e '.[train]'`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from agentnet.checks import check_fields
from agentnet.errors import ConfigError, MissingDependencyError, require_at_least_one
from agentnet.types import Message

if TYPE_CHECKING:
    from peft import PeftModel


@dataclass(frozen=True)
class FinetuneConfig:
    lora_r: int = field(default=16, metadata={"ge": 1, "le": 4096, "help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"ge": 1, "help": "LoRA alpha (scale = alpha / r)."})
    sft_lr: float = field(default=2e-4, metadata={"gt": 0, "help": "SFT learning rate."})
    sft_epochs: float = field(default=2.0, metadata={"gt": 0, "help": "SFT epochs per iteration."})
    dpo_lr: float = field(default=5e-5, metadata={"gt": 0, "help": "DPO learning rate."})
    dpo_beta: float = field(default=0.2, metadata={"gt": 0, "help": "DPO beta."})
    dpo_epochs: float = field(default=1.0, metadata={"gt": 0, "help": "DPO epochs per iteration."})
    batch_size: int = field(default=4, metadata={"ge": 1, "help": "Rows per optimiser step."})
    max_length: int = field(default=1024, metadata={"ge": 1, "help": "Tokens per row (longer rows are truncated)."})
    dtype: str = field(
        default="auto",
        metadata={"help": "auto (bfloat16 on a GPU or a CPU with native bf16, else float32), bfloat16 or float32."},
    )
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "Trade compute for memory (big models on a GPU)."}
    )
    seed: int = field(default=0, metadata={"help": "Seed for generated tasks, sampling and item order."})

    def __post_init__(self) -> None:
        check_fields(self)
        if self.dtype not in ("auto", "bfloat16", "float32"):
            raise ConfigError(f"dtype={self.dtype!r}: use auto, bfloat16 or float32")
        if self.dtype == "auto":
            object.__setattr__(self, "dtype", native_dtype())
        require_at_least_one(self, "lora_r", "batch_size")


@dataclass(frozen=True)
class TrainResult:
    adapter_dir: Path
    losses: list[float]  # the logged training loss of every step
    rows: int
    seconds: float


def _torch() -> Any:
    try:
        import peft  # noqa: F401
        import torch
        import trl  # noqa: F401
    except ImportError as e:
        raise MissingDependencyError(
            f"fine-tuning needs {e.name}: run `pip install -c constraints.txt -e '.[train]'`"
        ) from None
    return torch


def native_dtype() -> str:
    """bfloat16 where the hardware computes it natively, else float32."""
    import torch

    if torch.cuda.is_available():
        return "bfloat16"
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return "float32"
    return "bfloat16" if {"avx512_bf16", "amx_bf16"} & set(flags) else "float32"


def load(model_dir: Path, dtype: str = "bfloat16") -> tuple[Any, Any]:
    torch = _torch()
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype))
    return model, load_tokenizer(model_dir)


def load_tokenizer(model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    loaded = AutoTokenizer.from_pretrained(model_dir)
    if loaded.pad_token is None:
        loaded.pad_token = loaded.eos_token
    return loaded


def _common(config: FinetuneConfig, out_dir: Path, lr: float, epochs: float) -> dict[str, Any]:
    torch = _torch()
    return dict(
        output_dir=str(out_dir / "trainer"),
        learning_rate=lr,
        num_train_epochs=epochs,
        per_device_train_batch_size=config.batch_size,
        max_length=config.max_length,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=config.seed,
        bf16=config.dtype == "bfloat16",
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
        gradient_checkpointing=config.gradient_checkpointing,
    )


def _lora(config: FinetuneConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, target_modules="all-linear", task_type="CAUSAL_LM")


def quiet() -> None:
    """Silence the HF libraries' progress bars, info logs and deprecation chatter (CLI use)."""
    import warnings

    import datasets
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|trl|peft)\.")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(transformers|trl|peft)\.")


def sft(model_dir: Path, rows: Sequence[dict[str, Any]], config: FinetuneConfig, out_dir: Path) -> TrainResult:
    """LoRA SFT on prompt-completion rows (loss on the completions only)."""
    return _train("sft", model_dir, rows, config, out_dir)


def dpo(model_dir: Path, rows: Sequence[dict[str, Any]], config: FinetuneConfig, out_dir: Path) -> TrainResult:
    """LoRA DPO on prompt/chosen/rejected rows; the frozen base is the reference model."""
    return _train("dpo", model_dir, rows, config, out_dir)


def _train(
    method: str, model_dir: Path, rows: Sequence[dict[str, Any]], config: FinetuneConfig, out_dir: Path
) -> TrainResult:
    _torch()
    import trl
    from datasets import Dataset
    from transformers import PrinterCallback

    if not rows:
        raise ConfigError(f"no {method.upper()} rows to train on")
    started = time.perf_counter()
    model, tokenizer = load(model_dir, config.dtype)
    data, lora = Dataset.from_list(list(rows)), _lora(config)
    trainer: trl.SFTTrainer | trl.DPOTrainer
    if method == "sft":
        sft = trl.SFTConfig(**_common(config, out_dir, config.sft_lr, config.sft_epochs))
        trainer = trl.SFTTrainer(
            model=model, args=sft, train_dataset=data, processing_class=tokenizer, peft_config=lora
        )
    else:
        dpo = trl.DPOConfig(beta=config.dpo_beta, **_common(config, out_dir, config.dpo_lr, config.dpo_epochs))
        trainer = trl.DPOTrainer(
            model=model, args=dpo, train_dataset=data, processing_class=tokenizer, peft_config=lora
        )
    trainer.remove_callback(PrinterCallback)  # losses stay in log_history; the caller reports them
    trainer.train()
    adapter = out_dir / "adapter"
    cast("PeftModel", trainer.model).save_pretrained(str(adapter))  # peft_config= wrapped the model in its adapter
    losses = [float(h["loss"]) for h in trainer.state.log_history if "loss" in h]
    return TrainResult(adapter, losses, len(rows), time.perf_counter() - started)


def merged(model_dir: Path, adapter_dir: Path, dtype: str = "float32") -> Any:
    """The base model with the adapter attached (not yet merged: `lora_deltas` reads it)."""
    from peft import PeftModel

    model, _ = load(model_dir, dtype)
    return PeftModel.from_pretrained(model, adapter_dir)


def save_merged_hf(peft_model: Any, model_dir: Path, out: Path, dtype: str = "bfloat16") -> Path:
    """Merge the adapter into `peft_model` (in place: read any LoRA deltas first) and write an
    HF-format directory with `model_dir`'s tokenizer (what the next DPO iteration trains on)."""
    torch = _torch()
    peft_model.merge_and_unload().to(getattr(torch, dtype)).save_pretrained(out)
    load_tokenizer(model_dir).save_pretrained(out)
    return out


class BaseModelNLL:
    """Mean per-token NLL of a message given its prompt, under the base model (cached)."""

    def __init__(self, model_dir: Path, dtype: str = "auto"):
        torch = _torch()
        self.torch = torch
        self.model, self.tokenizer = load(model_dir, native_dtype() if dtype == "auto" else dtype)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(self.device).eval()
        self.cache: dict[tuple[tuple[Message, ...], str], float] = {}

    def __call__(self, prompt: Sequence[Message], text: str) -> float:
        key = (tuple(prompt), text)
        if key not in self.cache:
            self.cache[key] = self._nll(prompt, text)
        return self.cache[key]

    def _nll(self, prompt: Sequence[Message], text: str) -> float:
        chat = [m.to_dict() for m in prompt]
        head = self.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        head_ids = self.tokenizer(head, add_special_tokens=False)["input_ids"]
        body_ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if not body_ids:
            return 0.0
        ids = self.torch.tensor([head_ids + body_ids], device=self.device)
        labels = ids.clone()
        labels[0, : len(head_ids)] = -100
        with self.torch.no_grad():
            return float(self.model(input_ids=ids, labels=labels).loss)
