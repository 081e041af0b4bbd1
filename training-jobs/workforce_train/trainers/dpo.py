"""DPO with OpenRLHF: data checks and the `deepspeed --module openrlhf.cli.train_dpo` command.

One OpenRLHF version is supported: OPENRLHF_VERSION. Its flags are the dotted ones introduced at 0.10.2
(`--model.model_name_or_path`, `--data.dataset`, `--model.beta`, `--ds.zero_stage`, `--ckpt.output_dir`…);
the command is built for it only, and `check_installed` refuses another installed version.
OpenRLHF lives in its own environment (`.venv-openrlhf`, see scripts/setup.d/35-openrlhf.sh): it pins
deepspeed, transformers, ray and flash-attn to versions of its own.

Data: OpenRLHF's chat format, `{"chosen": [messages], "rejected": [messages]}` where every message but
the last is the same in both (the prompt) and the last is the assistant's answer.
"""

import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from workforce_train.io import DataError, iter_jsonl
from workforce_train.launch import deepspeed_module, python_module
from workforce_train.trainers import checkpoints

log = logging.getLogger(__name__)

OPENRLHF_VERSION = "0.11.2"
OPENRLHF_MODULE = "openrlhf.cli.train_dpo"


@dataclass
class DPOConfig:
    model: str  # the SFT model (policy init and, unless ref_model, the reference)
    data: list[str]
    output_dir: str
    ref_model: str | None = None
    beta: float = 0.1
    label_smoothing: float = 0.0
    nll_loss_coef: float = 0.0
    max_len: int = 4096
    epochs: int = 1
    learning_rate: float = 5e-7
    micro_batch_size: int = 1  # per GPU
    batch_size: int = 128  # global
    warmup_ratio: float = 0.03
    zero_stage: int = 3
    param_dtype: str = "bf16"
    attn_implementation: str = "flash_attention_2"
    gradient_checkpointing: bool = True
    ref_offload: bool = False
    adam_offload: bool = False
    lora_rank: int = 0
    lora_alpha: int = 16
    lora_target_modules: list[str] = field(default_factory=lambda: ["all-linear"])
    save_steps: int = -1  # -1: checkpoints only at the end of training
    max_samples: int = 100_000_000
    seed: int = 42
    num_gpus: int = 1
    extra_args: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict) -> "DPOConfig":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown DPO settings: {sorted(unknown)}")
        return cls(**data)

    @property
    def ckpt_path(self) -> str:
        return str(Path(self.output_dir) / "checkpoints_dpo")


def validate_pair(record: dict) -> None:
    """An OpenRLHF chat preference pair: same prompt turns, assistant answers that differ."""
    chosen, rejected = record.get("chosen"), record.get("rejected")
    for name, messages in (("chosen", chosen), ("rejected", rejected)):
        if not isinstance(messages, list) or len(messages) < 2:
            raise DataError(f"'{name}' must be a list of at least two messages")
        if not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role") for m in messages
        ):
            raise DataError(f"every '{name}' message needs a 'role' and a string 'content'")
        if messages[-1]["role"] != "assistant":
            raise DataError(f"the last '{name}' message must be the assistant's")
    if chosen[:-1] != rejected[:-1]:
        raise DataError("'chosen' and 'rejected' must share the same prompt (every message but the last)")
    if chosen[-1]["content"] == rejected[-1]["content"]:
        raise DataError("'chosen' and 'rejected' answers are identical")


def validate_file(path: str | Path) -> int:
    """Number of pairs; the first bad one is an error naming its line."""
    count = 0
    for number, record in enumerate(iter_jsonl(path), 1):
        try:
            validate_pair(record)
        except DataError as exc:
            raise DataError(f"{path}: pair {number}: {exc}") from None
        count += 1
    if count == 0:
        raise DataError(f"{path}: no preference pairs")
    return count


def train_args(cfg: DPOConfig, resume: bool = True) -> list[str]:
    """The arguments of `openrlhf.cli.train_dpo` (OPENRLHF_VERSION's names)."""
    args = [
        "--model.model_name_or_path", cfg.model,
        "--data.dataset", ",".join(cfg.data),
        "--data.apply_chat_template",
        "--data.chosen_key", "chosen",
        "--data.rejected_key", "rejected",
        "--data.max_len", str(cfg.max_len),
        "--data.max_samples", str(cfg.max_samples),
        "--train.max_epochs", str(cfg.epochs),
        "--train.micro_batch_size", str(cfg.micro_batch_size),
        "--train.batch_size", str(cfg.batch_size),
        "--train.seed", str(cfg.seed),
        "--adam.lr", str(cfg.learning_rate),
        "--lr_warmup_ratio", str(cfg.warmup_ratio),
        "--model.beta", str(cfg.beta),
        "--model.label_smoothing", str(cfg.label_smoothing),
        "--model.nll_loss_coef", str(cfg.nll_loss_coef),
        "--ds.zero_stage", str(cfg.zero_stage),
        "--ds.param_dtype", cfg.param_dtype,
        "--ds.attn_implementation", cfg.attn_implementation,
        "--ckpt.output_dir", cfg.output_dir,
        "--ckpt.path", cfg.ckpt_path,
        "--ckpt.save_steps", str(cfg.save_steps),
        "--logger.logging_steps", "1",
    ]  # fmt: skip
    if cfg.ref_model:
        args += ["--ref.model_name_or_path", cfg.ref_model]
    if cfg.gradient_checkpointing:
        args.append("--model.gradient_checkpointing_enable")
    if cfg.ref_offload:
        args.append("--ref.offload")
    if cfg.adam_offload:
        args.append("--ds.adam_offload")
    if cfg.lora_rank > 0:
        args += ["--ds.lora.rank", str(cfg.lora_rank), "--ds.lora.alpha", str(cfg.lora_alpha)]
        args += ["--ds.lora.target_modules", *cfg.lora_target_modules]
    if resume:
        args.append("--ckpt.load_enable")  # OpenRLHF resumes from --ckpt.path when it exists
    return args + list(cfg.extra_args)


def command(cfg: DPOConfig, resume: bool = True) -> list[str]:
    """`deepspeed --num_gpus=N --module openrlhf.cli.train_dpo …` (run it with .venv-openrlhf on PATH)."""
    return deepspeed_module(OPENRLHF_MODULE, cfg.num_gpus, train_args(cfg, resume))


def check_installed(python: str = sys.executable) -> None:
    """The OpenRLHF in `python`'s environment must be the pinned one."""
    probe = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('openrlhf'))"],
        check=False,
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        raise RuntimeError(
            f"OpenRLHF is not installed for {python}; run scripts/setup.d/35-openrlhf.sh and use .venv-openrlhf"
        )
    version = probe.stdout.strip()
    if version != OPENRLHF_VERSION:
        raise RuntimeError(
            f"OpenRLHF {version} is installed; these commands are built for {OPENRLHF_VERSION}"
        )


def cpu_command(cfg: DPOConfig, python: str, resume: bool = True) -> list[str]:
    """The same arguments through `openrlhf_cpu` (OpenRLHF's train_dpo on CPU; ZeRO ≤ 2)."""
    return python_module("workforce_train.trainers.openrlhf_cpu", train_args(cfg, resume), python)


def run_dpo(cfg: DPOConfig, python: str | None = None, dry_run: bool = False, cpu: bool = False) -> dict:
    """Checks the data, then runs OpenRLHF (resuming from its checkpoints); returns the marker info."""
    if checkpoints.is_complete(cfg.output_dir):
        log.info("%s: already complete, skipping", cfg.output_dir)
        return checkpoints.read_marker(cfg.output_dir)
    pairs = sum(validate_file(path) for path in cfg.data)
    python = python or os.environ.get("WF_OPENRLHF_PYTHON", sys.executable)
    cmd = cpu_command(cfg, python) if cpu else command(cfg)
    if dry_run:
        return {"command": cmd, "pairs": pairs}
    check_installed(python)
    env = dict(os.environ)
    env["PATH"] = f"{Path(python).parent}{os.pathsep}{env.get('PATH', '')}"  # its `deepspeed` launcher
    package_root = str(Path(__file__).resolve().parents[2])  # workforce_train for the launched processes
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    Path(cfg.output_dir).mkdir(parents=True, exist_ok=True)
    log.info("running %s", " ".join(cmd))
    subprocess.run(cmd, env=env, check=True)
    info = {"command": cmd, "pairs": pairs, "openrlhf": OPENRLHF_VERSION, "cpu": cpu}
    checkpoints.write_marker(cfg.output_dir, info)
    return info
