"""The loops' stage machinery without a model: which stages run, refuse or are skipped, what state.json keeps after
a failure or an interruption, the checks made before the first stage (input files, OpenRLHF, the gateway and its
API key, against the real system; the work dir's framework), the CLI without the train extra, and local mode's role
switch on failure."""

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import system  # noqa: F401  (the module-scoped whole-system fixture)
from tests.support.system import API_KEY
from workforce.local.nats_server import free_port
from workforce_train.cli import main
from workforce_train.io import DataError
from workforce_train.loop.config import load_config
from workforce_train.loop.pipeline import STAGES, Loop
from workforce_train.loop.register import RegisterError
from workforce_train.loop.roles import ROLE_STAGES, RolesLoop
from workforce_train.loop.roles_config import RolesServe, load_roles_config
from workforce_train.loop.serve_adapters import serve

ROOT = Path(__file__).resolve().parents[2]
PYTHONPATH = os.pathsep.join([str(ROOT / "services"), str(ROOT / "training-jobs")])


def loop_config(tmp_path, **extra) -> Path:
    (tmp_path / "q.jsonl").write_text(json.dumps({"id": "a", "question": "2 + 2?", "answer": "4"}) + "\n")
    (tmp_path / "base.gguf").write_bytes(b"GGUF")
    config = {"work_dir": "out", "dataset": {"path": "q.jsonl"}, "base_model": {"gguf": "base.gguf"},
              "dpo": {"enabled": False}, **extra}
    path = tmp_path / "loop.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def roles_config(tmp_path, framework: str) -> Path:
    for name in ("s2.json", "traj.jsonl", "q.jsonl", "tools.yaml"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "base.gguf").write_bytes(b"GGUF")
    config = {"framework": framework, "work_dir": "roles-out", "base_model": {"gguf": "base.gguf"},
              "data": {"stage2": "s2.json"} if framework == "alpha-umi" else {"trajectories": "traj.jsonl"},
              "run": {"questions": "q.jsonl", "registry": "tools.yaml"}}
    path = tmp_path / f"{framework}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def ran(monkeypatch):
    """Every stage of both loops replaced by one that records its name (and fails where told)."""
    calls, failing = [], {}

    def fake(name):
        def stage(self):
            calls.append(name)
            if name in failing:
                raise failing[name]
            return {"stage": name}
        return stage

    for cls, stages in ((Loop, STAGES), (RolesLoop, ROLE_STAGES)):
        for name in stages:
            monkeypatch.setattr(cls, f"stage_{name}", fake(name))
    monkeypatch.setattr(Loop, "check_gateway", lambda self: None)   # no gateway: the stages that need one are stubs
    return calls, failing


def on_disk(loop: Loop) -> dict:
    return json.loads(loop.state_path.read_text())


# --- order, skipping, invalidation ---


def test_a_rerun_logs_every_skipped_stage(tmp_path, ran, caplog):
    cfg = load_config(loop_config(tmp_path))
    Loop(cfg).run()
    ran[0].clear()
    with caplog.at_level(logging.INFO, logger="workforce_train.loop.pipeline"):
        Loop(cfg).run()
    assert ran[0] == []
    assert [r.getMessage() for r in caplog.records] == [f"stage {s}: done before, skipped" for s in STAGES]


@pytest.mark.parametrize("stage, needs", [("run_after", "register"), ("score_after", "run_after"),
                                          ("score_before", "run_before")])
def test_a_stage_refuses_to_run_before_the_one_it_builds_on(tmp_path, stage, needs, monkeypatch):
    monkeypatch.setattr(Loop, "check_gateway", lambda self: None)
    loop = Loop(load_config(loop_config(tmp_path)))
    with pytest.raises(RuntimeError, match=f"stage '{needs}' has not finished yet; run the loop from it"):
        loop.run(only=stage)
    assert stage not in on_disk(loop)["stages"] and not (loop.work / "done" / stage).exists()


def test_a_failed_redo_leaves_no_old_results(tmp_path, ran):
    calls, failing = ran
    cfg = load_config(loop_config(tmp_path))
    Loop(cfg).run()
    failing["sft"] = RuntimeError("out of memory")
    with pytest.raises(RuntimeError, match="out of memory"):
        Loop(cfg).run(start="sft")
    later = STAGES[STAGES.index("sft"):]
    assert not set(later) & set(on_disk(Loop(cfg))["stages"])  # forgotten on disk, not only in memory
    assert not any((tmp_path / "out" / "done" / s).exists() for s in later)
    assert (tmp_path / "out" / "failed" / "sft").read_text() == "RuntimeError: out of memory\n"
    del failing["sft"]
    calls.clear()
    Loop(cfg).run()  # a plain rerun redoes them
    assert calls == list(later)


def test_stage_seconds_add_up_over_interrupted_tries(tmp_path, monkeypatch):
    tries = []

    def slow_then_done(self):
        time.sleep(0.3)
        tries.append(1)
        if len(tries) == 1:
            raise KeyboardInterrupt
        return {}

    monkeypatch.setattr(Loop, "stage_base", slow_then_done)
    cfg = load_config(loop_config(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        Loop(cfg).run(only="base")
    Loop(cfg).run(only="base")
    assert on_disk(Loop(cfg))["stages"]["base"]["seconds"] >= 0.6


# --- the work dir belongs to one framework ---


def test_a_roles_work_dir_is_not_reused_for_another_framework(tmp_path, ran):
    calls, _ = ran
    RolesLoop(load_roles_config(roles_config(tmp_path, "alpha-umi"))).run()
    autoact = load_roles_config(roles_config(tmp_path, "autoact"))
    calls.clear()
    with pytest.raises(RuntimeError, match=r"made with framework=alpha-umi; give another work_dir, or redo them "
                                           r"with --from data"):
        RolesLoop(autoact).run()
    with pytest.raises(RuntimeError, match="framework=alpha-umi"):
        RolesLoop(autoact).run(start="report")
    assert calls == []
    RolesLoop(autoact).run(start="data")  # `base` is shared: kept
    assert calls == list(ROLE_STAGES[1:])
    assert on_disk(RolesLoop(autoact))["identity"]["framework"] == "autoact"


# --- checks before the first stage ---


def test_missing_inputs_stop_the_loop_before_the_first_stage(tmp_path, ran):
    path = loop_config(tmp_path)
    (tmp_path / "q.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match=r"input not found: dataset.path .*q.jsonl"):
        Loop(load_config(path)).run()
    assert ran[0] == []
    Loop(load_config(path)).run(only="base")  # a stage that does not read it still runs


def test_missing_roles_inputs_are_named(tmp_path, ran):
    cfg = load_roles_config(roles_config(tmp_path, "alpha-umi"))
    (tmp_path / "tools.yaml").unlink()
    (tmp_path / "s2.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"data.stage2 .*s2.json; run.registry .*tools.yaml"):
        RolesLoop(cfg).run()
    assert ran[0] == []


def test_dpo_environment_is_checked_before_the_first_stage(tmp_path, ran):
    missing = load_config(loop_config(tmp_path, dpo={"python": "nowhere/bin/python"}))
    with pytest.raises(FileNotFoundError, match=r"dpo.python .*nowhere/bin/python"):
        Loop(missing).run()
    without = load_config(loop_config(tmp_path, dpo={"python": sys.executable}))  # this venv has no OpenRLHF
    with pytest.raises(RuntimeError, match="OpenRLHF is not installed for .*35-openrlhf.sh"):
        Loop(without).run()
    assert ran[0] == []
    Loop(without).run(only="base")  # DPO is not among the stages to run: not checked


def gateway_url(system) -> str:  # noqa: F811
    return f"http://127.0.0.1:{system.http_port}"


def test_a_refused_api_key_stops_the_run_before_any_task(tmp_path, system):  # noqa: F811
    system.llm.reset()
    (tmp_path / "api-key").write_text("wrong\n")
    cfg = load_config(loop_config(tmp_path, gateway={"url": gateway_url(system), "api_key_file": "api-key"}))
    with pytest.raises(RuntimeError, match=r"refused the API key \(GET /v1/me: HTTP 401.*invalid API key.*\); "
                                           r"fix gateway.api_key_file \(.*api-key\)"):
        Loop(cfg).stage_run_before()
    assert not system.llm.requests()   # no task was submitted


def test_a_refused_key_stops_the_loop_before_its_first_stage(tmp_path, system):  # noqa: F811
    (tmp_path / "api-key").write_text("wrong\n")
    cfg = load_config(loop_config(tmp_path, gateway={"url": gateway_url(system), "api_key_file": "api-key"}))
    loop = Loop(cfg)
    with pytest.raises(RuntimeError, match="refused the API key"):
        loop.run()
    assert not (loop.work / "done" / "base").exists() and not loop.state["stages"]


def test_an_unreachable_gateway_says_what_to_start(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"   # nothing listens there
    cfg = load_config(loop_config(tmp_path, gateway={"url": url}))
    with pytest.raises(RuntimeError, match=rf"not reachable \(.*ConnectError.*\); start the system \(make run\) or "
                                           rf"fix gateway.url \({url}\)"):
        Loop(cfg).stage_run_before()


def test_failed_attempts_are_reported_with_their_cause(tmp_path, system):  # noqa: F811
    """The key passes the check, and the gateway refuses every task (a question over its bound)."""
    path = loop_config(tmp_path, gateway={"url": gateway_url(system), "api_key": API_KEY}, run={"samples": 1})
    (tmp_path / "q.jsonl").write_text(json.dumps({"id": "a", "question": "x" * 20_001, "answer": "4"}) + "\n")
    with pytest.raises(RuntimeError) as caught:
        Loop(load_config(path)).stage_run_before()
    message = str(caught.value)
    assert "1 attempts ended in transport or gateway errors, the last: gateway: submit: HTTP 413" in message, message
    assert "question" in message and "see " in message


# --- training stages resume from their checkpoints ---


def test_the_sft_stage_saves_checkpoints_and_says_where_it_resumes(tmp_path, monkeypatch):
    from workforce_train.trainers import sft

    seen = []
    monkeypatch.setattr(sft, "run_sft", lambda cfg: seen.append(cfg) or {
        "merged_dir": "m", "global_step": 1, "train_loss": 0.0, "examples": 1})
    loop = Loop(load_config(loop_config(tmp_path, sft={"save_steps": 7})))
    loop.state["stages"] = {"base": {"info": {"hf_dir": "hf"}}, "data": {"info": {"sft": "d.jsonl"}}}
    loop.stage_sft()
    assert seen[0].save_steps == 7 and seen[0].save_total_limit == 1 and seen[0].output_dir == str(loop.work / "sft")
    assert loop.resume_hint("sft") == "no checkpoint was saved yet: a rerun starts its training again"
    (loop.work / "sft" / "checkpoint-14").mkdir(parents=True)
    assert loop.resume_hint("sft") == "a rerun resumes its training from checkpoint-14"
    assert "starts DPO again" in loop.resume_hint("dpo")


def test_an_interrupted_stage_leaves_a_readable_marker_and_hint(tmp_path, ran):
    ran[1]["run_before"] = KeyboardInterrupt()
    cfg = load_config(loop_config(tmp_path))
    with pytest.raises(KeyboardInterrupt, match="stage run_before stopped; finished attempts are kept"):
        Loop(cfg).run()
    assert (tmp_path / "out" / "failed" / "run_before").read_text() == "interrupted by the user (Ctrl-C)\n"


def test_sigterm_stops_the_loop_like_ctrl_c(tmp_path):
    config = loop_config(tmp_path)
    script = ("import sys, time\nfrom workforce_train.loop.pipeline import Loop\nfrom workforce_train.cli import main\n"
              "Loop.stage_base = lambda self: (print('started', flush=True), time.sleep(60))\n"
              "Loop.check_gateway = lambda self: None\n"
              f"sys.exit(main(['loop', '--config', {str(config)!r}]))\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": PYTHONPATH})
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == ("workforce-train loop: interrupted; stage base stopped; run the loop "
                                            "again to redo it")
    assert (tmp_path / "out" / "failed" / "base").read_text() == "interrupted by SIGTERM\n"


# --- the CLI ---


def test_dry_run_needs_jobs(tmp_path, ran, capsys):
    assert main(["loop", "--config", str(loop_config(tmp_path)), "--dry-run"]) == 2
    assert capsys.readouterr().err == ("workforce-train loop: error: --dry-run prints the Jobs' YAML: add --jobs "
                                       "(the local loop has no dry run)\n")
    assert ran[0] == [] and not (tmp_path / "out").exists()


def test_a_config_check_without_a_field_has_no_empty_location(tmp_path):
    path = tmp_path / "roles.yaml"
    path.write_text(yaml.safe_dump({"framework": "autoact", "run": {"questions": "q"}}))
    with pytest.raises(DataError) as caught:
        load_roles_config(path)
    assert str(caught.value) == f"{path}: autoact: give data.trajectories (from workforce-train autoact-synthesize)"


BLOCKER = """import sys
class Block:  # the `train` extra is not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"tenacity", "tqdm", "httpx_sse", "torch", "transformers", "kubernetes",
                                  "sentence_transformers", "gguf", "peft", "datasets", "accelerate", "deepspeed"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
"""


def without_train_extra(tmp_path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), PYTHONPATH])}
    return subprocess.run([sys.executable, "-m", "workforce_train.cli", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)


def test_help_and_commands_without_the_train_extra(tmp_path):
    from workforce_train.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"run", "score", "loop", "roles", "sft", "dpo", "submit"} <= set(commands)
    helped = without_train_extra(tmp_path, "--help")
    assert helped.returncode == 0 and "workforce-train loop" in helped.stdout, helped.stderr
    for command in commands:
        result = without_train_extra(tmp_path, command, "--help")
        assert result.returncode == 0 and "usage: workforce-train" in result.stdout, (command, result.stderr)
    ran = without_train_extra(tmp_path, "run", "--dataset", "q.jsonl", "--output", "out.jsonl")
    assert ran.returncode == 2
    assert ran.stderr == ("workforce-train: this command needs the train extra (no module 'tqdm'): in the "
                          f"repository root run {Path(sys.prefix) / 'bin' / 'pip'} install -e '.[train]'\n")


# --- local mode's role switch ---


def fake_local_mode(roles: Path, error: str) -> threading.Thread:
    """Answers the next request in `roles` with a failure, as local mode does."""
    def answer():
        for _ in range(100):
            try:
                request = json.loads((roles / "worker-tool.json").read_text())
            except (OSError, ValueError):
                request = {}
            if request.get("revision", "old") != "old":
                (roles / "worker-tool.status.json").write_text(json.dumps(
                    {"revision": request["revision"], "state": "failed", "error": error}))
                return
            time.sleep(0.05)
    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("previous", [None, {"revision": "old", "model": "before.gguf"}])
def test_a_failed_switch_says_how_to_start_local_mode_and_leaves_no_request(tmp_path, previous):
    roles = tmp_path / "local" / "roles"
    roles.mkdir(parents=True)
    if previous:
        (roles / "worker-tool.json").write_text(json.dumps(previous))
    (tmp_path / "base.gguf").write_bytes(b"GGUF")
    answered = fake_local_mode(roles, "no service 'worker-tool' in this system")
    cfg = RolesServe(kind="local", data_dir=str(tmp_path / "local"), timeout_s=10)
    with pytest.raises(RegisterError, match=r"no service 'worker-tool' in this system: local mode runs worker-tool "
                                            r"only when started with a tool registry \(WF_TOOL_REGISTRY="):
        serve(cfg, tmp_path / "base.gguf", "base", [{"name": "a-planner", "path": "a.gguf"}], {"planner": "a-planner"},
              tmp_path)
    answered.join(5)
    request = roles / "worker-tool.json"
    assert (json.loads(request.read_text()) if request.exists() else None) == previous


# --- the docs' examples ---


def test_the_docs_examples_are_valid_configs_that_write_into_their_work_dir():
    import re

    from workforce_train.loop.config import LoopConfig
    from workforce_train.loop.roles_config import RolesConfig

    docs = (ROOT / "docs" / "training.md").read_text()
    loop = yaml.safe_load(re.search(r"cat > loop.yaml <<'YAML'\n(.*?)YAML\n", docs, re.S).group(1))
    roles = yaml.safe_load(re.search(r"```yaml\n(framework: alpha-umi\n.*?)```", docs, re.S).group(1))
    for config, model in ((loop, LoopConfig), (roles, RolesConfig)):
        parsed = model.model_validate(config)
        assert parsed.report.path == "" and f"/{parsed.work_dir}/" in (ROOT / ".gitignore").read_text()
