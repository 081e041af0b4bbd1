"""Supervised fine-tuning with the `transformers` Trainer and DeepSpeed (optional), full or LoRA.

Loss on the target only (see `examples`), left truncation to `max_length`, bf16 where a GPU supports it
and fp32 on CPU, gradient checkpointing, and a DeepSpeed ZeRO-2/3 config file (`zero2`, `zero3` name the
files in `training-jobs/configs/deepspeed/`). The run resumes from the newest `checkpoint-N` in its
output folder; a finished run leaves `training_complete.json` and is not run again.

Multi-GPU: launch the CLI under `deepspeed` or `torchrun`; one process per GPU, the Trainer reads the
rank from the environment.
"""

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workforce_train.io import DataError, read_records
from workforce_train.trainers import checkpoints, examples
from workforce_train.trainers.lora import LoraSettings

log = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
DEEPSPEED_PRESETS = {
    "zero2": CONFIG_DIR / "deepspeed" / "zero2.json",
    "zero3": CONFIG_DIR / "deepspeed" / "zero3.json",
}


@dataclass
class SFTConfig:
    model: str
    data: list[str]
    output_dir: str
    format: str = "auto"
    max_length: int = 4096
    epochs: float = 2.0
    learning_rate: float = 1e-5
    batch_size: int = 1  # per device
    gradient_accumulation_steps: int = 1
    warmup_ratio: float = 0.03
    lr_scheduler: str = "cosine"
    weight_decay: float = 0.0
    max_steps: int = -1
    precision: str = "auto"  # auto: bf16 on a GPU that has it, fp32 otherwise
    deepspeed: str | None = None  # zero2 | zero3 | a path to a DeepSpeed JSON config
    gradient_checkpointing: bool = True
    attn_implementation: str = "sdpa"
    lora: LoraSettings | None = None
    merge_lora: bool = False  # also write the base model with the adapter merged in, to <output_dir>/merged
    save_steps: int = 500
    save_total_limit: int = 2
    logging_steps: int = 10
    seed: int = 42
    progress: bool = True
    extra: dict = field(default_factory=dict)  # more TrainingArguments, verbatim

    @classmethod
    def from_dict(cls, data: dict) -> "SFTConfig":
        data = dict(data)
        if isinstance(data.get("lora"), dict):
            data["lora"] = LoraSettings(**data["lora"])
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown SFT settings: {sorted(unknown)}")
        return cls(**data)


def resolve_precision(precision: str) -> str:
    import torch

    if precision == "auto":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    if precision not in ("bf16", "fp32"):
        raise ValueError(f"precision must be auto, bf16 or fp32, not {precision!r}")
    return precision


def resolve_deepspeed(value: str | None) -> str | None:
    if not value:
        return None
    path = DEEPSPEED_PRESETS.get(value, Path(value))
    if not Path(path).is_file():
        raise ValueError(f"DeepSpeed config {value!r} not found (presets: {sorted(DEEPSPEED_PRESETS)})")
    json.loads(Path(path).read_text())  # a broken config fails here, not deep inside DeepSpeed
    return str(path)


def build_dataset(paths: list[str], tokenizer, max_length: int, fmt: str = "auto"):
    """Tokenized records of every file; a bad record is an error naming its file and index."""
    from datasets import Dataset

    rows = []
    for path in paths:
        for index, record in enumerate(read_records(path)):
            try:
                rows.append(examples.tokenize_record(record, tokenizer, max_length, fmt))
            except DataError as exc:
                raise DataError(f"{path}: record {index}: {exc}") from None
    if not rows:
        raise DataError(f"no training records in {paths}")
    return Dataset.from_list(rows)


def run_sft(cfg: SFTConfig, overwrite: bool = False) -> dict:
    """Trains and saves; returns what `training_complete.json` holds."""
    if checkpoints.is_complete(cfg.output_dir) and not overwrite:
        log.info("%s: already complete, skipping", cfg.output_dir)
        return checkpoints.read_marker(cfg.output_dir)

    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainingArguments,
    )

    precision = resolve_precision(cfg.precision)
    deepspeed_config = resolve_deepspeed(cfg.deepspeed)
    if deepspeed_config:
        from workforce_train.trainers.deepspeed_cpu import single_process

        single_process()  # a local process group when not launched by deepspeed / torchrun
    Path(cfg.output_dir).mkdir(parents=True, exist_ok=True)

    # TrainingArguments first: with ZeRO-3 it makes from_pretrained partition the weights while loading.
    args = TrainingArguments(
        output_dir=cfg.output_dir,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        warmup_steps=cfg.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps
        lr_scheduler_type=cfg.lr_scheduler,
        weight_decay=cfg.weight_decay,
        bf16=precision == "bf16",
        gradient_checkpointing=cfg.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        deepspeed=deepspeed_config,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        logging_steps=cfg.logging_steps,
        seed=cfg.seed,
        report_to="none",
        disable_tqdm=not cfg.progress,
        remove_unused_columns=False,
        use_cpu=not torch.cuda.is_available(),
        **cfg.extra,
    )

    tokenizer = AutoTokenizer.from_pretrained(cfg.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dataset = build_dataset(cfg.data, tokenizer, cfg.max_length, cfg.format)

    dtype = torch.bfloat16 if precision == "bf16" and deepspeed_config else torch.float32
    model = AutoModelForCausalLM.from_pretrained(
        cfg.model, dtype=dtype, attn_implementation=cfg.attn_implementation
    )
    if cfg.lora:
        from workforce_train.trainers.lora import wrap

        model = wrap(model, cfg.lora)

    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=DataCollatorForSeq2Seq(
            tokenizer, padding=True, label_pad_token_id=examples.IGNORE_INDEX
        ),
        processing_class=tokenizer,
    )
    resume = None if overwrite else checkpoints.last_checkpoint(cfg.output_dir)
    if resume:
        log.info("resuming from %s", resume)
    started = time.monotonic()
    result = trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(cfg.output_dir)

    info = {
        "config": asdict(cfg),
        "precision": precision,
        "deepspeed_zero_stage": (
            trainer.accelerator.state.deepspeed_plugin.zero_stage if trainer.is_deepspeed_enabled else None
        ),
        "lora": cfg.lora is not None,
        "resumed_from": resume,
        "global_step": trainer.state.global_step,
        "train_loss": result.training_loss,
        "train_runtime_s": round(time.monotonic() - started, 2),
        "examples": len(dataset),
        "losses": [e["loss"] for e in trainer.state.log_history if "loss" in e],
    }
    if trainer.is_world_process_zero():
        if cfg.lora and cfg.merge_lora:
            info["merged_dir"] = str(
                merge_adapter(cfg.model, cfg.output_dir, Path(cfg.output_dir) / "merged")
            )
        checkpoints.write_marker(cfg.output_dir, info)
    return info


def merge_adapter(base_model: str, adapter_dir: str | Path, out_dir: str | Path) -> Path:
    """The base model with the LoRA adapter merged in, saved as a full model (with the tokenizer)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(base_model)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(out_dir)
    return Path(out_dir)
