"""DeepSpeed on one CPU process (tests, smoke runs): skip building the shared-memory all-reduce kernel.

On a CPU accelerator DeepSpeed JIT-compiles `deepspeed_shm_comm` (intra-node all-reduce between CPU
processes) when its process group starts — minutes of C++ compilation on a small machine — although one
process never all-reduces with another. Only applied when there is no CUDA and the world size is 1.
"""

import importlib
import os


def skip_shm_comm_build() -> None:
    import torch

    if torch.cuda.is_available() or int(os.environ.get("WORLD_SIZE", "1")) != 1:
        return
    # import_module, not `import deepspeed.comm.torch as …`: the package re-exports the name `torch`.
    importlib.import_module("deepspeed.comm.torch").build_shm_op = lambda: None
