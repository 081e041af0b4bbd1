"""Human approval of plans through every service as a separate process: approve, edit, reject, conflicts, the
timeout policy, gRPC, and a decision that outlives restarts of every service."""

import time

import grpc
import pytest

from tests.support.system import API_KEY, System, dispatches, stored_events
from workforce.v1 import channel_pb2, gateway_pb2, gateway_pb2_grpc

pytestmark = pytest.mark.e2e

OTHER_KEY = "other-secret-key"
APPROVER_KEY = "lead-secret-key"     # WF_APPROVERS=lead: decides on anyone's task
ADMIN_KEY = "ops-secret-key"         # WF_ADMIN_IDENTITIES=ops: sees every task, decides on none
TIMEOUT_S = 6
THREE = "Collect. SUBTASKS:\n- find alpha @echo\n- find beta @echo\n- combine after:1 after:2"


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    s = System(tmp_path_factory.mktemp("approval"), workers={"echo": 2}, env={
        "WF_API_KEYS": f"test:{API_KEY},other:{OTHER_KEY},lead:{APPROVER_KEY},ops:{ADMIN_KEY}",
        "WF_APPROVERS": "lead", "WF_ADMIN_IDENTITIES": "ops",
        "WF_APPROVAL_TIMEOUT_S": str(TIMEOUT_S), "WF_APPROVAL_TIMEOUT_POLICY": "reject"})
    s.start()
    yield s
    s.stop()


def wait_status(system, task_id, status, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        record = system.get(task_id)
        if record["status"] == f"TASK_STATUS_{status}":
            return record
        time.sleep(0.1)
    raise AssertionError(f"{task_id} is {system.get(task_id)['status']}, not {status}\n{system.logs()}")


def awaiting(system, question=THREE, **fields):
    task_id = system.submit(question, review_plan=True, **fields)["task_id"]
    wait_status(system, task_id, "AWAITING_APPROVAL")
    return task_id


def types(system, task_id):
    return [e["type"] for e in stored_events(system.nats.url, task_id)]


def dispatched_any(system, task_id) -> bool:
    return bool(dispatches(stored_events(system.nats.url, task_id)))


def test_a_reviewed_plan_waits_then_runs_as_approved(system):
    task_id = awaiting(system)
    time.sleep(1)  # nothing is dispatched while it waits
    assert not dispatched_any(system, task_id)
    plan = system.http.get(f"/v1/tasks/{task_id}/plan").json()
    assert [s["subtask_id"] for s in plan["proposals"][0]["subtasks"]] == ["1", "2", "3"]
    response = system.http.post(f"/v1/tasks/{task_id}/plan/approve", json={"comment": "fine"})
    assert response.status_code == 200, response.text
    assert response.json()["decided_by"] == "test" and response.json()["verdict"] == "APPROVAL_VERDICT_APPROVE"
    record = system.wait(task_id)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", record
    events = stored_events(system.nats.url, task_id)
    kinds = [e["type"] for e in events]
    assert kinds.index("approval.requested") < kinds.index("approval.approved") < dispatches(events)[0][0]
    approved = next(e for e in events if e["type"] == "approval.approved")
    assert approved["data"]["decided_by"] == "test" and approved["data"]["via"] == "http"
    assert approved["data"]["comment"] == "fine"
    again = system.http.post(f"/v1/tasks/{task_id}/plan/approve", json={})
    assert again.status_code == 409 and "not awaiting approval" in again.json()["error"]["message"]


def test_an_edited_plan_is_checked_then_the_edited_subtasks_run(system):
    task_id = awaiting(system)
    url = f"/v1/tasks/{task_id}/plan/approve"
    bad = [
        ([{"id": "1", "content": "x", "worker_type": "echo", "dependencies": ["9"]}], "unknown subtask 9"),
        ([{"id": "1", "content": "x", "worker_type": "ghost"}], "unknown worker type 'ghost'"),
        ([{"id": "1", "content": "a", "worker_type": "echo", "dependencies": ["2"]},
          {"id": "2", "content": "b", "worker_type": "echo", "dependencies": ["1"]}], "cycle"),
        ([{"id": "1", "content": "  ", "worker_type": "echo"}], "no content"),
        ([], "no subtasks"),
        ([{"id": str(i), "content": "x", "worker_type": "echo"} for i in range(1, 60)],
         "the edited plan is not valid: it has 59 subtasks; at most"),
    ]
    for subtasks, message in bad:
        response = system.http.post(url, json={"subtasks": subtasks})
        assert response.status_code == 400, (subtasks, response.text)
        assert message in response.json()["error"]["message"]
    long_comment = system.http.post(url, json={"comment": "x" * 2001})
    assert long_comment.status_code == 400 and "the comment is longer than" in long_comment.text
    assert system.http.post(url, json={"plan_version": 4}).status_code == 409
    assert system.get(task_id)["status"] == "TASK_STATUS_AWAITING_APPROVAL"
    edited = [
        {"id": "1", "content": "find gamma instead @echo", "worker_type": "echo", "dependencies": []},
        {"id": "3", "content": "combine gamma and delta", "worker_type": "echo", "dependencies": ["1", "4"]},
        {"id": "4", "content": "find delta @echo", "worker_type": "echo", "dependencies": []},
    ]
    response = system.http.post(url, json={"plan_version": 0, "subtasks": edited})
    assert response.status_code == 200, response.text
    record = system.wait(task_id)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", record
    assert "done: find gamma instead" in record["answer"] and "done: find delta" in record["answer"]
    assert "find beta" not in record["answer"]
    worked = [r["messages"][-1]["content"].rsplit("Your subtask:", 1)[-1] for r in system.llm.requests()
              if r["role"] == "worker:echo" and r["task"] == task_id]
    assert any("find gamma instead" in w for w in worked) and not any("find beta" in w for w in worked)
    events = stored_events(system.nats.url, task_id)
    edit = next(e for e in events if e["type"] == "approval.edited")
    assert edit["data"]["changes"]["added"] == ["4"] and edit["data"]["changes"]["dropped"] == ["2"]
    assert {c["id"] for c in edit["data"]["changes"]["changed"]} == {"1", "3"}


def test_a_rejected_plan_fails_the_task_with_the_reason(system):
    task_id = awaiting(system)
    no_reason = system.http.post(f"/v1/tasks/{task_id}/plan/reject", json={"reason": " "})
    assert no_reason.status_code == 400
    response = system.http.post(f"/v1/tasks/{task_id}/plan/reject", json={"reason": "too broad"})
    assert response.status_code == 200, response.text
    record = system.wait(task_id)
    assert record["status"] == "TASK_STATUS_FAILED"
    assert record["failure_reason"] == "plan rejected by test: too broad"
    assert not dispatched_any(system, task_id)
    late = system.http.post(f"/v1/tasks/{task_id}/plan/approve", json={})
    assert late.status_code == 409


def _as(key):
    return {"Authorization": f"Bearer {key}"}


def test_only_the_owner_or_an_approver_decides(system):
    task_id = awaiting(system)
    url = f"/v1/tasks/{task_id}/plan"
    # Another tenant: the task does not exist for it (the same answer as for a missing task), plan and decision.
    for response in (system.http.post(f"{url}/approve", json={}, headers=_as(OTHER_KEY)),
                     system.http.post(f"{url}/reject", json={"reason": "no"}, headers=_as(OTHER_KEY)),
                     system.http.get(url, headers=_as(OTHER_KEY))):
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", response.text
    missing = system.http.post("/v1/tasks/01J00000000000000000000000/plan/approve", json={}, headers=_as(OTHER_KEY))
    assert missing.status_code == 404 and missing.json()["error"]["message"].startswith("no task")
    # An admin sees the plan but may not decide: that is for the owner and WF_APPROVERS.
    assert system.http.get(url, headers=_as(ADMIN_KEY)).json()["proposals"]
    admin = system.http.post(f"{url}/approve", json={}, headers=_as(ADMIN_KEY))
    assert admin.status_code == 403 and admin.json()["error"]["code"] == "permission_denied", admin.text
    assert system.get(task_id)["status"] == "TASK_STATUS_AWAITING_APPROVAL"
    system.http.post(f"/v1/tasks/{task_id}/cancel", json={"reason": "done here"})
    assert system.wait(task_id)["status"] == "TASK_STATUS_CANCELLED"


def test_an_approver_decides_on_another_identitys_task(system):
    task_id = awaiting(system)
    response = system.http.post(f"/v1/tasks/{task_id}/plan/approve", json={"comment": "ok from lead"},
                                headers=_as(APPROVER_KEY))
    assert response.status_code == 200, response.text
    assert response.json()["decided_by"] == "lead"
    record = system.wait(task_id)
    assert record["status"] == "TASK_STATUS_SUCCEEDED" and record["owner"] == "test", record
    # Deciding does not make the approver a reader of the owner's other tasks.
    assert system.http.get(f"/v1/tasks/{task_id}", headers=_as(APPROVER_KEY)).status_code == 404


def test_nobody_answers_and_the_timeout_policy_rejects(system):
    task_id = awaiting(system)
    record = system.wait(task_id, timeout=TIMEOUT_S + 20)
    assert record["status"] == "TASK_STATUS_FAILED" and "plan rejected by timeout" in record["failure_reason"]
    rejected = next(e for e in stored_events(system.nats.url, task_id) if e["type"] == "approval.rejected")
    assert rejected["data"]["via"] == "timeout"


def test_replans_are_reviewed_when_asked_and_grpc_decides(system):
    system.llm.script([
        {"role": "worker:", "contains": "Your subtask:\nflaky", "times": 1,
         "reply": {"content": {"content": "the site was down", "failed": True}}},
        {"role": "planner", "contains": "FAILED_JSON", "times": 1,
         "reply": {"content": {"subtasks": [{"id": "1", "content": "mirror route @echo", "dependencies": []}]}}},
    ])
    auth = (("authorization", f"Bearer {API_KEY}"),)
    with grpc.insecure_channel(f"127.0.0.1:{system.grpc_port}") as channel:
        stub = gateway_pb2_grpc.WorkforceStub(channel)
        task_id = stub.SubmitTask(gateway_pb2.SubmitTaskRequest(
            question="Get it. SUBTASKS:\n- base facts @echo\n- flaky step after:1", review_plan=True,
            review_replans=True), metadata=auth).task_id
        wait_status(system, task_id, "AWAITING_APPROVAL")
        with pytest.raises(grpc.RpcError) as err:
            stub.RejectPlan(gateway_pb2.RejectPlanRequest(task_id=task_id), metadata=auth)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        decision = stub.ApprovePlan(gateway_pb2.ApprovePlanRequest(task_id=task_id, plan_version=0), metadata=auth)
        assert decision.verdict == channel_pb2.APPROVAL_VERDICT_APPROVE and decision.via == "grpc"
        deadline = time.time() + 30
        while time.time() < deadline:  # the flaky step fails, the replan waits for approval
            plan = stub.GetPlan(gateway_pb2.GetTaskRequest(task_id=task_id), metadata=auth)
            if [p for p in plan.proposals if p.replaced_subtask_id]:
                break
            time.sleep(0.1)
        assert plan.proposals[0].replaced_subtask_id == "2" and plan.proposals[0].plan_version == 1
        assert system.get(task_id)["status"] == "TASK_STATUS_AWAITING_APPROVAL"
        replacement = plan.proposals[0].subtasks[0].subtask_id
        stub.ApprovePlan(gateway_pb2.ApprovePlanRequest(task_id=task_id, plan_version=1, subtasks=[
            gateway_pb2.PlanEditSubtask(subtask_id=replacement, content="mirror route, edited @echo",
                                        worker_type="echo", dependencies=["1"])]), metadata=auth)
        with pytest.raises(grpc.RpcError) as err:
            stub.ApprovePlan(gateway_pb2.ApprovePlanRequest(task_id=task_id, plan_version=1), metadata=auth)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    record = system.wait(task_id)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", record
    assert record["replans"] == 1 and "mirror route, edited" in record["answer"]


def test_a_waiting_plan_survives_restarts_of_every_service(system):
    task_id = awaiting(system)
    for name in ("gateway", "planner", "coordinator", "worker-echo"):
        for service in system.services[name]:
            service.killed = True
            service.kill()
    for name in ("gateway", "planner", "coordinator"):
        system.start_service(name)
    time.sleep(1)
    # Decided while the new coordinator may still be starting: the decision waits in the inbox stream.
    deadline = time.time() + 30
    while True:
        try:
            response = system.http.post(f"/v1/tasks/{task_id}/plan/approve", json={})
            break
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    assert response.status_code == 200, response.text
    for _ in range(2):
        system.start_service("worker-echo")
    record = system.wait(task_id, timeout=60)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", record


def test_the_cli_submits_for_review_shows_the_plan_and_approves_an_edit(system, tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    cli = [str(Path(sys.executable).parent / "workforce"), "--url", f"http://127.0.0.1:{system.http_port}",
           "--api-key", API_KEY]
    submit = subprocess.Popen(cli + ["submit", "--review", THREE], stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in submit.stdout:
            lines.append(line)
            if "workforce approve" in line:
                break
        task_id = lines[0].split()[1]
        assert any("[3] (echo after 1,2) combine" in ln for ln in lines), lines
        shown = subprocess.run(cli + ["plan", task_id, "--json"], capture_output=True, text=True, check=True)
        plan = json.loads(shown.stdout)
        plan["subtasks"] = [s for s in plan["subtasks"] if s["id"] != "2"]
        plan["subtasks"][1]["dependencies"] = ["1"]
        (tmp_path / "plan.json").write_text(json.dumps(plan))
        bad = subprocess.run(cli + ["reject", task_id, "--reason", ""], capture_output=True, text=True)
        assert bad.returncode != 0 and "needs a reason" in bad.stderr
        subprocess.run(cli + ["approve", task_id, "--plan", str(tmp_path / "plan.json")], check=True,
                       capture_output=True)
        rest = submit.stdout.read()
        assert submit.wait(30) == 0, rest
    finally:
        if submit.poll() is None:
            submit.kill()
    assert "approval.edited" in rest and "answer: done: find alpha" in rest and "find beta" not in rest.split(
        "answer:")[1]
