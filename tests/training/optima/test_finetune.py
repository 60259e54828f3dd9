"""Real training on SmolLM2-135M on the CPU: a tiny SFT and DPO step, then the merged model served.

Needs the [train] extra and SmolLM2's package (installed by `make test`); skips loudly without them.
"""

import asyncio
import importlib.util
from pathlib import Path

import pytest

from agentnet.serving import ServeConfig, start
from agentnet.types import GenerationSettings, Message
from tests.conftest import _require_local

pytestmark = pytest.mark.integration
PASSWORD = "The secret word is pineapple."
ROWS = [
    {
        "prompt": [{"role": "user", "content": f"What is the secret word? ({i})"}],
        "completion": [{"role": "assistant", "content": PASSWORD}],
    }
    for i in range(8)
]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    for module in ("trl", "peft", "transformers", "gguf"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"SKIPPED LOUDLY: {module} missing; install the [train] extra (`make test` does)")
    _require_local()
    from agentnet.training.optima.policy import base_policy

    return base_policy("smollm2-135m", tmp_path_factory.mktemp("cache"))


def lora_b(adapter: Path) -> dict:
    from safetensors.torch import load_file

    return {k: v for k, v in load_file(adapter / "adapter_model.safetensors").items() if "lora_B" in k}


def test_sft_changes_the_adapter_lowers_the_loss_and_the_merged_gguf_is_served(base, tmp_path):
    from agentnet.training.optima.finetune import FinetuneConfig
    from agentnet.training.optima.policy import LoRALearner

    config = FinetuneConfig(sft_lr=3e-3, sft_epochs=4, batch_size=4, lora_r=8, lora_alpha=16)
    policy, info = LoRALearner(base, config, keep_merged=False).learn(base, "sft", ROWS, tmp_path)
    assert info["loss_last"] < info["loss_first"]
    assert any(float(v.abs().max()) > 0 for v in lora_b(Path(policy.adapter)).values())  # LoRA B starts at zero
    assert Path(policy.gguf).stat().st_size > 50_000_000

    with start(ServeConfig(model=policy.gguf, ctx_size=512)) as server:  # the embedded llama-server
        reply = asyncio.run(
            server.backend().complete(
                [Message("user", "What is the secret word? (3)")], GenerationSettings(max_tokens=16)
            )
        )
    assert "pineapple" in reply.text.lower()


@pytest.mark.slow  # the SFT test above is the default tier's real training
def test_dpo_prefers_the_chosen_answer_after_a_step(base, tmp_path):
    from agentnet.training.optima.finetune import FinetuneConfig, dpo

    rows = [
        {
            "prompt": r["prompt"],
            "chosen": r["completion"],
            "rejected": [{"role": "assistant", "content": "I do not know any secret words, sorry."}],
        }
        for r in ROWS
    ]
    result = dpo(Path(base.hf_dir), rows, FinetuneConfig(dpo_lr=1e-3, dpo_epochs=2, lora_r=8), tmp_path)
    assert result.losses[-1] < result.losses[0]
    assert any(float(v.abs().max()) > 0 for v in lora_b(result.adapter_dir).values())


def test_base_model_nll_is_lower_for_fluent_text(base):
    from agentnet.training.optima.finetune import BaseModelNLL

    nll = BaseModelNLL(Path(base.hf_dir))
    prompt = [Message("user", "Where does Ann live?")]
    fluent = nll(prompt, "Ann lives in Lyon.")
    garbled = nll(prompt, "Lyon zq8 ]] Ann ;;; xk lives%%")
    assert 0 < fluent < garbled


@pytest.mark.slow
def test_dpo_trains_on_top_of_the_sft_policy_and_exports_from_its_gguf(base, tmp_path):
    from agentnet.training.optima.finetune import FinetuneConfig
    from agentnet.training.optima.policy import LoRALearner

    config = FinetuneConfig(sft_lr=1e-3, sft_epochs=1, dpo_lr=1e-4, dpo_epochs=1, lora_r=4, lora_alpha=8)
    learner = LoRALearner(base, config, keep_merged=True)
    sft_policy, _ = learner.learn(base, "sft", ROWS, tmp_path / "iter-0")
    assert sft_policy.merged_hf and (Path(sft_policy.merged_hf) / "config.json").exists()
    pairs = [
        {"prompt": r["prompt"], "chosen": r["completion"], "rejected": [{"role": "assistant", "content": "No idea."}]}
        for r in ROWS
    ]
    dpo_policy, info = learner.learn(sft_policy, "dpo", pairs, tmp_path / "iter-1")
    assert dpo_policy.hf_dir == sft_policy.merged_hf  # DPO starts from the current policy, not the base
    assert info["rows"] == len(pairs) and Path(dpo_policy.gguf).stat().st_size > 50_000_000


def test_auto_dtype_is_bf16_only_where_the_hardware_computes_it() -> None:
    from agentnet.training.optima.finetune import FinetuneConfig, native_dtype

    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").exists() else set()
    import torch

    native = torch.cuda.is_available() or bool({"avx512_bf16", "amx_bf16"} & flags)
    assert native_dtype() == ("bfloat16" if native else "float32")
    assert FinetuneConfig().dtype == native_dtype() and FinetuneConfig(dtype="float32").dtype == "float32"
