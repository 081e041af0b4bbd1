"""Trainers: SFT (transformers + DeepSpeed, optional LoRA), α-UMi GLPFT, AutoAct per-role LoRA, and DPO
with OpenRLHF (a pinned version, run with `deepspeed --module openrlhf.cli.train_dpo`).

Modules:
- `examples`: training records (OpenAI `messages`, α-UMi `{input, target}`, AutoAct `{input, output}`)
  → token ids with labels on the target only.
- `sft`: the SFT run (HF `Trainer`, DeepSpeed config, resumable from the last checkpoint).
- `lora`: LoRA settings and the adapter layout vLLM's `--lora-modules` loads.
- `glpft`, `autoact`: multi-stage runners built from `sft`.
- `dpo`: the OpenRLHF DPO command for the pinned version; `openrlhf_cpu`: the same command on CPU.
- `cli`: `register(subparsers)` adds `sft`, `dpo`, `glpft`, `autoact-lora`.
"""
