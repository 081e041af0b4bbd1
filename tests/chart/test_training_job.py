"""The chart's training Job template renders the same pod as `workforce-train submit`
(workforce_train.jobs.render), given the settings the chart publishes in its train-env ConfigMap."""

import pytest

from tests.chart.helm import by_kind, render


@pytest.fixture(scope="module")
def production():
    return render(["production"])


def python_render(docs, name: str, step: str, nodes: int = 1):
    from workforce_train.jobs.config import JobSettings
    from workforce_train.jobs.render import JobSpec, render_job

    (config,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-train-env")]
    settings = JobSettings(**{k.removeprefix("WF_TRAIN_").lower(): v for k, v in config["data"].items()})
    return render_job(JobSpec(step=step, name=name, nodes=nodes), settings)


def pod(job):
    return job["spec"]["template"]["spec"]


@pytest.mark.parametrize(
    "name, step, nodes", [("owl-planner-sft-001", "sft", 1), ("alpha-umi-glpft-001", "glpft", 2)]
)
def test_chart_job_matches_the_python_renderer(production, name, step, nodes):
    chart_job = by_kind(production, "Job")[name]
    expected = python_render(production, name, step, nodes)
    py_job = next(m for m in expected if m["kind"] == "Job")
    for key in (
        "backoffLimit",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
        "completionMode",
        "completions",
        "parallelism",
    ):
        assert chart_job["spec"].get(key) == py_job["spec"].get(key), key
    ours, theirs = pod(chart_job), pod(py_job)
    for key in ("restartPolicy", "nodeSelector", "tolerations", "subdomain"):
        assert ours.get(key) == theirs.get(key), key
    assert all(v in ours["volumes"] for v in theirs["volumes"])
    (c_ours,), (c_theirs,) = ours["containers"], theirs["containers"]
    assert c_ours["command"] == c_theirs["command"]  # the profile writes the command the CLI would launch
    assert (
        c_ours["resources"] == c_theirs["resources"]
        and c_ours["resources"]["limits"]["nvidia.com/gpu"] == "8"
    )
    assert c_ours["workingDir"] == c_theirs["workingDir"] and c_ours["image"] == c_theirs["image"]
    assert all(m in c_ours["volumeMounts"] for m in c_theirs["volumeMounts"])
    assert all(e in c_ours["env"] for e in c_theirs["env"]), (c_ours["env"], c_theirs["env"])
    assert theirs["volumes"][0]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Gi"}  # /dev/shm
    claims = set(by_kind(production, "PersistentVolumeClaim"))
    assert {
        v["persistentVolumeClaim"]["claimName"] for v in ours["volumes"] if "persistentVolumeClaim" in v
    } <= claims
    if nodes > 1:
        (svc,) = [m for m in expected if m["kind"] == "Service"]
        ours_svc = by_kind(production, "Service")[name]
        assert ours_svc["spec"] == svc["spec"]


def test_a_cpu_step_gets_no_gpu_or_gpu_node_pool(production):
    docs = render(
        ["production"],
        sets=[
            "training.jobs[0].name=score-1",
            "training.jobs[0].step=score",
            "training.jobs[0].command={workforce-train,score}",
            "training.jobs[0].gpus=0",
        ],
    )
    job = by_kind(docs, "Job")["score-1"]
    assert "nodeSelector" not in pod(job) and "limits" not in pod(job)["containers"][0]["resources"]
    expected = next(m for m in python_render(docs, "score-1", "score") if m["kind"] == "Job")
    assert pod(job)["containers"][0]["resources"] == pod(expected)["containers"][0]["resources"]


def test_jobs_carry_the_release_labels_and_stay_out_of_the_services_selectors(production):
    job = by_kind(production, "Job")["alpha-umi-glpft-001"]
    service = by_kind(production, "Service")["alpha-umi-glpft-001"]
    for obj in (job, service):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/part-of"] == "workforce"
        assert labels["helm.sh/chart"].startswith("workforce-") and labels["app.kubernetes.io/version"]
        # Not app.kubernetes.io/name=workforce: the services' NetworkPolicies and ServiceMonitor select that.
        assert labels["app.kubernetes.io/name"] == "workforce-train"
        assert labels["workforce.dev/train-step"] == "glpft"
    assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "workforce-train"


def test_a_finished_job_can_be_switched_off():
    docs = render(["production"], sets=["training.jobs[0].enabled=false"])
    jobs = by_kind(docs, "Job")
    assert "owl-planner-sft-001" not in jobs and {"alpha-umi-glpft-001", "owl-planner-dpo-001"} <= set(jobs)


def test_the_schema_knows_the_steps_of_workforce_train():
    import json

    from tests.chart.helm import CHART, render_error
    from workforce_train.jobs.steps import STEPS

    schema = json.loads((CHART / "values.schema.json").read_text())
    step = schema["properties"]["training"]["properties"]["jobs"]["items"]["properties"]["step"]
    assert set(step["enum"]) == set(STEPS) | {"custom"}
    job = {"name": "x-1", "step": "stf", "command": ["workforce-train", "sft"]}
    assert "training.jobs.0.step must be one of the following" in render_error(
        ["minimal"], values={"training": {"jobs": [job]}}
    )


def _train(job) -> dict:
    return pod(job)["containers"][0]


def test_tmp_has_a_size_limit_and_memory_no_limit_by_default(production):
    for job in by_kind(production, "Job").values():
        (tmp,) = [v for v in pod(job)["volumes"] if v["name"] == "tmp"]
        assert tmp["emptyDir"] == {"sizeLimit": "200Gi"}
        assert "memory" not in _train(job)["resources"]["limits"]
    docs = render(["production"], sets=["training.tmpSizeLimit="])
    (tmp,) = [v for v in pod(by_kind(docs, "Job")["owl-planner-sft-001"])["volumes"] if v["name"] == "tmp"]
    assert tmp["emptyDir"] == {}


def test_a_memory_limit_per_gpu_and_per_job():
    docs = render(
        ["production"],
        sets=[
            "training.memoryLimitPerGpu=120Gi",
            "training.jobs[1].memoryLimit=1000Gi",
            "training.jobs[2].name=score-1",
            "training.jobs[2].step=score",
            "training.jobs[2].gpus=0",
            "training.jobs[2].memoryLimit=16Gi",
        ],
    )
    jobs = by_kind(docs, "Job")
    sft = _train(jobs["owl-planner-sft-001"])["resources"]
    assert sft["requests"]["memory"] == "800Gi" and sft["limits"] == {"nvidia.com/gpu": "8", "memory": "960Gi"}
    assert _train(jobs["alpha-umi-glpft-001"])["resources"]["limits"]["memory"] == "1000Gi"
    score = _train(jobs["score-1"])["resources"]
    assert score["limits"] == {"memory": "16Gi"} and score["requests"]["memory"] == "8Gi"
