"""`workforce-train sft | dpo | glpft | autoact-lora`.

Each takes `--config FILE.json` (the settings of its config class; see training-jobs/configs/) and flags
that override it. Runs show progress bars and resume from the last checkpoint in the output folder;
a finished run is skipped. Multi-GPU: `torchrun --nproc_per_node N -m workforce_train.cli sft …` or
`deepspeed --no_local_rank --num_gpus N --module workforce_train.cli sft …` (rank from the environment).
"""

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

from workforce_train.trainers.lora import LoraSettings


def _load(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: config file not found") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config is a JSON object")
    data.pop("_comment", None)
    return data


def _merge(config: dict, args, names: dict[str, str]) -> dict:
    """Flags given on the command line override the config file (`names`: flag dest → setting)."""
    for dest, key in names.items():
        value = getattr(args, dest)
        if value is not None:
            config[key] = value
    return config


def _require(config: dict, *keys: str) -> None:
    missing = [k for k in keys if not config.get(k)]
    if missing:
        raise ValueError(f"missing settings {missing} (give them as flags or in --config)")


def _lora_from_args(args, config: dict) -> None:
    lora = dict(config.get("lora") or {})
    for dest, key in (("lora_r", "r"), ("lora_alpha", "alpha"), ("lora_targets", "target_modules")):
        if getattr(args, dest, None) is not None:
            lora[key] = getattr(args, dest)
    if getattr(args, "lora", False) or lora:
        config["lora"] = lora


def _common_sft_flags(p) -> None:
    p.add_argument("--config", type=Path, help="JSON file of settings; flags override it")
    p.add_argument("--model", help="base model: path or hub id")
    p.add_argument("--output-dir", dest="output_dir")
    p.add_argument("--max-length", dest="max_length", type=int)
    p.add_argument("--batch-size", dest="batch_size", type=int, help="per device")
    p.add_argument("--grad-accum", dest="gradient_accumulation_steps", type=int)
    p.add_argument("--precision", choices=["auto", "bf16", "fp32"])
    p.add_argument("--deepspeed", help="zero2 | zero3 | path to a DeepSpeed JSON config")
    p.add_argument("--max-steps", dest="max_steps", type=int)
    p.add_argument("--save-steps", dest="save_steps", type=int)
    p.add_argument("--lora-r", dest="lora_r", type=int)
    p.add_argument("--lora-alpha", dest="lora_alpha", type=int)
    p.add_argument("--lora-targets", dest="lora_targets", nargs="+")
    p.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--dry-run", action="store_true", help="print the resolved settings and stop")


COMMON_SFT = {
    "max_length": "max_length",
    "batch_size": "batch_size",
    "gradient_accumulation_steps": "gradient_accumulation_steps",
    "precision": "precision",
    "deepspeed": "deepspeed",
    "max_steps": "max_steps",
    "save_steps": "save_steps",
}


def register(subparsers) -> None:
    p = subparsers.add_parser("sft", help="supervised fine-tuning (transformers + DeepSpeed, full or LoRA)")
    _common_sft_flags(p)
    p.add_argument(
        "--data", nargs="+", help="JSON/JSONL files: messages, α-UMi {input,target} or {input,output}"
    )
    p.add_argument("--format", choices=["auto", "messages", "alpha_umi", "autoact"])
    p.add_argument("--epochs", type=float)
    p.add_argument("--lr", dest="learning_rate", type=float)
    p.add_argument("--lora", action="store_true", help="train a LoRA adapter instead of all weights")
    p.add_argument("--merge-lora", dest="merge_lora", action="store_true", default=None)
    p.add_argument("--overwrite", action="store_true", help="train again even if the output is complete")
    p.set_defaults(func=_sft)

    g = subparsers.add_parser("glpft", help="α-UMi GLPFT: backbone, then planner / caller / summarizer")
    _common_sft_flags(g)
    g.add_argument(
        "--data-dir", dest="data_dir", help="folder with train_{backbone,planner,caller,summarizer}.json"
    )
    g.add_argument("--mode", choices=["full", "lora"])
    g.add_argument("--roles", nargs="+", choices=["planner", "caller", "summarizer"])
    g.set_defaults(func=_glpft)

    a = subparsers.add_parser(
        "autoact-lora", help="AutoAct: one LoRA adapter per agent (plan, tool, reflect)"
    )
    _common_sft_flags(a)
    a.add_argument("--data-dir", dest="data_dir", help="folder with data_{plan,tool,reflect}.json")
    a.add_argument("--agents", nargs="+", choices=["plan", "tool", "reflect"])
    a.add_argument("--epochs", type=float)
    a.add_argument("--lr", dest="learning_rate", type=float)
    a.set_defaults(func=_autoact)

    d = subparsers.add_parser("dpo", help="DPO with OpenRLHF (deepspeed --module openrlhf.cli.train_dpo)")
    d.add_argument("--config", type=Path)
    d.add_argument("--model", help="the SFT model (policy init and reference)")
    d.add_argument("--ref-model", dest="ref_model")
    d.add_argument("--data", nargs="+", help="JSONL of OpenRLHF chat pairs {chosen, rejected}")
    d.add_argument("--output-dir", dest="output_dir")
    d.add_argument("--beta", type=float)
    d.add_argument("--max-len", dest="max_len", type=int)
    d.add_argument("--epochs", type=int)
    d.add_argument("--lr", dest="learning_rate", type=float)
    d.add_argument("--micro-batch-size", dest="micro_batch_size", type=int)
    d.add_argument("--batch-size", dest="batch_size", type=int)
    d.add_argument("--zero-stage", dest="zero_stage", type=int, choices=[0, 1, 2, 3])
    d.add_argument("--num-gpus", dest="num_gpus", type=int)
    d.add_argument("--lora-rank", dest="lora_rank", type=int)
    d.add_argument("--attn", dest="attn_implementation", help="flash_attention_2 (default) | sdpa | eager")
    d.add_argument(
        "--openrlhf-python", dest="python", help="python of .venv-openrlhf (or WF_OPENRLHF_PYTHON)"
    )
    d.add_argument("--cpu", action="store_true", help="run OpenRLHF's trainer on CPU (smoke test; ZeRO ≤ 2)")
    d.add_argument("--dry-run", action="store_true", help="check the data and print the command")
    d.set_defaults(func=_dpo)


def _sft(args) -> int:
    from workforce_train.trainers.sft import SFTConfig, run_sft

    config = _merge(
        _load(args.config),
        args,
        {**COMMON_SFT, "model": "model", "data": "data", "output_dir": "output_dir", "format": "format",
         "epochs": "epochs", "learning_rate": "learning_rate", "merge_lora": "merge_lora"},
    )  # fmt: skip
    _lora_from_args(args, config)
    _require(config, "model", "data", "output_dir")
    cfg = SFTConfig.from_dict(config)
    if args.dry_run:
        print(json.dumps(asdict(cfg), indent=2))
        return 0
    info = run_sft(cfg, overwrite=args.overwrite)
    print(json.dumps({k: info.get(k) for k in ("global_step", "train_loss", "resumed_from", "merged_dir")}))
    return 0


def _stage_config(args, extra: dict[str, str]) -> dict:
    config = _load(args.config)
    base = dict(config.pop("base", {}) or {})
    _merge(base, args, {k: v for k, v in COMMON_SFT.items() if k != "max_length"})
    config = _merge(config, args, {"model": "model", "data_dir": "data_dir", "output_dir": "output_dir",
                                   "max_length": "max_length", **extra})  # fmt: skip
    _lora_from_args(args, config)
    config["base"] = base
    _require(config, "model", "data_dir", "output_dir")
    return config


def _glpft(args) -> int:
    from workforce_train.trainers.glpft import GLPFTConfig, plan, run_glpft

    config = _stage_config(args, {"mode": "mode", "roles": "roles"})
    if isinstance(config.get("lora"), dict):
        config["lora"] = LoraSettings(**config["lora"])
    cfg = GLPFTConfig(**config)
    if args.dry_run:
        print(json.dumps([{"stage": n, **asdict(s)} for n, s in plan(cfg)], indent=2))
        return 0
    for stage, info in run_glpft(cfg).items():
        print(
            json.dumps(
                {"stage": stage, "global_step": info.get("global_step"), "train_loss": info.get("train_loss")}
            )
        )
    return 0


def _autoact(args) -> int:
    from workforce_train.trainers.autoact import AutoActConfig, plan, run_autoact

    config = _stage_config(args, {"agents": "agents", "epochs": "epochs", "learning_rate": "learning_rate"})
    cfg = AutoActConfig(**config)
    if args.dry_run:
        print(json.dumps([{"agent": n, **asdict(s)} for n, s in plan(cfg)], indent=2))
        return 0
    for agent, info in run_autoact(cfg).items():
        print(
            json.dumps(
                {"agent": agent, "global_step": info.get("global_step"), "train_loss": info.get("train_loss")}
            )
        )
    return 0


def _dpo(args) -> int:
    from workforce_train.trainers import dpo

    config = _merge(
        _load(args.config),
        args,
        {k: k for k in ("model", "ref_model", "data", "output_dir", "beta", "max_len", "epochs", "learning_rate",
                        "micro_batch_size", "batch_size", "zero_stage", "num_gpus", "lora_rank",
                        "attn_implementation")},
    )  # fmt: skip
    _require(config, "model", "data", "output_dir")
    cfg = dpo.DPOConfig.from_dict(config)
    info = dpo.run_dpo(cfg, python=args.python, dry_run=args.dry_run, cpu=args.cpu)
    print(" ".join(info["command"]) if args.dry_run else json.dumps({"pairs": info.get("pairs")}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """The trainer subcommands alone: `python -m workforce_train.trainers.cli …` (e.g. in .venv-openrlhf,
    which lacks the rest of the pipeline's dependencies)."""
    parser = argparse.ArgumentParser(prog="workforce-train", description=__doc__)
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
