"""DeepSpeed in one local process (tests, smoke runs, a CPU machine), shared by the SFT trainer and
OpenRLHF's DPO on CPU (openrlhf_cpu.py):

- DeepSpeed wants a process group even for one process: when no launcher set RANK, a local one (rank 0 of 1,
  a free port on 127.0.0.1);
- on a CPU accelerator DeepSpeed JIT-compiles `deepspeed_shm_comm` (intra-node all-reduce between CPU
  processes) when its process group starts — minutes of C++ compilation on a small machine — although one
  process never all-reduces with another: skipped when there is no CUDA and the world size is 1.
"""

import importlib
import os
import socket


def single_process() -> None:
    """Both of the above; call before DeepSpeed starts its process group."""
    _local_process_env()
    skip_shm_comm_build()


def _local_process_env() -> None:
    if "RANK" in os.environ:
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(
        RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )


def skip_shm_comm_build() -> None:
    import torch

    if torch.cuda.is_available() or int(os.environ.get("WORLD_SIZE", "1")) != 1:
        return
    # import_module, not `import deepspeed.comm.torch as …`: the package re-exports the name `torch`.
    importlib.import_module("deepspeed.comm.torch").build_shm_op = lambda: None
