"""Per-identity quotas: tasks in flight and submissions per minute answer 429 / RESOURCE_EXHAUSTED with
Retry-After, for that identity only, on every submitting surface."""

import time

import grpc
import pytest

from tests.gateway.conftest import stored_record
from tests.gateway.test_tenancy import HOLD, wait_running, wait_status
from workforce.v1 import gateway_pb2, gateway_pb2_grpc

pytestmark = pytest.mark.e2e


def test_tasks_in_flight_quota(system, clients):
    slow, alice = clients["slow"], clients["alice"]          # slow: 2 tasks in flight
    system.llm.script([HOLD])
    first = slow.submit("SUBTASKS:\n- hold the line 1 @echo")
    second = slow.submit("SUBTASKS:\n- hold the line 2 @echo", idempotency_key="slow-2")
    wait_running(slow, first)

    refused = slow.http.post("/v1/tasks", json={"question": "a third one"})
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "quota_exceeded" and int(refused.headers["Retry-After"]) >= 1
    upload = slow.http.post("/v1/tasks/upload", data={"question": "a third one"},
                            files=[("files", ("a.txt", b"a", "text/plain"))])
    assert upload.status_code == 429
    chat = slow.http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 429 and chat.headers["Retry-After"]
    stub = gateway_pb2_grpc.WorkforceStub(slow.grpc_channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.SubmitTask(gateway_pb2.SubmitTaskRequest(question="a third one"), metadata=slow.metadata)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert dict(info.value.trailing_metadata())["retry-after"] == "10"
    # Resubmitting with the idempotency key of an admitted task is not a new task: no quota needed.
    again = slow.http.post("/v1/tasks", json={"question": "SUBTASKS:\n- hold the line 2 @echo",
                                              "idempotency_key": "slow-2"})
    assert again.status_code == 200 and again.json()["task_id"] == second

    # Other identities are not affected.
    assert alice.http.post("/v1/tasks", json={"question": "alice is fine"}).status_code == 201

    # When one finishes (here: is cancelled), there is room again.
    assert slow.http.post(f"/v1/tasks/{first}/cancel").status_code == 200
    assert wait_status(slow, first)["status"] == "TASK_STATUS_CANCELLED"
    third = slow.http.post("/v1/tasks", json={"question": "SUBTASKS:\n- hold the line 3 @echo"})
    assert third.status_code == 201, third.text
    for task_id in (second, third.json()["task_id"]):
        slow.http.post(f"/v1/tasks/{task_id}/cancel")


def test_submissions_per_minute_quota(system, clients):
    burst, bob = clients["burst"], clients["bob"]             # burst: 3 submissions per minute
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)                     # keep the whole test in one minute
    accepted = [burst.submit(f"burst {i}", idempotency_key=f"burst-{i}") for i in range(3)]
    refused = burst.http.post("/v1/tasks", json={"question": "burst 4"})
    assert refused.status_code == 429, refused.text
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 120
    stub = gateway_pb2_grpc.WorkforceStub(burst.grpc_channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.SubmitTask(gateway_pb2.SubmitTaskRequest(question="burst 5"), metadata=burst.metadata)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert 1 <= int(dict(info.value.trailing_metadata())["retry-after"]) <= 120
    # Resubmitting with the idempotency key of an accepted task is not a new submission.
    again = burst.http.post("/v1/tasks", json={"question": "burst 0", "idempotency_key": "burst-0"})
    assert again.status_code == 200 and again.json()["task_id"] == accepted[0]
    assert bob.http.post("/v1/tasks", json={"question": "bob is fine"}).status_code == 201
    # Refused submissions wrote nothing.
    listed = [t["question"] for t in burst.http.get("/v1/tasks").json()["tasks"]]
    assert "burst 4" not in listed and "burst 5" not in listed and len(listed) == 3


def test_a_finished_task_gives_back_its_reservation(system, clients):
    """A task counted against an in-flight quota says so on its stored record, and its reservation is gone once it
    ends by itself (the coordinator releases it); a task of an identity without that quota holds none."""
    import asyncio

    import nats

    slow, fuzz = clients["slow"], clients["fuzz"]
    system.llm.script([])
    task_id = slow.submit("SUBTASKS:\n- quick one @echo")
    record = wait_status(slow, task_id)
    assert record["status"] == "TASK_STATUS_SUCCEEDED" and stored_record(system, task_id).quota_reserved, record
    assert "quota_reserved" not in record   # the gateway's bookkeeping: not in the public record
    free = fuzz.submit("SUBTASKS:\n- quick free @echo")
    wait_status(fuzz, free)
    assert not stored_record(system, free).quota_reserved

    async def reservations() -> dict:
        nc = await nats.connect(system.nats.url)
        try:
            info = await nc.jetstream().stream_info("KV_wf-quota-inflight",
                                                    subjects_filter=f"$KV.wf-quota-inflight.*.{task_id}")
            return info.state.subjects or {}
        finally:
            await nc.close()

    deadline = time.time() + 10
    while asyncio.run(reservations()):
        assert time.time() < deadline, "the finished task still holds its reservation"
        time.sleep(0.2)
