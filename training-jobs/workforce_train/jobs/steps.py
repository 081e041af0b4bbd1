"""How each workforce-train step is launched inside a Job: the launcher and the default GPU count.

- python: `workforce-train <step> …` (one process; data steps, scoring, the runner);
- torchrun: `torchrun --nproc_per_node=G [multi-node rendezvous] -m workforce_train.cli <step> …`
  (transformers + DeepSpeed trainers: one process per GPU);
- deepspeed: `deepspeed --num_gpus=G --module <module> …` (OpenRLHF's DPO: `openrlhf.cli.train_dpo`).
Any other step name (a subcommand added later) runs with the python launcher unless told otherwise.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    launcher: str = "python"
    gpus: int = 0
    module: str = "workforce_train.cli"  # what torchrun / deepspeed run
    pass_step: bool = True  # whether the step name is the module's first argument
    gpu_flag: str = ""  # a flag of the step itself that must carry the GPU count


STEPS: dict[str, Step] = {
    "run": Step(),
    "score": Step(),
    "report": Step(),
    "sft-data": Step(),
    "dpo-data": Step(),
    "alpha-umi-data": Step(),
    "autoact-self-instruct": Step(),
    "autoact-select-tools": Step(),
    "autoact-synthesize": Step(),
    "autoact-filter": Step(),
    "sft": Step(launcher="torchrun", gpus=8),
    "glpft": Step(launcher="torchrun", gpus=8),
    "autoact-lora": Step(launcher="torchrun", gpus=8),
    # the dpo subcommand starts OpenRLHF's `deepspeed --num_gpus N` launch itself
    "dpo": Step(launcher="python", gpus=8, gpu_flag="--num-gpus"),
    "openrlhf-dpo": Step(launcher="deepspeed", gpus=8, module="openrlhf.cli.train_dpo", pass_step=False),
}
LAUNCHERS = ("python", "torchrun", "deepspeed")


def step_defaults(name: str) -> Step:
    return STEPS.get(name, Step())
