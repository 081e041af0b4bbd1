"""`make run` (python -m workforce.local): every service as its own process, the CLI, a clean Ctrl-C."""

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.scripted_llm import ScriptedLLM
from workforce.local.nats_server import free_port

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


def test_no_model_says_so_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WF_")}
    env.update(WF_LOCAL_MODEL=str(tmp_path / "no-such-model.gguf"))
    done = subprocess.run([sys.executable, "-m", "workforce.local", "--data-dir", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "WF_LOCAL_MODEL" in lines[0] and "WF_LLM_BASE_URL" in lines[0], lines
    assert not (tmp_path / "nats").exists()  # nothing started


def test_run_submit_and_ctrl_c(tmp_path):
    llm = ScriptedLLM(log_dir=str(tmp_path)).start()
    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WF_")}
    env.update(WF_LLM_BASE_URL=llm.base_url, WF_NATS_PORT=str(free_port()), WF_LOG_LEVEL="WARNING")
    run = subprocess.Popen([sys.executable, "-m", "workforce.local", "--data-dir", str(tmp_path / "local"),
                            "--workers", "echo", "--http-port", str(http_port), "--grpc-port", str(free_port())],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        key = None
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                key = (tmp_path / "local" / "api-key").read_text().strip()
                pools = httpx.get(f"http://127.0.0.1:{http_port}/v1/workers",
                                  headers={"Authorization": f"Bearer {key}"}).json()["pools"]
                if pools:
                    break
            except (OSError, httpx.HTTPError, KeyError):
                pass
            time.sleep(0.3)
        assert key, "local mode did not come up"
        assert stat.S_IMODE((tmp_path / "local" / "api-key").stat().st_mode) == 0o600  # its owner's only
        submitted = subprocess.run([str(BIN / "workforce"), "--url", f"http://127.0.0.1:{http_port}", "--data-dir",
                                    str(tmp_path / "local"), "submit", "Say hello @echo"],
                                   capture_output=True, text=True, timeout=60)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        out = submitted.stdout
        assert "plan.assigned" in out and "subtask.succeeded" in out and "task.succeeded" in out
        assert "answer: done: Say hello" in out
        cli = [str(BIN / "workforce"), "--url", f"http://127.0.0.1:{http_port}", "--data-dir", str(tmp_path / "local")]
        listed = subprocess.run(cli + ["list"], capture_output=True, text=True, timeout=30)
        task_id = out.split()[1]   # "task <id>"
        assert listed.returncode == 0 and task_id in listed.stdout, listed.stdout + listed.stderr
        assert "succeeded" in listed.stdout and "Say hello @echo" in listed.stdout and "→ done: Say hello" in listed.stdout
        none = subprocess.run(cli + ["list", "--status", "failed"], capture_output=True, text=True, timeout=30)
        assert none.returncode == 0 and task_id not in none.stdout and "no tasks with status failed" in none.stderr
        bad = subprocess.run(cli + ["list", "--status", "sleepy"], capture_output=True, text=True, timeout=30)
        assert bad.returncode != 0 and "400" in bad.stderr and "unknown status" in bad.stderr
        pools = subprocess.run(cli + ["workers", "-v"], capture_output=True, text=True, timeout=30)
        assert pools.returncode == 0, pools.stderr
        header, echo = pools.stdout.splitlines()[:2]   # what the console's workers page shows, in columns
        assert header.split() == ["POOL", "REPLICAS", "BUSY/CAPACITY", "QUEUED+RUNNING", "FAILED", "1H", "TOOLS"]
        kind, replicas, busy_of, queue, failed = echo.split()[:5]
        assert (kind, replicas, queue, failed) == ("echo", "1", "0", "0") and busy_of.startswith("0/"), pools.stdout
        assert "replicas:" in pools.stdout and "no failures in the last hour" in pools.stdout
        anonymous = httpx.post(f"http://127.0.0.1:{http_port}/v1/tasks", json={"question": "x"})
        assert anonymous.status_code == 401  # auth stays on unless --no-auth
        for command in (["list"], ["plan", task_id], ["calls", task_id]):   # the review commands say it too
            wrong = subprocess.run(cli + ["--api-key", "not-the-key", *command], capture_output=True, text=True,
                                   timeout=30)
            assert wrong.returncode != 0 and "401: invalid API key" in wrong.stderr, (command, wrong.stderr)
            assert ".local/api-key" in wrong.stderr and "Traceback" not in wrong.stderr, (command, wrong.stderr)
        # Ctrl-C while following a task (one waiting for its plan's review) leaves it running and says how to reach it
        following = subprocess.Popen(cli + ["submit", "--review", "Say hello @echo"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        first = following.stdout.readline()
        assert first.startswith("task "), first
        waiting_id = first.split()[1]
        deadline = time.time() + 30
        while time.time() < deadline and httpx.get(
                f"http://127.0.0.1:{http_port}/v1/tasks/{waiting_id}",
                headers={"Authorization": f"Bearer {key}"}).json()["status"] != "TASK_STATUS_AWAITING_APPROVAL":
            time.sleep(0.2)
        following.send_signal(signal.SIGINT)
        _, err = following.communicate(timeout=30)
        assert following.returncode == 130 and "Traceback" not in err, err
        assert f"task {waiting_id} keeps running" in err and f"workforce cancel {waiting_id}" in err
        # `show` on a task still running tells its story so far at once, then follows it to its end
        shown = subprocess.Popen(cli + ["show", waiting_id], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = [shown.stdout.readline() for _ in range(2)]
        assert lines[0].startswith(f"task {waiting_id} AWAITING_APPROVAL") and "question: Say hello" in lines[1], lines
        while "approval.requested" not in shown.stdout.readline():
            pass
        cancelled = subprocess.run(cli + ["cancel", waiting_id], capture_output=True, text=True, timeout=30)
        assert (cancelled.returncode, cancelled.stdout.strip()) == (0, "cancelled"), cancelled.stderr
        rest, _ = shown.communicate(timeout=30)
        assert shown.returncode == 1 and "task.cancelled" in rest and "why it was cancelled: " in rest, rest
    finally:
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=30)
        llm.stop()
    assert run.returncode == 0, output
    assert "workforce: stopped" in output
