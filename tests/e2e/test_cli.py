"""The `workforce` CLI (a real process) as a script uses it, against the whole system (every service a process, the
scripted LLM): `show --json` is a snapshot that returns at once, following only with --follow; one exit status per
outcome (`workforce --help`: 0 succeeded, 1 failed or cancelled, 3 not ended, 4 the gateway refused); `list` and
`workers` print the API's JSON; `submit --no-wait` returns the id at once, with an idempotency key and metadata."""

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.test_plan_approval import wait_status
from tests.support.system import API_KEY

pytestmark = pytest.mark.e2e

WORKFORCE = str(Path(sys.executable).parent / "workforce")


def cli(system, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(_argv(system, *argv), capture_output=True, text=True, timeout=timeout)


def _argv(system, *argv: str) -> list[str]:
    return [WORKFORCE, "--url", f"http://127.0.0.1:{system.http_port}", "--api-key", API_KEY, *argv]


def awaiting(system) -> str:
    """A task that waits for its plan's approval: it has events, and no end until someone decides."""
    task_id = system.submit("Say hello @echo", review_plan=True)["task_id"]
    wait_status(system, task_id, "AWAITING_APPROVAL")
    return task_id


def kinds(story: dict) -> list[str]:
    return [e["type"] for e in story["events"]]


def test_show_json_is_a_snapshot_at_once_and_follows_only_when_told(system):
    task_id = awaiting(system)
    started = time.monotonic()
    shown = cli(system, "show", task_id, "--json", timeout=20)   # it followed the task until its end: it hung here
    assert time.monotonic() - started < 10
    assert shown.returncode == 3, shown.stderr   # not ended
    story = json.loads(shown.stdout)
    assert story["task"]["task_id"] == task_id and story["task"]["status"] == "TASK_STATUS_AWAITING_APPROVAL"
    assert "approval.requested" in kinds(story) and not {"task.succeeded", "task.failed"} & set(kinds(story))
    text = cli(system, "show", task_id, "--no-follow", timeout=20)   # the text's snapshot, when asked for
    assert text.returncode == 3 and text.stdout.startswith(f"task {task_id} AWAITING_APPROVAL"), text
    assert "approval.requested" in text.stdout and "answer:" not in text.stdout
    following = subprocess.Popen(_argv(system, "show", task_id, "--json", "-f"), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        assert following.poll() is None, following.communicate()   # still following: nothing printed yet
        assert system.http.post(f"/v1/tasks/{task_id}/plan/approve", json={}).status_code == 200
        out, err = following.communicate(timeout=30)
    finally:
        following.kill()
    assert following.returncode == 0, err
    story = json.loads(out)
    assert story["task"]["status"] == "TASK_STATUS_SUCCEEDED" and "task.succeeded" in kinds(story)
    assert kinds(story).index("approval.requested") < kinds(story).index("approval.approved")


def test_the_exit_status_says_how_the_task_ended(system):
    done = system.submit("Say hello @echo")["task_id"]
    assert system.wait(done)["status"] == "TASK_STATUS_SUCCEEDED"
    rejected = awaiting(system)
    assert system.http.post(f"/v1/tasks/{rejected}/plan/reject", json={"reason": "not today"}).status_code == 200
    wait_status(system, rejected, "FAILED")
    cancelled = awaiting(system)
    system.cancel(cancelled, "changed my mind")
    for task_id, code, says in ((done, 0, "answer: done: Say hello"), (rejected, 1, "why it failed: "),
                                (cancelled, 1, "why it was cancelled: changed my mind")):
        text, as_json = cli(system, "show", task_id), cli(system, "logs", task_id, "--json")
        assert (text.returncode, as_json.returncode) == (code, code), (task_id, text, as_json)   # 0 before, always
        assert says in text.stdout and json.loads(as_json.stdout)["task"]["task_id"] == task_id
    missing = cli(system, "show", "no-such-task")
    assert missing.returncode == 4 and "workforce: 404: " in missing.stderr and missing.stdout == "", missing
    wrong_key = cli(system, "list", "--api-key", "not-the-key")
    assert wrong_key.returncode == 4 and "401: invalid API key" in wrong_key.stderr, wrong_key.stderr


def test_submit_exits_1_for_a_failed_task_as_show_does(system):
    submitted = subprocess.Popen(_argv(system, "submit", "--review", "Say hello @echo"), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
    try:
        task_id = submitted.stdout.readline().split()[1]   # "task <id>"
        wait_status(system, task_id, "AWAITING_APPROVAL")
        assert system.http.post(f"/v1/tasks/{task_id}/plan/reject", json={"reason": "no"}).status_code == 200
        out, err = submitted.communicate(timeout=30)
    finally:
        submitted.kill()
    assert submitted.returncode == 1 and "\nfailed: " in out and f"workforce show {task_id}" in out, out + err
    assert cli(system, "show", task_id).returncode == 1


def test_submit_no_wait_prints_the_id_at_once_with_idempotency_key_and_metadata(system, tmp_path):
    key = f"cli-{uuid.uuid4().hex}"
    started = time.monotonic()
    labels = ["--metadata", "team=blue", "--metadata", "query=a=b"]
    first = cli(system, "submit", "--no-wait", "--idempotency-key", key, *labels, "Say hello @echo")
    assert first.returncode == 0 and time.monotonic() - started < 10, first.stderr
    task_id = first.stdout.strip()
    assert first.stdout == f"{task_id}\n" and " " not in task_id, first.stdout   # the id alone: $(workforce …)
    record = system.wait(task_id)
    assert record["metadata"] == {"team": "blue", "query": "a=b"} and record["idempotency_key"] == key, record
    again = cli(system, "submit", "--detach", "--json", "--idempotency-key", key, *labels, "Say hello @echo")
    assert again.returncode == 0, again.stderr
    answer = json.loads(again.stdout)   # the API's answer: the first submission's task
    assert (answer["task_id"], answer["created"], answer["task"]["task_id"]) == (task_id, False, task_id)
    followed = cli(system, "submit", "--idempotency-key", key, *labels, "Say hello @echo")   # the task it was
    assert followed.returncode == 0 and followed.stdout.startswith(f"task {task_id}\n"), followed
    assert f"idempotency key {key!r} was used before" in followed.stderr
    other = cli(system, "submit", "--no-wait", "--idempotency-key", key, *labels, "Something else @echo")
    assert other.returncode == 4 and "workforce: 409: " in other.stderr and other.stdout == "", other
    (tmp_path / "notes.txt").write_text("buy milk")
    upload = cli(system, "submit", "--no-wait", "--file", str(tmp_path / "notes.txt"), "--metadata", "k=v",
                 "--idempotency-key", key + "-file", "Read it @echo")
    assert upload.returncode == 0, upload.stderr
    record = system.wait(upload.stdout.strip())
    assert record["metadata"] == {"k": "v"} and record["idempotency_key"] == key + "-file", record
    assert [f["name"] for f in record["files"]] == ["notes.txt"]


def test_submit_json_waits_then_prints_the_record_and_events(system):
    done = cli(system, "submit", "--json", "--metadata", "run=7", "Say hello @echo", timeout=60)
    assert done.returncode == 0, done.stderr
    story = json.loads(done.stdout)   # nothing but the JSON on stdout
    assert story["task"]["status"] == "TASK_STATUS_SUCCEEDED" and story["task"]["metadata"] == {"run": "7"}
    assert story["task"]["answer"].startswith("done: Say hello") and kinds(story)[-1] == "task.succeeded"


def test_list_and_workers_print_the_apis_json(system):
    task_id = system.submit("Say hello @echo", metadata={"via": "list"})["task_id"]
    system.wait(task_id)
    listed = cli(system, "list", "--json", "--limit", "3")
    assert listed.returncode == 0, listed.stderr
    page = json.loads(listed.stdout)
    assert set(page) == {"tasks", "next_page_token"} and len(page["tasks"]) <= 3, page
    assert page["tasks"][0]["task_id"] == task_id and page["tasks"][0]["metadata"] == {"via": "list"}
    succeeded = json.loads(cli(system, "list", "--json", "--status", "succeeded").stdout)["tasks"]
    assert succeeded and {t["status"] for t in succeeded} == {"TASK_STATUS_SUCCEEDED"}
    shown = cli(system, "workers", "--json")
    assert shown.returncode == 0, shown.stderr
    pools = json.loads(shown.stdout)
    assert set(pools) == {"pools", "instances", "failures"}
    echo = next(p for p in pools["pools"] if p["worker_type"] == "echo")
    assert echo["replicas"] == 2 and len([i for i in pools["instances"] if i["worker_type"] == "echo"]) == 2


def test_a_reader_that_closes_the_pipe_early_ends_the_cli_quietly(system):
    """`workforce list --json | head -c 1`: the reader gone, the CLI ends with 141 (as a shell reports SIGPIPE),
    no traceback."""
    task_id = system.submit("Say hello @echo")["task_id"]
    wait_status(system, task_id, "SUCCEEDED")
    proc = subprocess.Popen(_argv(system, "list", "--json"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                       # the reader is gone before the CLI writes
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 141 and b"Traceback" not in stderr and b"BrokenPipe" not in stderr, stderr


def test_show_lists_a_subtasks_files_and_download_saves_them(system, tmp_path):
    system.llm.script([{"role": "worker:echo", "contains": "keep the tally", "times": 1,
                        "reply": {"tool_calls": [{"name": "save", "arguments": {"name": "tally.txt",
                                                                                "text": "a: 3\nb: 4\n"}}]}}])
    task_id = system.submit("Please keep the tally @echo")["task_id"]
    assert wait_status(system, task_id, "SUCCEEDED")
    shown = cli(system, "show", task_id)
    assert f"file tally.txt (10 bytes): workforce download {task_id} 1 tally.txt" in shown.stdout, shown.stdout
    saved = subprocess.run([*_argv(system, "download", task_id, "1", "tally.txt")], cwd=tmp_path,
                           capture_output=True, text=True, timeout=30)
    assert saved.returncode == 0 and (tmp_path / "tally.txt").read_text() == "a: 3\nb: 4\n", saved.stderr
    again = subprocess.run([*_argv(system, "download", task_id, "1", "tally.txt")], cwd=tmp_path,
                           capture_output=True, text=True, timeout=30)
    assert again.returncode == 2 and "exists: pass --force" in again.stderr    # nothing overwritten unasked
    assert cli(system, "download", task_id, "1", "tally.txt", "-o", "-").stdout == "a: 3\nb: 4\n"
    missing = cli(system, "download", task_id, "1", "other.txt", "-o", "-")
    assert missing.returncode == 4 and "produced no file 'other.txt'" in missing.stderr, missing.stderr
