"""LoRA with `peft`, and the adapter layout vLLM serves with `--lora-modules name=path`.

vLLM loads a directory holding `adapter_config.json` (peft's, `peft_type` LORA) and
`adapter_model.safetensors`, whose target modules must be linear layers of the base model.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"


class AdapterError(ValueError):
    """An adapter directory is not in the layout vLLM loads."""


@dataclass
class LoraSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])

    def peft_config(self):
        from peft import LoraConfig, TaskType

        return LoraConfig(
            task_type=TaskType.CAUSAL_LM,
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=list(self.target_modules),
        )


def linear_module_names(model) -> set[str]:
    """Short names of the model's linear layers (what LoRA `target_modules` may name)."""
    import torch

    return {
        name.rsplit(".", 1)[-1] for name, mod in model.named_modules() if isinstance(mod, torch.nn.Linear)
    }


def wrap(model, settings: LoraSettings):
    """The model with fresh LoRA layers; unknown target modules are a clear error, not a silent no-op."""
    from peft import get_peft_model

    missing = set(settings.target_modules) - linear_module_names(model)
    if missing:
        raise AdapterError(
            f"LoRA target modules {sorted(missing)} are not linear layers of this model "
            f"(it has {sorted(linear_module_names(model))})"
        )
    return get_peft_model(model, settings.peft_config())


def check_vllm_layout(adapter_dir: str | Path) -> dict:
    """Checks the files vLLM's LoRA loader reads; returns the adapter config."""
    from safetensors import safe_open

    adapter_dir = Path(adapter_dir)
    config_path, weights_path = adapter_dir / ADAPTER_CONFIG, adapter_dir / ADAPTER_WEIGHTS
    for path in (config_path, weights_path):
        if not path.is_file():
            raise AdapterError(f"{adapter_dir}: missing {path.name}")
    config = json.loads(config_path.read_text())
    if config.get("peft_type") != "LORA":
        raise AdapterError(f"{config_path}: peft_type is {config.get('peft_type')!r}, vLLM loads LORA")
    targets = config.get("target_modules")
    if not targets:
        raise AdapterError(f"{config_path}: no target_modules")
    with safe_open(str(weights_path), framework="pt") as f:
        keys = list(f.keys())
    if not any("lora_A" in k for k in keys) or not any("lora_B" in k for k in keys):
        raise AdapterError(f"{weights_path}: no lora_A / lora_B tensors")
    trained = {k.split(".lora_")[0].rsplit(".", 1)[-1] for k in keys if ".lora_" in k}
    if not trained <= set(targets if isinstance(targets, list) else [targets]):
        raise AdapterError(f"{weights_path}: tensors for {sorted(trained)} outside target_modules {targets}")
    return config


def lora_module_arg(name: str, adapter_dir: str | Path) -> str:
    """The `--lora-modules` value for vLLM."""
    return f"{name}={Path(adapter_dir).resolve()}"
