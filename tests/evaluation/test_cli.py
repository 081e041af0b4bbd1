"""`workforce-eval`: the metrics CLI, teacher-forced predictions by role services, the HotpotQA runner."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from workforce.evaluation.steps import load_step_samples

from tests.roles import support
from tests.roles.standins import StandIn
from tests.roles.support import reply

FIXTURES = Path(__file__).parent / "fixtures"
EVAL = str(Path(sys.executable).parent / "workforce-eval")

scripted_llm = support.scripted_llm  # a fixture
llm = support.llm  # a fixture


def _run(args, env=None, timeout=240):
    return subprocess.run(
        [EVAL, *args], capture_output=True, text=True, timeout=timeout, env=os.environ | (env or {})
    )


def test_metrics_cli_prints_the_seven_keys(tmp_path):
    samples = load_step_samples(FIXTURES / "toolbench_static_sample.json")
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps([dict(s, predictions=s["reference"]) for s in samples]))
    out = _run(["toolbench", "--input", str(path), "--output", str(tmp_path / "metrics.json")])
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)
    assert set(metrics) == {"plan_em", "action_em", "hallu_rate", "easy_f1", "hard_f1", "f1", "rouge"}
    assert metrics["plan_em"] == 1.0 and metrics["hallu_rate"] == 0.0
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics


def test_metrics_cli_rejects_bad_input(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"not": "a list"}')
    out = _run(["toolbench", "--input", str(path)])
    assert out.returncode != 0 and "expected a JSON list" in out.stderr


def test_teacher_forced_predictions(llm, tmp_path):
    """Every step of two trajectories; the scripted planner calls the reference's tool, then concludes."""
    trajectories = json.loads((FIXTURES / "toolbench_static_sample.json").read_text())[:2]
    data = tmp_path / "data.json"
    data.write_text(json.dumps(trajectories))
    samples = load_step_samples(data)
    first_tool = trajectories[0]["tools"][0]["Name"]
    llm.script(
        [
            reply("planner", "Call it.\nNext: caller.", contains="assistant: ", times=100),
            reply("caller", f"Action: {first_tool}\nAction Input: {{}}", times=100),
            reply("summarizer", "done", times=100),
        ]
    )
    out = _run(
        [
            "toolbench-predict",
            "--data",
            str(data),
            "--output",
            str(tmp_path / "p.json"),
            "--concurrency",
            "2",
        ],
        env={"WF_LLM_BASE_URL": llm.base_url, "WF_ROLE_COMPLETION_API": "chat", "WF_LLM_MAX_RETRIES": "0"},
    )
    assert out.returncode == 0, out.stderr
    predictions = json.loads((tmp_path / "p.json").read_text())
    assert len(predictions) == len(samples)
    assert all(
        p["predictions"] == f"assistant: Call it.\nNext: caller.</s>caller: Action: {first_tool}\n"
        "Action Input: {}</s>"
        for p in predictions
    )
    report = json.loads(out.stdout)
    calls = sum(1 for s in samples if "Next: caller" in s["reference"])
    assert report["plan_em"] == pytest.approx(calls / len(samples))
    # the planner was asked once per step, with the training-format prompt
    planner_prompts = [r["messages"][-1]["content"] for r in llm.requests() if r["role"] == "planner"]
    assert len(planner_prompts) == len(samples)
    assert all(p.startswith("system: You have assess to the following apis:\n") for p in planner_prompts)


def test_hotpotqa_runner(llm, tmp_path):
    llm.script(
        [
            reply("plan", {"thought": "Answer.", "action_type": "Finish"}, times=100),
            reply("tool", {"argument": "Badr Hari"}, times=100),
            reply("reflect", {"thought": "ok", "verdict": "right"}, times=100),
        ]
    )
    with StandIn() as wiki:
        out = _run(
            [
                "hotpotqa",
                "--data-dir",
                str(FIXTURES),
                "--limit",
                "2",
                "--wikipedia-url",
                wiki.url + "/w/api.php",
            ],
            env={"WF_LLM_BASE_URL": llm.base_url, "WF_LLM_MAX_RETRIES": "0"},
        )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    golds = {
        level: [q["answer"] for q in json.loads((FIXTURES / f"hotpotqa_{level}.json").read_text())[:2]]
        for level in ("easy", "medium", "hard")
    }
    for level, answers in golds.items():
        expected = sum(a == "Badr Hari" for a in answers) / 2
        assert report[level]["n"] == 2 and report[level]["em"] == pytest.approx(expected)
    assert report["all"]["n"] == 6


async def test_invalid_role_output_is_kept_for_the_metrics(llm):
    """An untagged plan goes to the caller; a hallucinated tool name stays in the prediction and counts."""
    from workforce.evaluation.teacher_forced import predict_all
    from workforce.evaluation.toolbench import evaluate
    from workforce.core.toollearning.role_clients import make_roles

    sample = next(
        s
        for s in load_step_samples(FIXTURES / "toolbench_static_sample.json")
        if "Next: caller" in s["reference"]
    )
    llm.script(
        [
            reply("planner", "I will look it up", times=5),
            reply("caller", "Action: made_up_api\nAction Input: {}", times=5),
        ]
    )
    roles = make_roles(
        support.settings_for(llm, role_max_attempts=1), None, ("planner", "caller", "summarizer")
    )
    (prediction,) = await predict_all(roles, [sample], "alpha-umi")
    assert prediction["predictions"] == (
        "assistant: I will look it upNext: caller.</s>caller: Action: made_up_api\nAction Input: {}</s>"
    )
    metrics = evaluate([prediction])
    assert metrics["hallu_rate"] == 1.0 and metrics["plan_em"] == 1.0 and metrics["action_em"] == 0.0
