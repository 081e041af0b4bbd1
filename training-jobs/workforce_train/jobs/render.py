"""A training step → a Kubernetes Job manifest (plus a headless Service for multi-node torchrun).

The pod: the H100 pool's nodeSelector and tolerations, `nvidia.com/gpu` limits, `/dev/shm` as a
memory-backed emptyDir (NCCL and DataLoader workers need more than the container default of 64 MiB),
the data and checkpoint PVCs, secrets as env, backoffLimit and activeDeadlineSeconds. Multi-node runs
use an Indexed Job: the completion index is the torchrun node rank and pod 0 is the rendezvous master.
"""

import re
import secrets
from dataclasses import dataclass, field

import yaml

from ..launch import deepspeed_module, python_module, torchrun_module
from .config import JobSettings
from .steps import LAUNCHERS, step_defaults

LABEL = "workforce.dev/train-step"


@dataclass
class JobSpec:
    step: str
    args: list[str] = field(default_factory=list)
    gpus: int | None = None  # per node; None = the step's default
    nodes: int = 1
    launcher: str | None = None
    name: str = ""
    env: dict[str, str] = field(default_factory=dict)


def job_name(step: str, suffix: str = "") -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", f"wf-train-{step}".lower()).strip("-")[:50].rstrip("-")
    return f"{base}-{suffix or secrets.token_hex(3)}"


def launch_command(spec: JobSpec, gpus: int, launcher: str, master: str, port: int) -> list[str]:
    step = step_defaults(spec.step)
    tail = ([spec.step] if step.pass_step else []) + list(spec.args)
    if step.gpu_flag and step.gpu_flag not in spec.args:
        tail += [step.gpu_flag, str(gpus)]
    if launcher == "python":
        if spec.nodes > 1:
            raise ValueError("a multi-node job needs the torchrun launcher")
        return (
            ["workforce-train", *tail]
            if step.module == "workforce_train.cli"
            else python_module(step.module, tail)
        )
    if gpus < 1:
        raise ValueError(f"the {launcher} launcher needs at least one GPU")
    if launcher == "deepspeed":
        if spec.nodes > 1:
            raise ValueError("multi-node deepspeed needs a hostfile and ssh; use the torchrun launcher")
        return deepspeed_module(step.module, gpus, tail)
    rendezvous = (
        ["--standalone", "--nnodes=1"]
        if spec.nodes == 1
        else [
            f"--nnodes={spec.nodes}",
            "--node_rank=$(NODE_RANK)",
            f"--master_addr={master}",
            f"--master_port={port}",
        ]
    )
    return torchrun_module(step.module, gpus, tail, rendezvous)


def render_job(spec: JobSpec, settings: JobSettings | None = None) -> list[dict]:
    """The manifests to apply: [Job] or [Service, Job] for multi-node."""
    settings = settings or JobSettings()
    defaults = step_defaults(spec.step)
    gpus = defaults.gpus if spec.gpus is None else spec.gpus
    launcher = spec.launcher or defaults.launcher
    if launcher not in LAUNCHERS:
        raise ValueError(f"unknown launcher {launcher!r}; expected one of {', '.join(LAUNCHERS)}")
    if spec.nodes < 1 or gpus < 0:
        raise ValueError("nodes must be ≥ 1 and gpus ≥ 0")
    name = spec.name or job_name(spec.step)
    master = f"{name}-0.{name}"
    labels = {
        "app.kubernetes.io/name": "workforce-train",
        "app.kubernetes.io/component": "training",
        LABEL: spec.step,
    }
    env = [{"name": k, "value": str(v)} for k, v in sorted(spec.env.items())]
    env += [
        {"name": "WF_TRAIN_DATA_DIR", "value": settings.data_mount},
        {"name": "WF_TRAIN_CHECKPOINT_DIR", "value": settings.checkpoint_mount},
    ]
    env += settings.secret_env_list()
    if spec.nodes > 1:
        env.append(
            {
                "name": "NODE_RANK",
                "valueFrom": {
                    "fieldRef": {
                        "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"
                    }
                },
            }
        )
    resources: dict = {
        "requests": {
            "cpu": str(max(1, gpus) * settings.cpu_per_gpu) if gpus else "2",
            "memory": _scale(settings.memory_per_gpu, gpus) if gpus else "8Gi",
        }
    }
    if gpus:
        resources["limits"] = {settings.gpu_resource: str(gpus)}
        resources["requests"][settings.gpu_resource] = str(gpus)
    container = {
        "name": "train",
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": launch_command(spec, gpus, launcher, master, settings.master_port),
        "workingDir": settings.checkpoint_mount,
        "env": env,
        "resources": resources,
        "volumeMounts": [
            {"name": "dshm", "mountPath": "/dev/shm"},
            {"name": "data", "mountPath": settings.data_mount},
            {"name": "checkpoints", "mountPath": settings.checkpoint_mount},
        ],
    }
    if settings.secret_env_from:
        container["envFrom"] = settings.secret_env_from_list()
    pod: dict = {
        "restartPolicy": "Never",
        "containers": [container],
        "volumes": [
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": settings.shm_size}},
            {"name": "data", "persistentVolumeClaim": {"claimName": settings.data_pvc}},
            {"name": "checkpoints", "persistentVolumeClaim": {"claimName": settings.checkpoint_pvc}},
        ],
    }
    if gpus:
        pod["nodeSelector"] = settings.node_selector_map()
        pod["tolerations"] = settings.toleration_list()
    if settings.service_account:
        pod["serviceAccountName"] = settings.service_account
    if settings.image_pull_secrets:
        pod["imagePullSecrets"] = [
            {"name": n.strip()} for n in settings.image_pull_secrets.split(",") if n.strip()
        ]
    job_spec: dict = {
        "backoffLimit": settings.backoff_limit,
        "activeDeadlineSeconds": settings.active_deadline_s,
        "ttlSecondsAfterFinished": settings.ttl_after_finished_s,
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
    }
    manifests = []
    if spec.nodes > 1:
        job_spec.update(completionMode="Indexed", completions=spec.nodes, parallelism=spec.nodes)
        pod["subdomain"] = name
        manifests.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": settings.namespace, "labels": dict(labels)},
                "spec": {
                    "clusterIP": "None",
                    "selector": {"job-name": name},
                    "ports": [{"name": "rendezvous", "port": settings.master_port}],
                },
            }
        )
    manifests.append(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "namespace": settings.namespace, "labels": dict(labels)},
            "spec": job_spec,
        }
    )
    return manifests


def _scale(quantity: str, factor: int) -> str:
    match = re.fullmatch(r"(\d+)([A-Za-z]*)", quantity)
    if not match:
        raise ValueError(f"memory quantity {quantity!r} must be an integer with a unit, e.g. 160Gi")
    return f"{int(match.group(1)) * factor}{match.group(2)}"


def to_yaml(manifests: list[dict]) -> str:
    return yaml.safe_dump_all(manifests, sort_keys=False)
