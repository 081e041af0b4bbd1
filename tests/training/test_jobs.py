"""Training Jobs: every rendered manifest passes `kubernetes-validate --strict` against a pinned Kubernetes
version (no API server can run here, so submission itself is not exercised), and carries the GPU pool,
/dev/shm, PVCs, secrets, limits and the multi-GPU launch."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workforce_train.cli import main
from workforce_train.jobs import JobSettings, JobSpec, render_job
from workforce_train.jobs.render import to_yaml

K8S_VERSION = "1.33.0"  # the cluster version the manifests are validated against
VALIDATOR = Path(sys.executable).parent / "kubernetes-validate"

CASES = {
    "runner": JobSpec("run", ["--dataset", "/data/gaia.jsonl", "--output", "/data/runs.jsonl"]),
    "sft-8gpu": JobSpec("sft", ["--config", "/data/sft.yaml"]),
    "sft-2nodes": JobSpec("sft", ["--config", "/data/sft.yaml"], nodes=2, env={"NCCL_DEBUG": "INFO"}),
    "openrlhf-dpo": JobSpec("openrlhf-dpo", ["--model.model_name_or_path", "/checkpoints/sft"], gpus=4),
    "glpft-deepspeed": JobSpec("glpft", ["--stage", "backbone"], launcher="deepspeed", gpus=2),
    "score-cpu": JobSpec("score", ["--scorer", "cosine"], gpus=0),
}


@pytest.fixture
def settings(monkeypatch):
    monkeypatch.setenv("WF_TRAIN_SECRET_ENV", "WF_LLM_API_KEY=llm:api-key,HF_TOKEN=hf:token")
    monkeypatch.setenv("WF_TRAIN_SECRET_ENV_FROM", "workforce-train-env")
    monkeypatch.setenv("WF_TRAIN_TOLERATIONS", "nvidia.com/gpu=present:NoSchedule,h100:NoExecute")
    monkeypatch.setenv("WF_TRAIN_IMAGE_PULL_SECRETS", "registry")
    monkeypatch.setenv("WF_TRAIN_SERVICE_ACCOUNT", "trainer")
    return JobSettings()


def validate(paths: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VALIDATOR), "--strict", "-k", K8S_VERSION, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_rendered_manifest_validates_strictly(settings, tmp_path):
    paths = []
    for name, spec in CASES.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(to_yaml(render_job(spec, settings)))
        paths.append(path)
    result = validate(paths)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" passed for resource ") == 7, result.stdout  # 6 Jobs + the multi-node Service


def test_strict_validation_catches_a_misspelled_field(settings, tmp_path):
    manifest = render_job(CASES["sft-8gpu"], settings)[0]
    manifest["spec"]["backofLimit"] = 3
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(manifest))
    result = validate([path])
    assert result.returncode != 0 and "backofLimit" in result.stdout + result.stderr


def test_gpu_job_contents(settings):
    [job] = render_job(CASES["sft-8gpu"], settings)
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert job["spec"]["backoffLimit"] == 2 and job["spec"]["activeDeadlineSeconds"] == 3 * 24 * 3600
    assert container["resources"]["limits"] == {"nvidia.com/gpu": "8"}
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-h100-80gb"}
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "effect": "NoSchedule", "value": "present"},
        {"key": "h100", "operator": "Exists", "effect": "NoExecute"},
    ]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Gi"}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "workforce-train-data"
    assert volumes["checkpoints"]["persistentVolumeClaim"]["claimName"] == "workforce-train-checkpoints"
    assert {"name": "dshm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    env = {e["name"]: e for e in container["env"]}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "hf", "key": "token"}
    assert container["envFrom"] == [{"secretRef": {"name": "workforce-train-env"}}]
    assert container["command"][:4] == ["torchrun", "--nproc_per_node=8", "--standalone", "--nnodes=1"]
    assert container["command"][4:] == ["-m", "workforce_train.cli", "sft", "--config", "/data/sft.yaml"]
    assert pod["restartPolicy"] == "Never" and pod["serviceAccountName"] == "trainer"


def test_launchers(settings):
    service, job = render_job(CASES["sft-2nodes"], settings)
    name = job["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["selector"] == {"job-name": name}
    assert job["spec"]["completionMode"] == "Indexed" and job["spec"]["completions"] == 2
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--node_rank=$(NODE_RANK)" in command and f"--master_addr={name}-0.{name}" in command
    dpo = render_job(CASES["openrlhf-dpo"], settings)[0]["spec"]["template"]["spec"]["containers"][0]
    assert dpo["command"] == [
        "deepspeed",
        "--num_gpus=4",
        "--module",
        "openrlhf.cli.train_dpo",
        "--model.model_name_or_path",
        "/checkpoints/sft",
    ]
    ours = render_job(JobSpec("dpo", ["--config", "/data/dpo.json"], gpus=4), settings)[0]
    assert ours["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "workforce-train",
        "dpo",
        "--config",
        "/data/dpo.json",
        "--num-gpus",
        "4",
    ]
    assert ours["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "4"}
    cpu = render_job(CASES["runner"], settings)[0]["spec"]["template"]["spec"]
    assert "nodeSelector" not in cpu and "limits" not in cpu["containers"][0]["resources"]
    assert cpu["containers"][0]["command"][:2] == ["workforce-train", "run"]


@pytest.mark.parametrize(
    "spec,error",
    [
        (JobSpec("sft", nodes=2, launcher="deepspeed"), "hostfile"),
        (JobSpec("run", nodes=2), "torchrun"),
        (JobSpec("sft", gpus=0), "at least one GPU"),
        (JobSpec("sft", launcher="mpirun"), "unknown launcher"),
    ],
)
def test_bad_job_requests_are_clear_errors(settings, spec, error):
    with pytest.raises(ValueError, match=error):
        render_job(spec, settings)


def test_bad_configuration_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("WF_TRAIN_SECRET_ENV", "TOKEN")
    with pytest.raises(ValueError, match="ENV=secret:key"):
        render_job(JobSpec("sft"), JobSettings())


def test_submit_dry_run_prints_valid_yaml(capsys, tmp_path):
    assert (
        main(
            [
                "submit",
                "sft",
                "--gpus",
                "4",
                "--name",
                "sft-test",
                "--dry-run",
                "--",
                "--config",
                "/data/sft.yaml",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    [job] = list(yaml.safe_load_all(text))
    assert job["metadata"]["name"] == "sft-test"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][-2:] == ["--config", "/data/sft.yaml"]
    (tmp_path / "job.yaml").write_text(text)
    assert validate([tmp_path / "job.yaml"]).returncode == 0


def test_status_without_a_cluster_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert main(["status", "some-job"]) == 2
    assert "no Kubernetes configuration" in capsys.readouterr().err


def test_arguments_after_double_dash_only_for_submit(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--scored", "x.jsonl", "--", "--extra"])
    assert "takes no arguments after --" in capsys.readouterr().err
