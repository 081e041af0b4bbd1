"""The command lines that start a training module, in one place: a Kubernetes Job's container command
(jobs/render.py) and our DPO step's OpenRLHF launch (trainers/dpo.py) are built here.

- python:    `python -m <module> …` (one process);
- deepspeed: `deepspeed --num_gpus=G --module <module> …` (one node);
- torchrun:  `torchrun --nproc_per_node=G <rendezvous> -m <module> …`.
"""


def python_module(module: str, args: list[str], python: str = "python") -> list[str]:
    return [python, "-m", module, *args]


def deepspeed_module(module: str, gpus: int, args: list[str]) -> list[str]:
    return ["deepspeed", f"--num_gpus={gpus}", "--module", module, *args]


def torchrun_module(module: str, gpus: int, args: list[str], rendezvous: list[str]) -> list[str]:
    return ["torchrun", f"--nproc_per_node={gpus}", *rendezvous, "-m", module, *args]
