"""Tenancy on every surface: HTTP, Server-Sent Events, gRPC and /v1/chat/completions, with three tenants and an
admin. Another tenant's task is answered exactly like a task that does not exist."""

import json
import time

import grpc
import pytest

from tests.support.system import TERMINAL
from workforce.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc

pytestmark = pytest.mark.e2e

MISSING = "t0000000000000000000000000z"   # a well-formed id no task has
HOLD = {"role": "worker:echo", "contains": "hold the line",
        "reply": {"tool_calls": [{"name": "wait", "arguments": {"seconds": 60}}]}}


def wait_status(client, task_id: str, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        record = client.http.get(f"/v1/tasks/{task_id}").json()
        if record.get("status") in TERMINAL:
            return record
        time.sleep(0.1)
    raise TimeoutError(task_id)


def wait_running(client, task_id: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if client.http.get(f"/v1/tasks/{task_id}").json().get("status") == "TASK_STATUS_RUNNING":
            return
        time.sleep(0.1)
    raise TimeoutError(task_id)


def same_as_missing(response, task_id: str, missing_response) -> None:
    """Status, code and message (with the id swapped) equal those for a task that does not exist."""
    assert response.status_code == missing_response.status_code == 404, response.text
    mine, theirs = response.json(), missing_response.json()
    assert mine["error"]["code"] == theirs["error"]["code"] == "not_found"
    assert mine["error"]["message"].replace(task_id, MISSING) == theirs["error"]["message"]


def sse_events(client, task_id: str, **params) -> list[dict]:
    out = []
    with client.http.stream("GET", f"/v1/tasks/{task_id}/events", params=params, timeout=30) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data:"):
                out.append(json.loads(line[5:].strip()))
    return out


def test_http_and_sse_reads_are_scoped_to_the_owner(system, clients):
    alice, bob, carol, ops = clients["alice"], clients["bob"], clients["carol"], clients["ops"]
    a = alice.submit("What is alice's secret?", metadata={"project": "alpha"})
    b = bob.submit("What is bob's secret?")
    upload = carol.http.post("/v1/tasks/upload", data={"question": "Read carol's file"},
                             files=[("files", ("notes.txt", b"carol's notes", "text/plain"))])
    assert upload.status_code == 201, upload.text
    c = upload.json()["task_id"]
    for client, task_id in ((alice, a), (bob, b), (carol, c)):
        assert wait_status(client, task_id)["status"] == "TASK_STATUS_SUCCEEDED"

    # The owner reads everything.
    record = alice.http.get(f"/v1/tasks/{a}").json()
    assert record["owner"] == "alice" and record["metadata"] == {"project": "alpha"}
    assert alice.http.get(f"/v1/tasks/{a}/plan").json()["subtasks"]
    assert sse_events(alice, a)[-1]["type"] == "task.succeeded"

    # Everyone else (but the admin) gets what a missing task gets, on every per-task route.
    for other in (bob, carol):
        for path in ("", "/plan", "/events"):
            same_as_missing(other.http.get(f"/v1/tasks/{a}{path}"), a, other.http.get(f"/v1/tasks/{MISSING}{path}"))
        same_as_missing(other.http.post(f"/v1/tasks/{a}/cancel"), a, other.http.post(f"/v1/tasks/{MISSING}/cancel"))
    same_as_missing(alice.http.get(f"/v1/tasks/{c}"), c, alice.http.get(f"/v1/tasks/{MISSING}"))
    same_as_missing(alice.http.get(f"/v1/tasks/{b}/events", params={"from_seq": 1}), b,
                    alice.http.get(f"/v1/tasks/{MISSING}/events", params={"from_seq": 1}))

    # Listings: each tenant sees exactly their own; the admin sees all three.
    def listed(client, **params):
        response = client.http.get("/v1/tasks", params={"limit": 500, **params})
        assert response.status_code == 200, response.text
        return {t["task_id"] for t in response.json()["tasks"]}

    assert a in listed(alice) and not {b, c} & listed(alice)
    assert b in listed(bob) and not {a, c} & listed(bob)
    assert c in listed(carol) and not {a, b} & listed(carol)
    assert {a, b, c} <= listed(ops)
    assert all(t["owner"] == "bob" for t in bob.http.get("/v1/tasks").json()["tasks"])
    assert {a, b, c} <= listed(ops, status="succeeded") and not listed(bob, status="failed")

    # The admin reads anyone's task, plan and events.
    assert ops.http.get(f"/v1/tasks/{b}").json()["owner"] == "bob"
    assert ops.http.get(f"/v1/tasks/{c}/plan").status_code == 200
    assert sse_events(ops, a)[-1]["type"] == "task.succeeded"


def test_cancel_is_scoped_and_the_admin_may_cancel_anyones(system, clients):
    alice, bob, ops = clients["alice"], clients["bob"], clients["ops"]
    system.llm.script([HOLD])
    first = alice.submit("SUBTASKS:\n- hold the line @echo")
    second = alice.submit("SUBTASKS:\n- hold the line again @echo")
    wait_running(alice, first)
    same_as_missing(bob.http.post(f"/v1/tasks/{first}/cancel", json={"reason": "mine now"}), first,
                    bob.http.post(f"/v1/tasks/{MISSING}/cancel", json={"reason": "mine now"}))
    stub = gateway_pb2_grpc.WorkforceStub(bob.grpc_channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.CancelTask(gateway_pb2.CancelTaskRequest(task_id=first), metadata=bob.metadata)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert alice.http.get(f"/v1/tasks/{first}").json()["status"] not in TERMINAL   # bob changed nothing

    cancelled = ops.http.post(f"/v1/tasks/{first}/cancel", json={"reason": "operator stop"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["failure_reason"] == "operator stop (by ops)"
    assert alice.http.post(f"/v1/tasks/{second}/cancel").status_code == 200
    assert wait_status(alice, first)["status"] == "TASK_STATUS_CANCELLED"


def test_grpc_methods_are_scoped_to_the_owner(system, clients):
    alice, bob, carol, ops = clients["alice"], clients["bob"], clients["carol"], clients["ops"]
    stubs = {c.name: gateway_pb2_grpc.WorkforceStub(c.grpc_channel) for c in (alice, bob, carol, ops)}
    submitted = stubs["bob"].SubmitTask(gateway_pb2.SubmitTaskRequest(question="bob over gRPC"),
                                        metadata=bob.metadata)
    b = submitted.task_id
    assert submitted.task.owner == "bob"
    events = list(stubs["bob"].WatchTask(gateway_pb2.WatchTaskRequest(task_id=b), metadata=bob.metadata))
    assert events[-1].type == "task.succeeded"

    def code_of(call) -> grpc.StatusCode:
        with pytest.raises(grpc.RpcError) as info:
            call()
        return info.value.code(), info.value.details()

    for other in (alice, carol):
        stub, md = stubs[other.name], other.metadata
        calls = {
            "GetTask": lambda t: stub.GetTask(gateway_pb2.GetTaskRequest(task_id=t), metadata=md),
            "GetPlan": lambda t: stub.GetPlan(gateway_pb2.GetTaskRequest(task_id=t), metadata=md),
            "WatchTask": lambda t: list(stub.WatchTask(gateway_pb2.WatchTaskRequest(task_id=t), metadata=md)),
            "CancelTask": lambda t: stub.CancelTask(gateway_pb2.CancelTaskRequest(task_id=t), metadata=md),
        }
        for name, call in calls.items():
            code, details = code_of(lambda: call(b))
            missing_code, missing_details = code_of(lambda: call(MISSING))
            assert code == missing_code == grpc.StatusCode.NOT_FOUND, name
            assert details.replace(b, MISSING) == missing_details, name
        listed = stub.ListTasks(gateway_pb2.ListTasksRequest(limit=500), metadata=md).tasks
        assert b not in {t.task_id for t in listed} and all(t.owner == other.name for t in listed)

    assert stubs["bob"].GetTask(gateway_pb2.GetTaskRequest(task_id=b), metadata=bob.metadata).owner == "bob"
    assert stubs["ops"].GetPlan(gateway_pb2.GetTaskRequest(task_id=b), metadata=ops.metadata).subtasks
    everyone = stubs["ops"].ListTasks(gateway_pb2.ListTasksRequest(limit=500), metadata=ops.metadata).tasks
    assert b in {t.task_id for t in everyone} and len({t.owner for t in everyone}) >= 2
    mine = stubs["bob"].ListTasks(gateway_pb2.ListTasksRequest(limit=500, status=common_pb2.TASK_STATUS_SUCCEEDED),
                                  metadata=bob.metadata).tasks
    assert b in {t.task_id for t in mine}


def test_idempotency_keys_are_per_identity(system, clients):
    alice, bob = clients["alice"], clients["bob"]
    first = alice.http.post("/v1/tasks", json={"question": "once only", "idempotency_key": "shared-key"})
    again = alice.http.post("/v1/tasks", json={"question": "once only", "idempotency_key": "shared-key"})
    theirs = bob.http.post("/v1/tasks", json={"question": "once only", "idempotency_key": "shared-key"})
    assert (first.status_code, again.status_code, theirs.status_code) == (201, 200, 201)
    assert first.json()["task_id"] == again.json()["task_id"] != theirs.json()["task_id"]
    assert theirs.json()["task"]["owner"] == "bob"


def test_chat_completions_are_scoped_and_idempotent(system, clients):
    alice, bob = clients["alice"], clients["bob"]
    body = {"model": "workforce", "messages": [{"role": "user", "content": "Say hello to alice"}]}
    first = alice.http.post("/v1/chat/completions", json=body, headers={"Idempotency-Key": "retry-1"})
    assert first.status_code == 200, first.text
    task_id = first.json()["workforce"]["task_id"]
    # A client retry with the same key answers from the same task; another tenant's same key is their own.
    # (`"stream": null` is a plain answer, as OpenAI takes it; `created` is the task's, the same on a retry)
    retry = alice.http.post("/v1/chat/completions", json={**body, "stream": None},
                            headers={"Idempotency-Key": "retry-1"})
    assert retry.json()["workforce"]["task_id"] == task_id
    assert retry.json()["created"] == first.json()["created"]
    assert retry.json()["choices"][0]["message"]["content"] == first.json()["choices"][0]["message"]["content"]
    streamed = []
    with alice.http.stream("POST", "/v1/chat/completions", json={**body, "stream": True},
                           headers={"Idempotency-Key": "retry-1"}) as response:
        assert response.status_code == 200
        streamed = [line for line in response.iter_lines() if line.startswith("data:")]
    assert streamed[-1] == "data: [DONE]" and json.loads(streamed[0][5:])["id"] == f"chatcmpl-{task_id}"
    theirs = bob.http.post("/v1/chat/completions", json=body, headers={"Idempotency-Key": "retry-1"})
    assert theirs.json()["workforce"]["task_id"] != task_id
    assert bob.http.get(f"/v1/tasks/{task_id}").status_code == 404
    chat_tasks = [t for t in alice.http.get("/v1/tasks", params={"limit": 500}).json()["tasks"]
                  if t["question"] == "Say hello to alice"]
    assert len(chat_tasks) == 1


def test_the_openai_sdk_retries_with_an_idempotency_key(system, clients):
    from openai import OpenAI

    alice = clients["alice"]
    sdk = OpenAI(base_url=f"http://127.0.0.1:{system.http_port}/v1", api_key=alice.key, max_retries=2)
    ask = {"model": "workforce", "messages": [{"role": "user", "content": "SDK question for alice"}],
           "extra_headers": {"Idempotency-Key": "sdk-request-1"}}
    one = sdk.chat.completions.create(**ask)
    two = sdk.chat.completions.create(**ask)
    assert one.id == two.id and one.choices[0].message.content == two.choices[0].message.content
    bob_sdk = OpenAI(base_url=f"http://127.0.0.1:{system.http_port}/v1", api_key=clients["bob"].key)
    assert bob_sdk.chat.completions.create(**ask).id != one.id


def test_plan_review_trajectories_and_failures_are_scoped(system, clients):
    """The console's routes follow the same rule: another tenant's task is missing, the admin sees it."""
    alice, bob, ops = clients["alice"], clients["bob"], clients["ops"]
    system.llm.script([
        {"role": "worker:", "contains": "Your subtask:\nalice's flaky step", "times": 1,
         "reply": {"content": {"content": "alice's site was down", "failed": True}}},
        {"role": "planner", "contains": "FAILED_JSON", "times": 1,
         "reply": {"content": {"subtasks": [{"id": "1", "content": "alice's mirror @echo", "dependencies": []}]}}},
    ])
    failed_once = alice.submit("SUBTASKS:\n- alice's flaky step @echo")
    assert wait_status(alice, failed_once)["status"] == "TASK_STATUS_SUCCEEDED"

    # Trajectories: the owner's and the admin's to read, missing for everyone else.
    path = f"/v1/tasks/{failed_once}/subtasks/1/trajectory"
    assert alice.http.get(path).json()["events"] and ops.http.get(path).json()["events"]
    same_as_missing(bob.http.get(path), failed_once, bob.http.get(f"/v1/tasks/{MISSING}/subtasks/1/trajectory"))

    # Recent failures: each identity sees those of its own tasks; the admin sees all.
    def failed_tasks(client) -> set[str]:
        response = client.http.get("/v1/workers/failures", params={"limit": 200})
        assert response.status_code == 200, response.text
        return {f["task_id"] for f in response.json()["failures"]}

    assert failed_once in failed_tasks(alice) and failed_once in failed_tasks(ops)
    assert failed_once not in failed_tasks(bob)
    assert bob.http.get("/v1/me").json() == {"name": "bob", "admin": False, "auth": True}
    assert ops.http.get("/v1/me").json()["admin"] is True

    # A plan waiting for review: another tenant cannot find it (HTTP and gRPC); the admin sees it but may not
    # decide (only the owner or a WF_APPROVERS identity may); the owner decides.
    waiting = alice.submit("SUBTASKS:\n- alice's reviewed step @echo", review_plan=True)
    deadline = time.time() + 30
    while alice.http.get(f"/v1/tasks/{waiting}").json()["status"] != "TASK_STATUS_AWAITING_APPROVAL":
        assert time.time() < deadline, alice.http.get(f"/v1/tasks/{waiting}").json()
        time.sleep(0.1)
    for verb, body in (("approve", {}), ("reject", {"reason": "not yours"})):
        same_as_missing(bob.http.post(f"/v1/tasks/{waiting}/plan/{verb}", json=body), waiting,
                        bob.http.post(f"/v1/tasks/{MISSING}/plan/{verb}", json=body))
    stub = gateway_pb2_grpc.WorkforceStub(bob.grpc_channel)
    for call in (lambda t: stub.ApprovePlan(gateway_pb2.ApprovePlanRequest(task_id=t), metadata=bob.metadata),
                 lambda t: stub.RejectPlan(gateway_pb2.RejectPlanRequest(task_id=t, reason="no"),
                                           metadata=bob.metadata)):
        with pytest.raises(grpc.RpcError) as info:
            call(waiting)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert ops.http.get(f"/v1/tasks/{waiting}/plan").json()["proposals"]
    admin = ops.http.post(f"/v1/tasks/{waiting}/plan/approve", json={})
    assert admin.status_code == 403 and admin.json()["error"]["code"] == "permission_denied", admin.text
    assert alice.http.get(f"/v1/tasks/{waiting}").json()["status"] == "TASK_STATUS_AWAITING_APPROVAL"
    decided = alice.http.post(f"/v1/tasks/{waiting}/plan/approve", json={})
    assert decided.status_code == 200 and decided.json()["decided_by"] == "alice", decided.text
    assert wait_status(alice, waiting)["status"] == "TASK_STATUS_SUCCEEDED"
