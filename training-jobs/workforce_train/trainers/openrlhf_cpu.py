"""Runs OpenRLHF's own `train_dpo` on a machine without CUDA (smoke tests, CI).

    python -m workforce_train.trainers.openrlhf_cpu <the arguments of openrlhf.cli.train_dpo>

Everything is OpenRLHF's: its argument parser, `train()`, Actor, RewardDataset, DPOTrainer, DPOLoss and
DeepSpeed engine. Only the places where its DeepspeedStrategy assumes CUDA are swapped: the process
group is gloo on one local process, the device mesh is "cpu", all-reduce/all-gather stay on the CPU,
the optimizer is DeepSpeed's wrapper of torch AdamW (no compiled fused kernel), and the CUDA sync after
a barrier is dropped. OpenRLHF imports `flash_attn.bert_padding` (plain torch code); flash-attn's package
`__init__` loads its CUDA kernels, so the package is entered without running that `__init__` (any use of
the kernels still fails loudly). Needs the .venv-openrlhf environment. ZeRO stages 0-2 only.

Precision: OpenRLHF knows only bf16 and fp16 (`--ds.param_dtype`), and a CPU without native bf16 (no
AVX512-BF16 / AMX) emulates it some 40× slower than float32 — one DPO step of a 135M model took minutes.
So on CPU the weights load and DeepSpeed trains in float32 unless WF_OPENRLHF_CPU_DTYPE=bf16 asks for the
command's own dtype.
"""

import importlib.util
import os
import runpy
import sys
import types
from datetime import timedelta


def _flash_attn_without_kernels() -> None:
    if "flash_attn" in sys.modules:
        return
    spec = importlib.util.find_spec("flash_attn")
    if spec is None:
        raise RuntimeError("flash-attn is not installed (scripts/setup.d/35-openrlhf.sh installs it)")
    package = types.ModuleType("flash_attn")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__file__ = spec.origin
    sys.modules["flash_attn"] = package


def _cpu_strategy_class():
    import deepspeed
    import torch
    import transformers
    from openrlhf.utils.deepspeed import DeepspeedStrategy
    from torch import distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    from workforce_train.trainers.deepspeed_cpu import single_process

    class CpuDeepspeedStrategy(DeepspeedStrategy):
        def setup_distributed(self, timeout=timedelta(minutes=60)) -> None:
            transformers.set_seed(self.seed)
            if self.stage == 3:
                raise RuntimeError("ZeRO-3 needs CUDA; use --ds.zero_stage 0, 1 or 2 on CPU")
            single_process()
            deepspeed.init_distributed(dist_backend="gloo", timeout=timeout)
            self.world_size = dist.get_world_size()
            dp_size = self.world_size // self.ring_attn_size // self.ds_tensor_parallel_size
            self.ds_device_mesh = init_device_mesh(
                "cpu",
                (dp_size, self.ring_attn_size, self.ds_tensor_parallel_size),
                mesh_dim_names=("dp", "sp", "tp"),
            )
            self.setup_ring_attn(self.ds_device_mesh)
            self.accumulated_gradient = (
                self.train_batch_size
                * self.ring_attn_size
                * self.ds_tensor_parallel_size
                // self.micro_train_batch_size
                // self.world_size
            )

        def get_ds_train_config(self, optim_dict=None, *, max_norm=None):
            config = super().get_ds_train_config(optim_dict, max_norm=max_norm)
            if "optimizer" in config:
                config["optimizer"]["params"]["torch_adam"] = True
            return _cpu_precision(config)

        def get_ds_eval_config(self, offload=False):
            return _cpu_precision(super().get_ds_eval_config(offload))

        def all_reduce(self, data, op="mean"):
            if isinstance(data, dict):
                return {k: self.all_reduce(v, op) for k, v in data.items()}
            is_tensor = isinstance(data, torch.Tensor)
            tensor = data.clone() if is_tensor else torch.tensor([float(data)])
            if op == "mean":
                tensor /= self.world_size
            dist.all_reduce(tensor, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
            return tensor if is_tensor else tensor.item()

        def all_gather(self, data):
            if isinstance(data, dict):
                return {k: self.all_gather(v) for k, v in data.items()}
            tensor = data if isinstance(data, torch.Tensor) else torch.tensor([float(data)])
            out = [torch.zeros_like(tensor) for _ in range(self.world_size)]
            dist.all_gather(out, tensor)
            return torch.cat(out)

    return CpuDeepspeedStrategy


def _float32() -> bool:
    return os.environ.get("WF_OPENRLHF_CPU_DTYPE", "fp32") == "fp32"


def _cpu_precision(config: dict) -> dict:
    if _float32():
        config["bf16"], config["fp16"] = {"enabled": False}, {"enabled": False}
    return config


def install() -> None:
    """Makes `openrlhf.utils.get_strategy` build the CPU strategy (before train_dpo is imported)."""
    _flash_attn_without_kernels()
    if _float32():
        import openrlhf.utils.utils as utils
        import torch

        utils.convert_to_torch_dtype = lambda param_dtype: torch.float32  # models load in float32
    import openrlhf.utils
    import openrlhf.utils.deepspeed.deepspeed as ds_module
    from torch import distributed as dist

    strategy_class = _cpu_strategy_class()

    def get_strategy(args):
        return strategy_class(
            seed=getattr(args.train, "seed", 42),
            full_determinism=getattr(args.train, "full_determinism_enable", False),
            max_norm=getattr(args, "max_norm", 1.0),
            micro_train_batch_size=getattr(args.train, "micro_batch_size", 1),
            train_batch_size=getattr(args.train, "batch_size", 128),
            zero_stage=args.ds.zero_stage,
            args=args,
        )

    openrlhf.utils.get_strategy = get_strategy
    ds_module.torch_dist_barrier_and_cuda_sync = dist.barrier


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    install()
    sys.argv = ["openrlhf.cli.train_dpo", *argv]
    runpy.run_module("openrlhf.cli.train_dpo", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
