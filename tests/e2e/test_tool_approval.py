"""Approval gates on risky tools (WF_APPROVE_TOOLS) through every service as a separate process, with the code
worker and its sandbox: a gated run_python waits for a person; approved it runs, denied the model gets the denial
and goes on, unanswered the timeout policy decides; a redelivered work item does not ask again; another tenant
cannot see or decide; HTTP, gRPC and the CLI."""

import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from tests.support.system import API_KEY, System, stored_events
from workforce.v1 import channel_pb2, gateway_pb2, gateway_pb2_grpc

pytestmark = pytest.mark.e2e

OTHER_KEY = "other-secret-key"
ADMIN_KEY = "ops-secret-key"         # WF_ADMIN_IDENTITIES=ops: sees every task, decides on none
TIMEOUT_S = 8
CODE = "print(sum(i * i for i in range(1, 11)))"


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    s = System(tmp_path_factory.mktemp("toolgate"), workers={"code": 1}, env={
        "WF_API_KEYS": f"test:{API_KEY},other:{OTHER_KEY},ops:{ADMIN_KEY}", "WF_ADMIN_IDENTITIES": "ops",
        "WF_APPROVE_TOOLS": "code.run_python", "WF_TOOL_APPROVAL_TIMEOUT_S": str(TIMEOUT_S),
        "WF_TOOL_APPROVAL_TIMEOUT_POLICY": "deny"})
    s.start()
    yield s
    s.stop()


def script(system):
    """The code worker's model: run the program; after a result or a denial, say what happened."""
    system.llm.script([
        {"role": "worker:code", "contains": "385",   # a clean run prints only its output
         "reply": {"content": {"content": "ran the program", "failed": False}}},
        {"role": "worker:code", "contains": "denied by",
         "reply": {"content": {"content": "the program was not allowed to run", "failed": False}}},
        {"role": "worker:code", "reply": {"tool_calls": [{"name": "run_python", "arguments": {"code": CODE}}]}},
    ])


def _as(key):
    return {"Authorization": f"Bearer {key}"}


def waiting_call(system, task_id, timeout=45) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        calls = system.http.get(f"/v1/tasks/{task_id}/tool-calls").json()["calls"]
        if calls:
            return calls[0]
        time.sleep(0.1)
    raise AssertionError(f"no tool call waits on {task_id}: {system.get(task_id)}\n{system.logs()}")


def events_of(system, task_id) -> list[dict]:
    return stored_events(system.nats.url, task_id)


def test_an_approved_call_runs(system):
    script(system)
    task_id = system.submit("Sum the squares of 1..10 @code")["task_id"]
    call = waiting_call(system, task_id)
    request = call["request"]
    assert "decision" not in call
    assert request["tool"] == "run_python" and request["worker_type"] == "code" and CODE in request["arguments"]
    assert request["subtask_id"] == "1" and request["call_index"] == 1 and request["timeout_policy"] == "deny"
    time.sleep(1)  # it waits: nothing ran
    assert "tool.call" not in [e["type"] for e in events_of(system, task_id)]
    assert system.get(task_id)["status"] == "TASK_STATUS_RUNNING"
    url = f"/v1/tasks/{task_id}/tool-calls/{request['call_id']}"
    # Another tenant: no such task, for the list and the decision; an admin sees the task but may not decide.
    for response in (system.http.get(f"/v1/tasks/{task_id}/tool-calls", headers=_as(OTHER_KEY)),
                     system.http.post(f"{url}/approve", json={}, headers=_as(OTHER_KEY)),
                     system.http.post(f"{url}/deny", json={"reason": "mine now"}, headers=_as(OTHER_KEY))):
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", response.text
    admin = system.http.post(f"{url}/approve", json={}, headers=_as(ADMIN_KEY))
    assert admin.status_code == 403 and admin.json()["error"]["code"] == "permission_denied", admin.text
    for bad in ("nope", "1.1.1.zzzzzzzzzzzz", "1.1.9.0123456789ab"):
        missing = system.http.post(f"/v1/tasks/{task_id}/tool-calls/{bad}/approve", json={})
        assert missing.status_code == 404 and "no tool call" in missing.json()["error"]["message"], missing.text

    response = system.http.post(f"{url}/approve", json={"comment": "looks harmless"})
    assert response.status_code == 200, response.text
    assert response.json()["decided_by"] == "test" and response.json()["verdict"] == "APPROVAL_VERDICT_APPROVE"
    again = system.http.post(f"{url}/deny", json={"reason": "too late"})
    assert again.status_code == 409 and "already decided by test" in again.json()["error"]["message"]

    record = system.wait(task_id, timeout=90)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", (record, system.logs())
    events = events_of(system, task_id)
    kinds = [e["type"] for e in events]
    assert kinds.index("tool.approval_requested") < kinds.index("tool.approved") < kinds.index("tool.call")
    approved = next(e for e in events if e["type"] == "tool.approved")
    assert approved["data"]["decided_by"] == "test" and approved["data"]["via"] == "http"
    assert approved["data"]["reason"] == "looks harmless" and approved["data"]["call_id"] == request["call_id"]
    ran = next(e for e in events if e["type"] == "tool.call")
    assert ran["data"]["ok"] is True and "385" in ran["data"]["result"], ran
    listed = system.http.get(f"/v1/tasks/{task_id}/tool-calls").json()["calls"]
    assert [c["decision"]["decided_by"] for c in listed] == ["test"]


def test_a_denied_call_gives_the_model_the_denial_and_the_subtask_goes_on(system):
    script(system)
    auth = (("authorization", f"Bearer {API_KEY}"),)
    other = (("authorization", f"Bearer {OTHER_KEY}"),)
    task_id = system.submit("Sum the squares again @code")["task_id"]
    call_id = waiting_call(system, task_id)["request"]["call_id"]
    with grpc.insecure_channel(f"127.0.0.1:{system.grpc_port}") as channel:
        stub = gateway_pb2_grpc.WorkforceStub(channel)
        listed = stub.ListToolCalls(gateway_pb2.GetTaskRequest(task_id=task_id), metadata=auth)
        assert [c.request.call_id for c in listed.calls] == [call_id] and not listed.calls[0].HasField("decision")
        with pytest.raises(grpc.RpcError) as err:
            stub.DecideToolCall(gateway_pb2.DecideToolCallRequest(task_id=task_id, call_id=call_id, approve=True),
                                metadata=other)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        decision = stub.DecideToolCall(gateway_pb2.DecideToolCallRequest(
            task_id=task_id, call_id=call_id, approve=False, reason="no code on Sundays"), metadata=auth)
        assert decision.verdict == channel_pb2.APPROVAL_VERDICT_REJECT and decision.via == "grpc"
        with pytest.raises(grpc.RpcError) as err:
            stub.DecideToolCall(gateway_pb2.DecideToolCallRequest(task_id=task_id, call_id=call_id, approve=True),
                                metadata=auth)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    record = system.wait(task_id, timeout=90)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", (record, system.logs())
    assert "not allowed to run" in record["answer"]
    events = events_of(system, task_id)
    denied = next(e for e in events if e["type"] == "tool.denied")
    assert denied["data"]["decided_by"] == "test" and denied["data"]["via"] == "grpc"
    call = next(e for e in events if e["type"] == "tool.call")
    assert call["data"]["ok"] is False and call["data"]["result"] == "denied by test: no code on Sundays"
    # the model read the denial as the call's result, and nothing ran in the sandbox
    asked = [r for r in system.llm.requests() if r["role"] == "worker:code" and r["task"] == task_id]
    assert any("denied by test: no code on Sundays" in str(r["messages"]) for r in asked)
    assert not any("385" in str(r["messages"]) for r in asked)


def test_nobody_answering_means_the_timeout_policy_decides(system):
    script(system)
    task_id = system.submit("Sum the squares once more @code")["task_id"]
    call_id = waiting_call(system, task_id)["request"]["call_id"]
    record = system.wait(task_id, timeout=TIMEOUT_S + 60)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", (record, system.logs())
    assert "not allowed to run" in record["answer"]
    events = events_of(system, task_id)
    denied = next(e for e in events if e["type"] == "tool.denied")
    assert denied["data"]["decided_by"] == "timeout" and denied["data"]["via"] == "timeout"
    assert f"nobody decided within {TIMEOUT_S} s (policy: deny)" in denied["data"]["reason"]
    late = system.http.post(f"/v1/tasks/{task_id}/tool-calls/{call_id}/approve", json={})
    assert late.status_code == 409, late.text


def test_a_redelivered_work_item_finds_the_decision_and_does_not_ask_again(system):
    script(system)
    cli = [str(Path(sys.executable).parent / "workforce"), "--url", f"http://127.0.0.1:{system.http_port}",
           "--api-key", API_KEY]
    task_id = system.submit("Sum the squares after a crash @code")["task_id"]
    call_id = waiting_call(system, task_id)["request"]["call_id"]
    for worker in system.services["worker-code"]:
        worker.killed = True
        worker.kill()
    shown = subprocess.run(cli + ["calls", task_id], capture_output=True, text=True, check=True).stdout
    assert call_id in shown and "code.run_python" in shown and "WAITING" in shown, shown
    # decided while no worker runs: the decision waits in the bucket for the redelivered work item
    subprocess.run(cli + ["allow", task_id, call_id, "--comment", "go"], check=True, capture_output=True)
    system.start_service("worker-code")
    record = system.wait(task_id, timeout=90)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", (record, system.logs())
    kinds = [e["type"] for e in events_of(system, task_id)]
    assert kinds.count("subtask.started") == 2, kinds   # the first delivery died with its worker
    assert kinds.count("tool.approval_requested") == 1 and kinds.count("tool.approved") == 1, kinds
    assert kinds.index("tool.approved") < kinds.index("tool.call")
    shown = subprocess.run(cli + ["calls", task_id], capture_output=True, text=True, check=True).stdout
    assert "approved by test: go" in shown, shown
