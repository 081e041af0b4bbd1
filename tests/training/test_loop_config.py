"""The loop's configuration, its Kubernetes rendering (a chain of Jobs; the trained planner's model server and
the planner's patch), its data rules and figures — everything of `workforce-train loop` that needs no model."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workforce_train.cli import main
from workforce_train.data.owl.dpo import dpo_pairs
from workforce_train.io import DataError
from workforce_train.jobs import JobSettings
from workforce_train.loop.config import Serve, load_config
from workforce_train.loop.jobs import render_chain
from workforce_train.loop.metrics import run_metrics
from workforce_train.loop.pipeline import STAGES
from workforce_train.loop.register import RegisterError, model_server_manifests, planner_env_patch

VALIDATOR = Path(sys.executable).parent / "kubernetes-validate"
K8S_VERSION = "1.33.0"


def write_config(tmp_path, **extra) -> Path:
    config = {"dataset": {"path": "q.jsonl"}, "work_dir": "out", **extra}
    path = tmp_path / "loop.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def validate(manifests: list[dict], tmp_path) -> str:
    path = tmp_path / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(manifests))
    result = subprocess.run([str(VALIDATOR), "--strict", "-k", K8S_VERSION, str(path)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_config_resolves_paths_and_rejects_typos(tmp_path):
    cfg = load_config(write_config(tmp_path, run={"samples": 3, "temperatures": [0.5]}))
    assert cfg.dataset.path == str(tmp_path / "q.jsonl") and cfg.work_dir == str(tmp_path / "out")
    assert cfg.run.samples == 3 and cfg.dpo.cpu and cfg.serve.kind == "local"
    with pytest.raises(DataError, match=r"run.sample: Extra inputs are not permitted"):
        load_config(write_config(tmp_path, run={"sample": 3}))
    with pytest.raises(DataError, match=r"run.samples: Input should be greater than or equal to 1"):
        load_config(write_config(tmp_path, run={"samples": 0}))
    with pytest.raises(DataError, match="export.name"):
        load_config(write_config(tmp_path, export={"name": "two words"}))
    with pytest.raises(DataError, match="file not found"):
        load_config(tmp_path / "missing.yaml")


def test_the_chain_of_jobs_runs_the_stages_in_order(tmp_path):
    jobs = render_chain("/data/loop.yaml", "/checkpoints/loop", JobSettings(), name="wf-loop-abc")
    assert [j["spec"]["template"]["spec"]["containers"][0]["command"][-1] for j in jobs] == list(STAGES)
    for index, job in enumerate(jobs):
        pod = job["spec"]["template"]["spec"]
        command = pod["containers"][0]["command"]
        assert command[:4] == ["workforce-train", "loop", "--config", "/data/loop.yaml"]
        assert len(job["metadata"]["name"]) <= 63 and job["metadata"]["labels"]["workforce.dev/loop"] == "wf-loop-abc"
        if index == 0:
            assert "initContainers" not in pod
        else:
            wait = pod["initContainers"][0]["command"][-1]
            assert f"/checkpoints/loop/done/{STAGES[index - 1]}" in wait
            assert f"/checkpoints/loop/failed/{STAGES[index - 1]}" in wait and "exit 1" in wait
        gpus = pod["containers"][0]["resources"].get("limits", {}).get("nvidia.com/gpu")
        assert gpus == ("1" if STAGES[index] == "sft" else None), (STAGES[index], gpus)
    assert validate(jobs, tmp_path).count(" passed for resource ") == len(STAGES)


def test_the_wait_script_really_waits_and_stops_on_failure(tmp_path):
    jobs = render_chain("/c.yaml", str(tmp_path), JobSettings(), name="x", stages=("a", "b"))
    script = jobs[1]["spec"]["template"]["spec"]["initContainers"][0]["command"]
    (tmp_path / "failed").mkdir()
    (tmp_path / "failed" / "a").write_text("boom\n")
    result = subprocess.run(script, capture_output=True, text=True, timeout=20)
    assert result.returncode == 1 and "stage a failed: boom" in result.stdout
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "a").write_text("ok\n")
    assert subprocess.run(script, capture_output=True, timeout=20).returncode == 0


def test_loop_jobs_dry_run_from_the_cli(tmp_path, capsys):
    assert main(["loop", "--config", str(write_config(tmp_path, dpo={"cpu": False, "num_gpus": 4})),
                 "--jobs", "--dry-run", "--cluster-config", "/data/loop.yaml"]) == 0
    jobs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert len(jobs) == len(STAGES)
    dpo = next(j for j in jobs if j["metadata"]["name"].endswith("-dpo"))
    assert dpo["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "4"


def test_kubernetes_serving_manifests_and_planner_patch(tmp_path):
    cfg = Serve(kind="kubernetes", namespace="wf", release="prod", model_mount="/checkpoints")
    manifests = model_server_manifests(cfg, Path("/checkpoints/loop/export/owl-planner-r1.gguf"), "owl-planner-r1")
    deployment, service = manifests
    env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["WF_LOCAL_MODEL"] == "/models/loop/export/owl-planner-r1.gguf"
    assert env["WF_MODEL_SERVER_ALIAS"] == "owl-planner-r1" and service["metadata"]["name"] == "prod-model-owl-planner-r1"
    validate(manifests, tmp_path)
    # its own pods only: the chart's model server Service (component model-server) must not select them
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "trained-model-server"
    assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    with pytest.raises(RegisterError, match="not on the model volume"):
        model_server_manifests(cfg, Path("/elsewhere/x.gguf"), "x")
    patch = planner_env_patch(cfg, "http://m:8090/v1", "owl-planner-r1", "planner=old,coordinator=big")
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "planner"
    assert {e["name"]: e["value"] for e in container["env"]} == {
        "WF_LLM_BASE_URL": "http://m:8090/v1", "WF_LLM_MODELS": "planner=owl-planner-r1,coordinator=big"}


def _attempt(qid, sample, status, value, output, correct=None):
    return {"id": qid, "sample": sample, "status": status,
            "score": {"value": value, "correct": bool(value >= 1.0) if correct is None else correct},
            "trajectory": {"planner_calls": [{"kind": "plan", "messages": [{"role": "user", "content": qid}],
                                              "output": output}]}}


def test_dpo_pairs_by_score_gap():
    records = [_attempt("q", 0, "succeeded", 0.8, "A"), _attempt("q", 1, "succeeded", 0.5, "B"),
               _attempt("q", 2, "failed", 0.9, "C"), _attempt("q", 3, "succeeded", 0.795, "D")]
    assert dpo_pairs(records) == []  # nothing is correct: no pair by the verdict
    pairs = dpo_pairs(records, min_gap=0.1)
    got = [(p["chosen"][-1]["content"], p["rejected"][-1]["content"], round(p["margin"], 3)) for p in pairs]
    # a failed attempt counts as 0 whatever its answer scored; A and D differ by less than the gap; the widest
    # gaps of the best outputs first, 4 pairs per prompt at most (B over C is the fifth)
    assert got == [("A", "C", 0.8), ("A", "B", 0.3), ("D", "C", 0.795), ("D", "B", 0.295)]


def test_run_metrics_count_plans_models_and_tokens():
    def record(qid, correct, attempts, repairs=(), model="m1", plan_event="plan.created",
               answer_event="task.succeeded"):
        events = [{"type": plan_event, "data": {"attempts": [{**a, "model": model} for a in attempts],
                                                "repairs": list(repairs), "planner_output": "{}"}},
                  {"type": "plan.assigned", "data": {"assignment": {"attempts": [{"raw": "{}", "model": "c"}]}}},
                  {"type": answer_event, "data": {"attempts": [{"raw": "x", "model": model}],
                                                  "planner_output": "x"}}]
        return {"id": qid, "status": "succeeded", "replans": 1 if repairs else 0, "latency_s": 2.0,
                "score": {"value": float(correct), "correct": correct}, "tokens": {"total": 100},
                "usage": {"planner": {"prompt_tokens": 30, "completion_tokens": 10}}, "trajectory": {"events": events}}

    figures = run_metrics([record("a", True, [{"raw": "{}"}]), record("a", False, [{"error": "bad"}, {"raw": "{}"}]),
                           # a quick assignment's plan.assigned carries the plan; an older stream's answer.created
                           record("b", False, [{"error": "bad"}], repairs=["fallback: one subtask"], model="m2",
                                  plan_event="plan.assigned", answer_event="answer.created"),
                           {"id": "c", "status": "error"}])
    assert figures["attempts"] == 4 and figures["finished"] == 3 and figures["errors"] == 1
    assert figures["accuracy"] == 0.3333 and figures["pass_at_n"] == 0.5 and figures["questions"] == 2
    assert figures["plan_valid"] == 0.3333 and figures["plan_fallback"] == 0.3333
    assert figures["tokens_per_task"] == 100 and figures["planner_tokens_per_task"] == 40
    assert figures["planner_models"] == {"m1": 5, "m2": 2}
    assert json.dumps(figures)  # the report is JSON
