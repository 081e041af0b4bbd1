"""The loop as a chain of Kubernetes Jobs: one Job per stage (`workforce-train loop --config C --stage S`), all
created at once. Each Job but the first has an init container that waits for the previous stage's
`<work_dir>/done/<stage>` marker on the shared volume (and fails if `failed/<stage>` appears instead), so the
stages run in order without a workflow engine; a failed stage stops the chain, and re-creating the chain
resumes it (a finished stage's Job only re-reads its state). GPU stages (sft, and dpo when not on CPU) get the
GPU pool's node selector, tolerations and limits from WF_TRAIN_* like every training Job (jobs/render.py).
"""

import secrets

from ..jobs.config import JobSettings
from ..jobs.render import JobSpec, job_name, render_job
from .pipeline import STAGES

WAIT = ("while [ ! -f {done} ]; do if [ -f {failed} ]; then echo \"stage {stage} failed: $(cat {failed})\"; exit 1; fi; "
        "echo waiting for stage {stage}; sleep 10; done")


def render_chain(config_path: str, work_dir: str, settings: JobSettings | None = None, *, gpus: dict | None = None,
                 name: str = "", stages: tuple[str, ...] = STAGES) -> list[dict]:
    """Job manifests, in stage order. `config_path` and `work_dir` are paths inside the pods (on the volumes)."""
    settings = settings or JobSettings()
    gpus = {"sft": 1, **(gpus or {})}
    prefix = name or job_name("loop", secrets.token_hex(3))
    jobs = []
    for index, stage in enumerate(stages):
        spec = JobSpec(step="loop", args=["--config", config_path, "--stage", stage], gpus=gpus.get(stage, 0),
                       launcher="python", name=f"{prefix}-{index:02d}-{stage.replace('_', '-')}")
        job = render_job(spec, settings)[-1]
        job["metadata"]["labels"]["workforce.dev/loop"] = prefix
        job["spec"]["template"]["metadata"]["labels"]["workforce.dev/loop"] = prefix
        if index:
            previous = stages[index - 1]
            container = job["spec"]["template"]["spec"]["containers"][0]
            job["spec"]["template"]["spec"]["initContainers"] = [{
                "name": "wait",
                "image": container["image"],
                "imagePullPolicy": container["imagePullPolicy"],
                "command": ["sh", "-c", WAIT.format(done=f"{work_dir}/done/{previous}",
                                                    failed=f"{work_dir}/failed/{previous}", stage=previous)],
                "volumeMounts": [m for m in container["volumeMounts"] if m["name"] != "dshm"],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
            }]
        jobs.append(job)
    return jobs
